"""The metadata engine on a real PostgreSQL: reads outside a transaction, and a connection
the server dropped while it sat idle is replaced before use instead of failing a request."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from schemashift.consumers.common import db
from schemashift.consumers.common.db import autocommit, create_engine

pytestmark = pytest.mark.integration


async def test_reads_run_each_statement_on_its_own(database_url):
    engine = create_engine(database_url, pool_size=1)
    try:
        async with autocommit(engine) as conn:
            # In a transaction, now() is its start and the same for both statements.
            first = (await conn.execute(text("SELECT now()"))).scalar_one()
            second = (await conn.execute(text("SELECT now()"))).scalar_one()
            assert second > first
        async with engine.begin() as conn:  # writers still get a transaction
            first = (await conn.execute(text("SELECT now()"))).scalar_one()
            second = (await conn.execute(text("SELECT now()"))).scalar_one()
            assert second == first
    finally:
        await engine.dispose()


async def _backend_of(engine) -> int:
    async with autocommit(engine) as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def _terminate(database_url: str, pid: int) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        # The backend is gone once it no longer shows in pg_stat_activity.
        query = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
        for _ in range(100):
            if not await admin.fetchval(query, pid):
                break
            await asyncio.sleep(0.01)
    finally:
        await admin.close()


async def test_a_connection_dropped_while_idle_is_replaced(database_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    engine = create_engine(database_url, pool_size=1)
    try:
        dropped = await _backend_of(engine)
        await _terminate(database_url, dropped)
        assert await _backend_of(engine) != dropped
    finally:
        await engine.dispose()


async def test_without_the_ping_a_dropped_connection_fails_its_next_use(database_url):
    """The check above is what saves the request: a connection used just before is trusted."""
    engine = create_engine(database_url, pool_size=1, pre_ping=False)
    try:
        dropped = await _backend_of(engine)
        await _terminate(database_url, dropped)
        with pytest.raises(Exception, match=r"connection|closed|terminat"):
            await _backend_of(engine)
        assert await _backend_of(engine) != dropped  # and the pool renews itself after it
    finally:
        await engine.dispose()
