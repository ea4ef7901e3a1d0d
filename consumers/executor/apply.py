"""Running a generated script on a PostgreSQL target: all or nothing, at most once.

A session advisory lock in the target keeps migrations of one database one at a time. Under
it, the history table says whether this migration already ran (then nothing runs again), the
target's fingerprint must still be the one the plan was made from, and the statements run in
one transaction together with the history row, so that a failure anywhere rolls all of it back.

A statement that PostgreSQL refuses to run usefully inside a transaction block (``transactional
= False``, e.g. ``ALTER TYPE ... ADD VALUE`` whose value a later statement uses) runs on its
own, committed, between the transactional segments around it; such statements are additive,
and the failure report says how far the migration got.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import asyncpg

from schemashift.consumers.common.redact import redact_text
from schemashift.schemas.operations import Statement
from schemashift.schemas.reserved import HISTORY_SCHEMA

# One lock for the whole target database: it is the target that must see one migration at a time.
_LOCK_KEY = 0x5C4E_3A5F

_HISTORY_DDL = f"""
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
# Written in the same transaction as the statements it counts: the history never claims more
# than the target holds, and a resumed migration starts after the last committed statement.
_RECORD = f"""
INSERT INTO {HISTORY_SCHEMA}.history AS h
    (migration_id, checksum, statements, completed, applied_at)
VALUES ($1, $2, $3::integer, $4::integer, CASE WHEN $4::integer = $3::integer THEN now() END)
ON CONFLICT (migration_id) DO UPDATE
SET completed = excluded.completed, applied_at = excluded.applied_at
"""

Progress = Callable[[int, int, str, float], Awaitable[None]]
Fingerprint = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class Applied:
    statements_applied: int
    duration_ms: float
    already_applied: bool = False


# Errors that a later attempt may not meet: lock or serialization conflicts, a server that is
# starting or shutting down, lost connections, too many connections.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"}


@dataclass(frozen=True)
class Failed:
    reason: str
    statement: str | None = None
    statement_index: int | None = None
    database_error: str | None = None
    sqlstate: str | None = None

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed."""
        if not self.sqlstate:
            return False
        return self.sqlstate in _TRANSIENT_SQLSTATES or self.sqlstate.startswith("08")


def segments(statements: list[Statement]) -> Iterator[tuple[bool, list[tuple[int, Statement]]]]:
    """(transactional, [(index, statement), ...]): runs of transactional statements, and each
    non-transactional statement alone."""
    run: list[tuple[int, Statement]] = []
    for index, statement in enumerate(statements):
        if statement.transactional:
            run.append((index, statement))
            continue
        if run:
            yield True, run
            run = []
        yield False, [(index, statement)]
    yield True, run  # the last transaction also writes the history row, even if empty


async def apply_script(
    conn: asyncpg.Connection,
    migration_id: uuid.UUID,
    statements: list[Statement],
    checksum: str,
    *,
    expected_fingerprint: str | None,
    fingerprint: Fingerprint,
    on_progress: Progress,
    lock_timeout_ms: int = 10_000,
    statement_timeout_ms: int = 0,
) -> Applied | Failed:
    """Apply ``statements`` to the target behind ``conn``.

    Returns :class:`Applied` (also when the history shows the migration was applied before)
    or :class:`Failed`, with the target unchanged unless a non-transactional statement had
    already been committed (the reason then says so).
    """
    started = time.perf_counter()
    total = len(statements)
    current: tuple[int, Statement] | None = None
    committed = 0
    await conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
    await conn.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_HISTORY_DDL)
        recorded = await conn.fetchrow(
            f"SELECT checksum, statements, completed FROM {HISTORY_SCHEMA}.history "
            "WHERE migration_id = $1",
            migration_id,
        )
        if recorded is not None and recorded["completed"] == recorded["statements"]:
            return Applied(recorded["statements"], _ms(started), already_applied=True)
        if recorded is not None:
            if recorded["checksum"] != checksum:
                return Failed(reason="a different script of this migration was partly applied")
            # Resuming after a crash between statements that could not share a transaction.
            committed = recorded["completed"]
        elif expected_fingerprint is not None and await fingerprint() != expected_fingerprint:
            # Checked under the lock: no other migration of this target can commit meanwhile.
            return Failed(reason="target changed since the plan: compare again")
        for transactional, run in segments(statements):
            run = [item for item in run if item[0] >= committed]
            if not transactional:
                if not run:
                    continue
                current = run[0]
                await _execute(conn, current, total, on_progress)
            async with conn.transaction():
                if transactional:
                    for current in run:
                        await _execute(conn, current, total, on_progress)
                done = run[-1][0] + 1 if run else committed
                await conn.execute(_RECORD, migration_id, checksum, total, done)
            committed = done
    except asyncpg.PostgresError as exc:
        return _failure(exc, current, committed)
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return Applied(total, _ms(started))


async def _execute(
    conn: asyncpg.Connection, item: tuple[int, Statement], total: int, on_progress: Progress
) -> None:
    index, statement = item
    step = time.perf_counter()
    await conn.execute(statement.sql)
    await on_progress(index, total, statement.sql, _ms(step))


def _failure(
    exc: asyncpg.PostgresError, current: tuple[int, Statement] | None, committed: int
) -> Failed:
    error = redact_text(_describe(exc))
    sqlstate = getattr(exc, "sqlstate", None)
    if current is None:
        return Failed(
            reason=f"the target refused the migration: {error}",
            database_error=error,
            sqlstate=sqlstate,
        )
    index, statement = current
    reason = f"statement {index + 1} failed: {error}"
    if committed:
        reason += f"; statements 1-{committed} were committed before it and stay applied"
    return Failed(
        reason=reason,
        statement=statement.sql,
        statement_index=index,
        database_error=error,
        sqlstate=sqlstate,
    )


def _describe(exc: asyncpg.PostgresError) -> str:
    sqlstate = getattr(exc, "sqlstate", None)
    message = str(exc).strip() or type(exc).__name__
    return f"{message} (SQLSTATE {sqlstate})" if sqlstate else message


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
