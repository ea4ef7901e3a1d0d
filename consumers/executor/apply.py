"""Running a generated script on a target: all or nothing where the dialect allows, at most once.

A per-target lock keeps migrations of one database one at a time. Under it, the target's history
table says whether this migration already ran (then nothing runs again), the target's
fingerprint must still be the one the plan was made from, and the statements run in one
transaction together with the history row, so that a failure anywhere rolls all of it back.

A statement that cannot run usefully inside a transaction block (``transactional = False``,
e.g. PostgreSQL's ``ALTER TYPE ... ADD VALUE`` whose value a later statement uses), and every
statement of a dialect without transactional DDL, runs on its own, committed, between the
transactional segments around it; the history row is updated after it, and the failure report
says how far the migration got. An attempt that stopped between such a statement's commit and
that update leaves one statement in doubt: the next attempt runs it again, and counts it as
applied when the target answers that its effect is already there
(:meth:`~.adapters.ExecutorAdapter.effect_present`). Each statement is thus applied once.

What is dialect-specific (the lock, the history table's SQL, which errors are transient) is the
:class:`~.adapters.ExecutorAdapter`'s; this module knows no dialect.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from schemashift.consumers.common.drivers import Connection
from schemashift.consumers.common.redact import redact_text
from schemashift.consumers.executor.adapters import DatabaseError, ExecutorAdapter
from schemashift.schemas.operations import Statement

log = logging.getLogger("schemashift.executor")

Progress = Callable[[int, int, str, float], Awaitable[None]]
Fingerprint = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class Applied:
    statements_applied: int
    duration_ms: float
    already_applied: bool = False
    # The index of the first statement this attempt ran when an earlier one had stopped
    # midway (statements before it were applied by that attempt).
    resumed_from: int | None = None


@dataclass(frozen=True)
class Failed:
    reason: str
    statement: str | None = None
    statement_index: int | None = None
    database_error: str | None = None
    sqlstate: str | None = None
    # Whether trying again later may succeed (the adapter's verdict on ``sqlstate``).
    transient: bool = False


def segments(
    statements: list[Statement], *, transactional_ddl: bool = True
) -> Iterator[tuple[bool, list[tuple[int, Statement]]]]:
    """(transactional, [(index, statement), ...]): runs of transactional statements, and each
    non-transactional statement alone (every statement, without ``transactional_ddl``)."""
    run: list[tuple[int, Statement]] = []
    for index, statement in enumerate(statements):
        if statement.transactional and transactional_ddl:
            run.append((index, statement))
            continue
        if run:
            yield True, run
            run = []
        yield False, [(index, statement)]
    yield True, run  # the last transaction also writes the history row, even if empty


async def apply_script(
    adapter: ExecutorAdapter,
    conn: Connection,
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
    """Apply ``statements`` to the target behind ``conn`` (a connection of ``adapter``'s
    dialect).

    Returns :class:`Applied` (also when the history shows the migration was applied before)
    or :class:`Failed`, with the target unchanged unless a non-transactional statement had
    already been committed (the reason then says so). Errors other than the target refusing
    a statement (a lost connection, a failing ``fingerprint``) are raised.
    """
    started = time.perf_counter()
    total = len(statements)
    current: tuple[int, Statement] | None = None
    committed = 0
    resumed_from: int | None = None
    await adapter.configure(
        conn, lock_timeout_ms=lock_timeout_ms, statement_timeout_ms=statement_timeout_ms
    )
    await adapter.acquire_lock(conn)
    try:
        recorded = await adapter.open_history(conn, migration_id)
        if recorded is not None and recorded.completed == recorded.statements:
            return Applied(recorded.statements, _ms(started), already_applied=True)
        if recorded is not None:
            if recorded.checksum != checksum:
                return Failed(reason="a different script of this migration was partly applied")
            # Resuming after a crash between statements that could not share a transaction.
            committed = resumed_from = adapter.resume_from(recorded)
            log.info(
                "migration %s: resuming at statement %d of %d", migration_id, committed + 1, total
            )
        elif expected_fingerprint is not None and await fingerprint() != expected_fingerprint:
            # Checked under the lock: no other migration of this target can commit meanwhile.
            return Failed(reason="target changed since the plan: compare again")
        parts = list(segments(statements, transactional_ddl=adapter.transactional_ddl))
        if recorded is None and not parts[0][0]:
            # The first statement commits alone: the row must exist before it does, or an
            # attempt killed right after it would leave no trace of having started.
            async with adapter.transaction(conn):
                await adapter.write_history(conn, migration_id, checksum, total, 0)
        for transactional, run in parts:
            run = [item for item in run if item[0] >= committed]
            if not transactional:
                if not run:
                    continue
                current = run[0]
                in_doubt = current[0] == resumed_from
                await _execute(adapter, conn, current, total, on_progress, in_doubt=in_doubt)
            async with adapter.transaction(conn):
                if transactional:
                    for current in run:
                        await _execute(adapter, conn, current, total, on_progress)
                done = run[-1][0] + 1 if run else committed
                await adapter.write_history(conn, migration_id, checksum, total, done)
            committed = done
    except Exception as exc:
        error = adapter.database_error(exc)
        if error is None:
            raise
        changed = any(adapter.changes_target(s) for s in statements[:committed])
        return _failure(adapter, error, current, committed if changed else 0)
    finally:
        await adapter.release_lock(conn)
    return Applied(total, _ms(started), resumed_from=resumed_from)


async def _execute(
    adapter: ExecutorAdapter,
    conn: Connection,
    item: tuple[int, Statement],
    total: int,
    on_progress: Progress,
    *,
    in_doubt: bool = False,
) -> None:
    """Run one statement and report it; ``in_doubt``: the interrupted attempt before this one
    may have committed it, and an answer that its effect is there counts as applied."""
    index, statement = item
    step = time.perf_counter()
    try:
        await adapter.execute(conn, statement.sql)
    except Exception as exc:
        error = adapter.database_error(exc) if in_doubt else None
        if error is None or not adapter.effect_present(error):
            raise
        log.info("statement %d was applied by the attempt before: %s", index + 1, describe(error))
    await on_progress(index, total, statement.sql, _ms(step))


def _failure(
    adapter: ExecutorAdapter,
    exc: DatabaseError,
    current: tuple[int, Statement] | None,
    committed: int,
) -> Failed:
    error = redact_text(describe(exc))
    sqlstate = exc.sqlstate
    transient = adapter.is_transient(sqlstate)
    if current is None:
        return Failed(
            reason=f"the target refused the migration: {error}",
            database_error=error,
            sqlstate=sqlstate,
            transient=transient,
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
        transient=transient,
    )


def describe(error: DatabaseError) -> str:
    """The one line that failure reports show of a database error."""
    return f"{error.message} (SQLSTATE {error.sqlstate})" if error.sqlstate else error.message


def connection_failure(adapter: ExecutorAdapter, error: DatabaseError, url: str) -> Failed:
    """The report of a target that could not be reached or whose connection broke (the
    transaction, if any, was rolled back); ``url``'s password is redacted."""
    return Failed(
        reason=redact_text(f"cannot reach the target: {error.message}", url),
        sqlstate=error.sqlstate,
        transient=adapter.is_transient(error.sqlstate),
    )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)
