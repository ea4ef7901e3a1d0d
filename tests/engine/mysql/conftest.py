"""Fixtures of the engine's tests on MySQL/MariaDB: the pair of databases a module migrates
between, on the server of ``SCHEMASHIFT_MARIADB_URL`` (skipped without it, outside CI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.mysql_engine import MyPair, open_pair, server_url


@pytest.fixture(scope="module")
async def my_pair() -> AsyncIterator[MyPair]:
    """Two databases for the module."""
    async with open_pair(server_url()) as opened:
        yield opened
