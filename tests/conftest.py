"""Shared fixtures: where the real infrastructure is, and throwaway databases on it.

The integration tests need the Kafka broker and PostgreSQL server that `schemashift infra up`
starts. Their addresses come from the environment or from the `.schemashift/env` file that
`infra up` writes; without either, integration tests fail loudly rather than skip.

The engine's tests also run on the servers of other PostgreSQL major versions that
`infra up --postgres-versions` starts (``SCHEMASHIFT_DATABASE_URL_PG<M>``): a module opts in
by overriding ``database_url`` with :func:`every_server`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from schemashift.infra import envfile, pgversions

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE = REPO_ROOT / ".schemashift" / "env"


def _infra_env() -> dict[str, str]:
    values = envfile.read(ENV_FILE)
    values.update({k: v for k, v in os.environ.items() if k.startswith("SCHEMASHIFT_") and v})
    return values


def server_names() -> list[str]:
    """``main`` (the server of ``SCHEMASHIFT_DATABASE_URL``), then ``pg<M>`` for each server of
    another major version, in version order."""
    env = _infra_env()
    majors = sorted(
        major
        for key, url in env.items()
        if (major := pgversions.major_of_url_env(key)) is not None
        and url != env.get("SCHEMASHIFT_DATABASE_URL")  # the main server's own version
    )
    return ["main", *(f"pg{m}" for m in majors)]


def server_url(name: str) -> str:
    """The superuser URL of the server ``name`` (see :func:`server_names`)."""
    if name == "main":
        return _require("SCHEMASHIFT_DATABASE_URL")
    return _require(pgversions.url_env(int(name.removeprefix("pg"))))


@pytest.fixture(scope="module", params=server_names())
def every_server(request: pytest.FixtureRequest) -> str:
    """The URL of each server in turn: a module runs on all of them with
    ``database_url = every_server`` (see the module docstring)."""
    return server_url(request.param)


def _require(key: str) -> str:
    value = _infra_env().get(key)
    if not value:
        pytest.fail(f"{key} is not set and {ENV_FILE} has no value: run `schemashift infra up`")
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the real Kafka broker."""
    return _require("SCHEMASHIFT_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the metadata PostgreSQL database (a superuser may create databases there)."""
    return _require("SCHEMASHIFT_DATABASE_URL")


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


NewDatabase = Callable[..., Awaitable[str]]


@pytest.fixture
async def new_database(database_url: str) -> AsyncIterator[NewDatabase]:
    """Factory for fresh databases on the real server, dropped after the test.

    ``url = await new_database(sql)`` creates an empty database, runs ``sql`` in it (if given)
    and returns its URL.
    """
    created: list[str] = []

    async def factory(sql: str | None = None, *, prefix: str = "ss_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        created.append(name)
        url = with_database(database_url, name)
        if sql:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()
        return url

    yield factory

    admin = await asyncpg.connect(database_url)
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
