"""The executor's PostgreSQL adapter: advisory lock, history table, SQLSTATEs.

A session advisory lock in the target keeps migrations of one database one at a time. The
history table lives in the target's ``_schemashift`` schema. DDL is transactional, so the
statements and the history row that counts them commit together.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg

from schemashift.consumers.common.drivers import IntrospectionError, Unreachable
from schemashift.consumers.executor.adapters import DatabaseError, ExecutorAdapter, HistoryRecord
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.reserved import HISTORY_SCHEMA

# One lock for the whole target database: it is the target that must see one migration at a time.
LOCK_KEY = 0x5C4E_3A5F

HISTORY_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA};
CREATE TABLE IF NOT EXISTS {HISTORY_SCHEMA}.history (
    migration_id uuid PRIMARY KEY,
    checksum text NOT NULL,
    statements integer NOT NULL,
    completed integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    applied_at timestamptz
);
"""
_READ = (
    f"SELECT checksum, statements, completed FROM {HISTORY_SCHEMA}.history WHERE migration_id = $1"
)
# Written in the same transaction as the statements it counts: the history never claims more
# than the target holds, and a resumed migration starts after the last committed statement.
_RECORD = f"""
INSERT INTO {HISTORY_SCHEMA}.history AS h
    (migration_id, checksum, statements, completed, applied_at)
VALUES ($1, $2, $3::integer, $4::integer, CASE WHEN $4::integer = $3::integer THEN now() END)
ON CONFLICT (migration_id) DO UPDATE
SET completed = excluded.completed, applied_at = excluded.applied_at
"""

# Errors that a later attempt may not meet: lock or serialization conflicts, a server that is
# starting or shutting down, lost connections (class 08), too many connections.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"})
# What a failure to reach the target counts as: connection_failure.
_CONNECTION_FAILURE = "08006"


class PostgresExecutor(ExecutorAdapter):
    """Runs scripts on PostgreSQL targets over asyncpg connections."""

    dialect = Dialect.POSTGRESQL
    transactional_ddl = True

    async def configure(
        self, conn: Any, *, lock_timeout_ms: int, statement_timeout_ms: int
    ) -> None:
        # Without arguments, one simple-protocol round trip runs both.
        await conn.execute(
            f"SET lock_timeout = {int(lock_timeout_ms)}; "
            f"SET statement_timeout = {int(statement_timeout_ms)}"
        )

    async def acquire_lock(self, conn: Any) -> None:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)

    async def release_lock(self, conn: Any) -> None:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)

    async def ensure_history(self, conn: Any) -> None:
        await conn.execute(HISTORY_DDL)

    async def read_history(self, conn: Any, migration_id: uuid.UUID) -> HistoryRecord | None:
        row = await conn.fetchrow(_READ, migration_id)
        if row is None:
            return None
        return HistoryRecord(row["checksum"], row["statements"], row["completed"])

    async def open_history(self, conn: Any, migration_id: uuid.UUID) -> HistoryRecord | None:
        # The table exists but on a target's first migration: read first, create if missing
        # (under the migration lock, outside any transaction).
        try:
            return await self.read_history(conn, migration_id)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            await self.ensure_history(conn)
            return None

    async def write_history(
        self, conn: Any, migration_id: uuid.UUID, checksum: str, statements: int, completed: int
    ) -> None:
        await conn.execute(_RECORD, migration_id, checksum, statements, completed)

    def transaction(self, conn: Any) -> AbstractAsyncContextManager[object]:
        transaction: AbstractAsyncContextManager[object] = conn.transaction()
        return transaction

    async def execute(self, conn: Any, sql: str) -> None:
        await conn.execute(sql)

    def resume_from(self, recorded: HistoryRecord) -> int:
        # The row commits with the statements it counts: ``completed`` are all in the target.
        return recorded.completed

    def database_error(self, exc: BaseException) -> DatabaseError | None:
        if not isinstance(exc, asyncpg.PostgresError):
            return None
        message = str(exc).strip() or type(exc).__name__
        return DatabaseError(sqlstate=getattr(exc, "sqlstate", None), message=message)

    def connection_error(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, asyncpg.PostgresError):
            return DatabaseError(sqlstate=exc.sqlstate, message=str(exc))
        if isinstance(exc, IntrospectionError):
            # Reading the fingerprint on a second connection failed.
            sqlstate = _CONNECTION_FAILURE if isinstance(exc, Unreachable) else None
            return DatabaseError(sqlstate=sqlstate, message=str(exc))
        if isinstance(exc, OSError | asyncpg.InterfaceError):
            return DatabaseError(sqlstate=_CONNECTION_FAILURE, message=str(exc))
        return None

    def is_transient(self, sqlstate: str | None) -> bool:
        if not sqlstate:
            return False
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith("08")


ADAPTER = PostgresExecutor()
