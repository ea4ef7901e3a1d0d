"""Fixtures of the metadata-database tests: a fresh database migrated to head, and an engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.db import create_engine
from schemashift.infra.migrate import upgrade_async


@pytest.fixture
async def metadata_url(new_database) -> str:
    """The URL of a new metadata database, migrated the way every role does at start-up."""
    url = await new_database(prefix="ss_meta")
    await upgrade_async(url)
    return url


@pytest.fixture
async def engine(metadata_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the database of :func:`metadata_url`, with room for statements at once."""
    engine = create_engine(metadata_url, pool_size=4)
    try:
        yield engine
    finally:
        await engine.dispose()
