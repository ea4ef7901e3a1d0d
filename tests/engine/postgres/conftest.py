"""Fixtures of the engine's tests on PostgreSQL: the pair of databases a module migrates between.

A module that runs on every server under test overrides ``database_url`` with a fixture that
returns ``every_server`` (tests/conftest.py); ``pair`` then follows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.engine import Pair, open_pair


@pytest.fixture(scope="module")
async def pair(database_url: str) -> AsyncIterator[Pair]:
    """Two databases for the module (and the role the cases grant to)."""
    async with open_pair(database_url) as opened:
        yield opened
