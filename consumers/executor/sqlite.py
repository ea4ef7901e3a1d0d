"""The executor's SQLite adapter: file lock, history table, SQLite's result codes.

Migrations of one database file take turns on a lock of this process keyed by the file's
resolved path, and every transaction begins with ``BEGIN IMMEDIATE``, which takes SQLite's
write lock at once (another process's writer makes it wait up to the lock timeout, then fail
with ``SQLITE_BUSY``, which is transient). DDL is transactional, so the statements and the
history row that counts them commit together.

Foreign key enforcement is turned off on the connection before each transaction (``PRAGMA
foreign_keys`` does nothing inside one) and set back as it was when the lock is released: a
table rebuild must not cascade the drop of the old table, and a resumed migration must not
depend on the scripts' own ``PRAGMA foreign_keys = OFF`` having run on this connection. The
scripts check every foreign key before they commit; when a row violates one, the failure names
the table and the row (:class:`ForeignKeyViolation`). A row that the copy of a table rebuild
cannot take (a new CHECK, NOT NULL or UNIQUE it breaks) is named too (:class:`RowDoesNotFit`).

The history is the table ``_schemashift_history`` of the file's main database (SQLite has no
schemas); introspection leaves it out. SQLite has no SQLSTATE: the name of its extended result
code (``SQLITE_BUSY``, ``SQLITE_CONSTRAINT_CHECK``) stands in for it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from schemashift.consumers.common.drivers import IntrospectionError, Unreachable
from schemashift.consumers.executor.adapters import DatabaseError, ExecutorAdapter, HistoryRecord
from schemashift.consumers.generator.render.sqlite import FK_CHECK_TABLE, PRAGMA_KIND
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Statement
from schemashift.schemas.reserved import SQLITE_HISTORY_TABLE, SQLITE_REBUILD_PREFIX

HISTORY = f'"{SQLITE_HISTORY_TABLE}"'
HISTORY_DDL = f"""
CREATE TABLE IF NOT EXISTS {HISTORY} (
    migration_id TEXT PRIMARY KEY,
    checksum TEXT NOT NULL,
    statements INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    applied_at TEXT
)
"""
_READ = f"SELECT checksum, statements, completed FROM {HISTORY} WHERE migration_id = ?"
# Written in the same transaction as the statements it counts (see the PostgreSQL adapter).
_RECORD = f"""
INSERT INTO {HISTORY} (migration_id, checksum, statements, completed, applied_at)
VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = ?3 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END)
ON CONFLICT (migration_id) DO UPDATE
SET completed = excluded.completed, applied_at = excluded.applied_at
"""

# Another connection holds a lock the statement needs: a later attempt may not meet it.
TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED")
# What a failure to open the target counts as (connection_failure).
_CANTOPEN = "SQLITE_CANTOPEN"

_LOCKS: dict[str, asyncio.Lock] = {}


class ForeignKeyViolation(Exception):
    """The script's foreign key check found rows that violate a foreign key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RowDoesNotFit(Exception):
    """The copy of a rebuilt table failed on a constraint: ``message`` names the first row
    that breaks it; ``code`` is SQLite's result code of the failure."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class SQLiteExecutor(ExecutorAdapter):
    """Runs scripts on SQLite database files over aiosqlite connections."""

    dialect = Dialect.SQLITE
    transactional_ddl = True

    def __init__(self) -> None:
        self._held: dict[int, asyncio.Lock] = {}
        self._foreign_keys: dict[int, int] = {}
        self._timeouts: dict[int, float | None] = {}

    async def configure(
        self, conn: Any, *, lock_timeout_ms: int, statement_timeout_ms: int
    ) -> None:
        # SQLite has no statement timeout; the busy timeout is how long a statement waits for
        # another connection's lock (0 would fail at once: wait the default of the driver).
        if lock_timeout_ms > 0:
            await conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout_ms)}")
        self._timeouts[id(conn)] = lock_timeout_ms / 1000 if lock_timeout_ms > 0 else None

    async def _path(self, conn: Any) -> str:
        rows = await conn.execute_fetchall("PRAGMA database_list")
        main = next(row[2] for row in rows if row[1] == "main")
        return os.path.realpath(main)  # noqa: ASYNC240 - a local path, no I/O to speak of

    async def acquire_lock(self, conn: Any) -> None:
        lock = _LOCKS.setdefault(await self._path(conn), asyncio.Lock())
        state = await conn.execute_fetchall("PRAGMA foreign_keys")
        timeout = self._timeouts.pop(id(conn), None)
        try:
            await asyncio.wait_for(lock.acquire(), timeout)
        except TimeoutError:
            busy = sqlite3.OperationalError(
                "another migration of this database file holds its lock"
            )
            busy.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
            raise busy from None
        self._held[id(conn)] = lock
        self._foreign_keys[id(conn)] = int(next(iter(state))[0])

    async def release_lock(self, conn: Any) -> None:
        lock = self._held.pop(id(conn), None)
        enforced = self._foreign_keys.pop(id(conn), None)
        try:
            if enforced is not None and not conn.in_transaction:
                await conn.execute(f"PRAGMA foreign_keys = {enforced}")
        except (ValueError, sqlite3.Error):
            pass  # the connection is closed: nothing to set back
        finally:
            if lock is not None:
                lock.release()

    async def ensure_history(self, conn: Any) -> None:
        await conn.execute(HISTORY_DDL)

    async def read_history(self, conn: Any, migration_id: uuid.UUID) -> HistoryRecord | None:
        rows = list(await conn.execute_fetchall(_READ, (str(migration_id),)))
        if not rows:
            return None
        checksum, statements, completed = rows[0]
        return HistoryRecord(checksum, statements, completed)

    async def write_history(
        self, conn: Any, migration_id: uuid.UUID, checksum: str, statements: int, completed: int
    ) -> None:
        await conn.execute(_RECORD, (str(migration_id), checksum, statements, completed))

    def transaction(self, conn: Any) -> AbstractAsyncContextManager[object]:
        return self._transaction(conn)

    @asynccontextmanager
    async def _transaction(self, conn: Any) -> AsyncIterator[object]:
        await conn.execute("PRAGMA foreign_keys = OFF")
        await conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    async def execute(self, conn: Any, sql: str) -> None:
        try:
            await conn.execute(sql)
        except sqlite3.IntegrityError as exc:
            # Still inside the transaction: say which rows, before it is rolled back.
            if FK_CHECK_TABLE in sql:
                raise ForeignKeyViolation(await _violations(conn)) from exc
            copied = _COPY.fullmatch(sql.strip().rstrip(";"))
            row = await _first_misfit(conn, copied.group(0), copied["table"]) if copied else None
            if row is None:
                raise
            message = f"{exc} (row with rowid {row} of {copied['table']} does not fit)"  # type: ignore[index]
            raise RowDoesNotFit(message, _code(exc)) from exc

    def changes_target(self, statement: Statement) -> bool:
        # The statements outside the transaction set foreign key enforcement, a setting of
        # the connection: the file is as it was.
        return statement.kind != PRAGMA_KIND

    def resume_from(self, recorded: HistoryRecord) -> int:
        # The row commits with the statements it counts; the only statements outside a
        # transaction set foreign key enforcement, which every transaction sets again.
        return recorded.completed

    def database_error(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, ForeignKeyViolation):
            return DatabaseError(sqlstate="SQLITE_CONSTRAINT_FOREIGNKEY", message=exc.message)
        if isinstance(exc, RowDoesNotFit):
            return DatabaseError(sqlstate=exc.code, message=exc.message)
        if not isinstance(exc, sqlite3.Error):
            return None
        message = str(exc).strip() or type(exc).__name__
        return DatabaseError(sqlstate=_code(exc), message=message)

    def connection_error(self, exc: BaseException) -> DatabaseError | None:
        if isinstance(exc, sqlite3.Error):
            return DatabaseError(sqlstate=_code(exc), message=str(exc))
        if isinstance(exc, IntrospectionError):
            sqlstate = _CANTOPEN if isinstance(exc, Unreachable) else None
            return DatabaseError(sqlstate=sqlstate, message=str(exc))
        if isinstance(exc, OSError):
            return DatabaseError(sqlstate=_CANTOPEN, message=str(exc))
        return None

    def is_transient(self, sqlstate: str | None) -> bool:
        return bool(sqlstate) and str(sqlstate).startswith(TRANSIENT)


def _code(exc: sqlite3.Error) -> str | None:
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return str(name)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return "SQLITE_BUSY"
    return None


# The row copy of a table rebuild (render/sqlite/tables.py): INSERT INTO the new table SELECT
# from the old one, which the statement ends with.
_COPY = re.compile(
    rf'INSERT INTO "?{re.escape(SQLITE_REBUILD_PREFIX)}.*\nSELECT .* '
    r'FROM (?P<table>"(?:[^"]|"")*"|[^\s"]+)',
    re.DOTALL,
)


async def _first_misfit(conn: Any, copy: str, table: str) -> int | None:
    """The rowid of the first row of ``table`` that ``copy`` fails on (a bisection over rowid
    ranges, each tried in a savepoint that is rolled back); None for a WITHOUT ROWID table."""
    try:
        ((low, high),) = await conn.execute_fetchall(f"SELECT min(rowid), max(rowid) FROM {table}")
    except sqlite3.OperationalError:
        return None  # no rowid
    first = low

    async def fails(upto: int) -> bool:
        await conn.execute("SAVEPOINT schemashift_probe")
        try:
            await conn.execute(f"{copy} WHERE rowid BETWEEN ? AND ?", (first, upto))
            return False
        except sqlite3.IntegrityError:
            return True
        finally:
            await conn.execute("ROLLBACK TO schemashift_probe")
            await conn.execute("RELEASE schemashift_probe")

    if low is None or not await fails(high):
        return None
    while low < high:  # the smallest ``upto`` whose rows fail: its row is the first misfit
        middle = (low + high) // 2
        if await fails(middle):
            high = middle
        else:
            low = middle + 1
    return int(low)


async def _violations(conn: Any, limit: int = 3) -> str:
    rows = list(
        await conn.execute_fetchall(
            'SELECT "table", rowid, parent, fkid FROM pragma_foreign_key_check LIMIT ?',
            (limit + 1,),
        )
    )
    shown = [
        f"row {rowid} of {table} references a missing row of {parent}"
        for table, rowid, parent, _ in rows[:limit]
    ]
    more = " (and more)" if len(rows) > limit else ""
    return "FOREIGN KEY constraint failed: " + "; ".join(shown) + more


ADAPTER = SQLiteExecutor()
