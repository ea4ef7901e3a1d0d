"""Alembic environment of the metadata database (async, asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from schemashift.consumers.common import connections as _connections  # noqa: F401  (registers its table)
from schemashift.consumers.common.db import create_engine, metadata
from schemashift.consumers.common.settings import get_settings
from schemashift.consumers.comparator import queue as _queue  # noqa: F401  (registers its table)
from schemashift.consumers.executor import store as _executor_store  # noqa: F401  (registers its table)
from schemashift.consumers.tracker import store as _tracker_store  # noqa: F401  (registers its tables)
from schemashift.gateway import tokens as _tokens  # noqa: F401  (registers its table)

target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        # Every role migrates at start-up; the lock makes concurrent starts take turns.
        connection.execute(text("SELECT pg_advisory_xact_lock(7262017)"))
        context.run_migrations()


async def _migrate() -> None:
    url = context.config.attributes.get("url") or get_settings().database_url
    engine = create_engine(url, pool_size=1)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run against a live database")
asyncio.run(_migrate())
