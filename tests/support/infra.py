"""Where the real infrastructure is: the repository, its env file and the servers under test.

The integration tests need the Kafka broker and PostgreSQL server that `schemashift infra up`
starts. Their addresses come from the environment or from the `.schemashift/env` file that
`infra up` writes; without either, integration tests fail loudly rather than skip.

The engine's tests also run on the servers of other PostgreSQL major versions that
`infra up --postgres-versions` starts (``SCHEMASHIFT_DATABASE_URL_PG<M>``): a module opts in
by overriding ``database_url`` with the ``every_server`` fixture (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from schemashift.infra import envfile, pgversions

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".schemashift" / "env"

# The ``new_database`` fixture: ``url = await new_database(sql)``.
NewDatabase = Callable[..., Awaitable[str]]


def infra_env() -> dict[str, str]:
    """The env file's settings, overridden by the ``SCHEMASHIFT_*`` environment variables."""
    values = envfile.read(ENV_FILE)
    values.update({k: v for k, v in os.environ.items() if k.startswith("SCHEMASHIFT_") and v})
    return values


def require(key: str) -> str:
    """The setting ``key`` (see :func:`infra_env`); fails the test when it is not set."""
    value = infra_env().get(key)
    if not value:
        pytest.fail(f"{key} is not set and {ENV_FILE} has no value: run `schemashift infra up`")
    return value


def server_names() -> list[str]:
    """``main`` (the server of ``SCHEMASHIFT_DATABASE_URL``), then ``pg<M>`` for each server of
    another major version, in version order."""
    env = infra_env()
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
        return require("SCHEMASHIFT_DATABASE_URL")
    return require(pgversions.url_env(int(name.removeprefix("pg"))))


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"
