"""The executor's MySQL/MariaDB adapter: a named lock, a history table, error numbers.

``GET_LOCK('schemashift:<database>')`` keeps migrations of one target database one at a time
(the lock is the session's: the server releases it if the connection dies). The history lives
in the target database's ``_schemashift_history`` table (introspection leaves it out).

MySQL commits every DDL statement on its own, so DDL is not transactional here: each statement
runs alone and the history row, updated in a transaction after it, says how many are applied; a
migration that stopped resumes at the first statement the row does not count. A crash between
a statement and that update leaves that statement in doubt: run again, the server's "already
exists" / "unknown" answer says it was applied (:data:`EFFECT_PRESENT_CODES`). The
statements we generate either fail that way when repeated or are idempotent (MODIFY, CREATE OR
REPLACE, a drop and re-add of one name), and the server runs each one whole (atomic DDL): a
killed client's statement still completes, and its session holds the migration lock until then.

Errors carry the server's error number where other dialects have a SQLSTATE.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pymysql

from schemashift.consumers.common.drivers import IntrospectionError, Unreachable
from schemashift.consumers.common.drivers.mysql import (
    CANNOT_CONNECT,
    error_code,
    error_message,
)
from schemashift.consumers.executor.adapters import DatabaseError, ExecutorAdapter, HistoryRecord
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.reserved import MYSQL_HISTORY_TABLE

HISTORY = f"`{MYSQL_HISTORY_TABLE}`"
HISTORY_DDL = f"""
CREATE TABLE IF NOT EXISTS {HISTORY} (
    migration_id char(36) NOT NULL PRIMARY KEY,
    checksum varchar(128) NOT NULL,
    statements int NOT NULL,
    completed int NOT NULL,
    started_at timestamp(6) NOT NULL DEFAULT current_timestamp(6),
    applied_at timestamp(6) NULL DEFAULT NULL
) ENGINE=InnoDB
"""
_READ = f"SELECT checksum, statements, completed FROM {HISTORY} WHERE migration_id = %s"
_RECORD = f"""
INSERT INTO {HISTORY} (migration_id, checksum, statements, completed, applied_at)
VALUES (%s, %s, %s, %s, IF(%s = %s, current_timestamp(6), NULL))
ON DUPLICATE KEY UPDATE completed = VALUES(completed), applied_at = VALUES(applied_at)
"""

# Deadlock, lock wait timeout, server gone away, connection lost during a query, too many
# connections, the server shutting down; and the migration lock not taken in time.
TRANSIENT_CODES = frozenset({1213, 1205, 2006, 2013, 2055, 1040, 1053, 3024})
LOCK_NOT_TAKEN = 1205
# Repeating an applied statement: the table, view, column, key, constraint, routine, trigger or
# event it creates exists (1050, 1060, 1061, 1068, 1826, 1304, 1359, 1537), or the one it
# drops is gone (1051, 1091, 1305, 1360, 1539, 4091, 4092). Renames are not among them: the
# scripts rename nothing, and "unknown table/column" may mean something else removed it.
EFFECT_PRESENT_CODES = frozenset(
    {1050, 1060, 1061, 1068, 1826, 1304, 1359, 1537} | {1051, 1091, 1305, 1360, 1539, 4091, 4092}
)
# InnoDB reports a foreign key name already taken as "can't create table" (1005) with its own
# errno 121 in the message; other causes of 1005 are real failures.
_CANT_CREATE = 1005
_DUPLICATE_KEY_ON_WRITE = 'errno: 121 "Duplicate key'
# What a failure to reach the target counts as (CR_CONN_HOST_ERROR).
_CONNECTION_FAILURE = 2003


class LockNotTaken(Exception):
    """GET_LOCK gave up: another migration of the target held the lock for the whole wait."""


class MysqlExecutor(ExecutorAdapter):
    """Runs scripts on MySQL and MariaDB targets over aiomysql connections (in autocommit)."""

    dialect = Dialect.MYSQL
    transactional_ddl = False

    def __init__(self) -> None:
        self._lock_wait_s: dict[int, int] = {}

    async def _run(self, conn: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        async with conn.cursor() as cur:
            await cur.execute(sql, args or None)
            rows: list[tuple[Any, ...]] = list(await cur.fetchall()) if cur.description else []
            return rows

    async def configure(
        self, conn: Any, *, lock_timeout_ms: int, statement_timeout_ms: int
    ) -> None:
        # Seconds, at least one; 0 (no limit) is a year, the servers' own maximum.
        wait = max(1, -(-lock_timeout_ms // 1000)) if lock_timeout_ms else 31_536_000
        self._lock_wait_s[id(conn)] = wait
        await self._run(conn, f"SET SESSION lock_wait_timeout = {wait}")
        await self._run(conn, f"SET SESSION innodb_lock_wait_timeout = {min(wait, 1_073_741_824)}")
        (version,) = (await self._run(conn, "SELECT VERSION()"))[0]
        if "mariadb" in str(version).lower():
            await self._run(
                conn, f"SET SESSION max_statement_time = {statement_timeout_ms / 1000:.3f}"
            )
        else:  # MySQL limits SELECTs only; DDL is bounded by lock_wait_timeout.
            await self._run(conn, f"SET SESSION max_execution_time = {int(statement_timeout_ms)}")

    async def _lock_name(self, conn: Any) -> str:
        (database,) = (await self._run(conn, "SELECT DATABASE()"))[0]
        return f"schemashift:{database}"

    async def acquire_lock(self, conn: Any) -> None:
        wait = self._lock_wait_s.get(id(conn), 10)
        name = await self._lock_name(conn)
        (taken,) = (await self._run(conn, "SELECT GET_LOCK(%s, %s)", name, wait))[0]
        if taken != 1:
            raise LockNotTaken(f"another migration holds the lock {name!r} of the target")

    async def release_lock(self, conn: Any) -> None:
        self._lock_wait_s.pop(id(conn), None)
        if conn.closed:
            return
        # If the connection broke, the server released the lock with the session.
        with contextlib.suppress(pymysql.err.MySQLError):
            await self._run(conn, "SELECT RELEASE_LOCK(%s)", await self._lock_name(conn))

    async def ensure_history(self, conn: Any) -> None:
        found = await self._run(
            conn,
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s",
            MYSQL_HISTORY_TABLE,
        )
        if not found:  # (IF NOT EXISTS alone would warn on every migration)
            await self._run(conn, HISTORY_DDL)

    async def read_history(self, conn: Any, migration_id: uuid.UUID) -> HistoryRecord | None:
        rows = await self._run(conn, _READ, str(migration_id))
        if not rows:
            return None
        checksum, statements, completed = rows[0]
        return HistoryRecord(checksum, int(statements), int(completed))

    async def write_history(
        self, conn: Any, migration_id: uuid.UUID, checksum: str, statements: int, completed: int
    ) -> None:
        await self._run(
            conn, _RECORD, str(migration_id), checksum, statements, completed, completed, statements
        )

    def transaction(self, conn: Any) -> AbstractAsyncContextManager[object]:
        @asynccontextmanager
        async def transaction() -> AsyncIterator[object]:
            await conn.begin()
            try:
                yield conn
            except BaseException:
                if not conn.closed:
                    await conn.rollback()
                raise
            await conn.commit()

        return transaction()

    async def execute(self, conn: Any, sql: str) -> None:
        await self._run(conn, sql)

    def resume_from(self, recorded: HistoryRecord) -> int:
        # Each statement commits on its own and the row counts those that did.
        return recorded.completed

    def database_error(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, LockNotTaken):
            return DatabaseError(sqlstate=str(LOCK_NOT_TAKEN), message=str(exc))
        if not isinstance(exc, pymysql.err.MySQLError):
            return None
        code = error_code(exc)
        return DatabaseError(
            sqlstate=str(code) if code is not None else None, message=error_message(exc).strip()
        )

    def connection_error(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, LockNotTaken):  # raised before any statement: try again later
            return DatabaseError(sqlstate=str(LOCK_NOT_TAKEN), message=str(exc))
        if isinstance(exc, pymysql.err.MySQLError):
            code = error_code(exc)
            if code is None and isinstance(exc, pymysql.err.InterfaceError):
                code = _CONNECTION_FAILURE
            return DatabaseError(sqlstate=str(code) if code else None, message=error_message(exc))
        if isinstance(exc, IntrospectionError):
            sqlstate = str(_CONNECTION_FAILURE) if isinstance(exc, Unreachable) else None
            return DatabaseError(sqlstate=sqlstate, message=str(exc))
        if isinstance(exc, OSError):
            return DatabaseError(sqlstate=str(_CONNECTION_FAILURE), message=str(exc))
        return None

    def effect_present(self, error: DatabaseError) -> bool:
        if not error.sqlstate or not error.sqlstate.isdigit():
            return False
        code = int(error.sqlstate)
        if code == _CANT_CREATE:
            return _DUPLICATE_KEY_ON_WRITE in error.message
        return code in EFFECT_PRESENT_CODES

    def is_transient(self, sqlstate: str | None) -> bool:
        if not sqlstate or not sqlstate.isdigit():
            return False
        code = int(sqlstate)
        return code in TRANSIENT_CODES or code in CANNOT_CONNECT


ADAPTER = MysqlExecutor()
