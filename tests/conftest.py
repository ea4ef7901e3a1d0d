"""Fixtures every folder may use: the real infrastructure's addresses and throwaway databases.

Where the infrastructure is comes from tests/support/infra.py; a module that should run on
every PostgreSQL server under test overrides ``database_url`` with :func:`every_server`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.support.infra import NewDatabase, require, server_names, server_url, with_database


@pytest.fixture(scope="module", params=server_names())
def every_server(request: pytest.FixtureRequest) -> str:
    """The URL of each server in turn: a module runs on all of them with
    ``database_url = every_server`` (see the module docstring)."""
    return server_url(request.param)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """host:port of the real Kafka broker."""
    return require("SCHEMASHIFT_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session")
def database_url() -> str:
    """URL of the metadata PostgreSQL database (a superuser may create databases there)."""
    return require("SCHEMASHIFT_DATABASE_URL")


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
