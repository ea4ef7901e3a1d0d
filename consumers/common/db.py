"""The metadata database: one SQLAlchemy async engine per process, on asyncpg.

Statements that run on every message or request are module constants with bind parameters:
building a statement and hashing it for SQLAlchemy's compiled cache costs more than running it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# Every table of the metadata database, whichever role owns it; Alembic migrations
# (infra/alembic) create them, and tests/infra/test_metadata_migrations.py checks that
# the two agree.
metadata = MetaData()

# A connection back in the pool for less than this is not pinged before its next use: it was
# just seen working, and a busy process would otherwise pay a round trip per checkout.
PING_AFTER_IDLE_S = 5.0


def async_url(url: str) -> str:
    """``url`` with the asyncpg driver (``postgresql://`` → ``postgresql+asyncpg://``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 5, pre_ping: bool = True) -> AsyncEngine:
    """An async engine on the metadata database.

    With ``pre_ping``, a connection that sat idle in the pool for :data:`PING_AFTER_IDLE_S` or
    more is checked (one query) before use and replaced if the database dropped it, so that a
    request after a database restart does not fail.
    """
    engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=10)
    if pre_ping:
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_S:
            return  # new, or just in use
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out another (a new one if need be).
            raise exc.DisconnectionError(str(error)) from error


@contextlib.asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection on which each statement is a transaction of its own.

    For a read, or a write of one statement: it costs one round trip instead of three (BEGIN,
    the statement, then COMMIT or ROLLBACK). Several writes that must stand or fall together
    belong in ``engine.begin()``.
    """
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn
