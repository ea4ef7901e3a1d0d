"""The executor's PostgreSQL adapter and the apply loop against a real server, without Kafka.

The service-level behaviour (events, retries, redelivery) is covered by tests/pipeline/
(test_flows.py, test_safety.py, test_crashes.py); this module pins the adapter: the advisory
lock, the history table, resuming, and which of PostgreSQL's errors are transient.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from schemashift.consumers.executor.adapters import HistoryRecord
from schemashift.consumers.executor.apply import Applied, Failed, apply_script
from schemashift.consumers.executor.postgres import ADAPTER, LOCK_KEY
from schemashift.consumers.executor.registry import adapter_for
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Statement
from schemashift.schemas.reserved import HISTORY_SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[Any]:
    conn = await asyncpg.connect(url)
    try:
        yield conn
    finally:
        await conn.close()


def statement(sql: str, *, transactional: bool = True) -> Statement:
    return Statement(sql=sql, kind="test", object="t", transactional=transactional)


async def lock_is_free(url: str) -> bool:
    """Whether another session could take the migration lock now (it gives it back at once)."""
    async with connected(url) as other:
        if await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            await other.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
            return True
        return False


async def run(url: str, statements: list[Statement], **options: Any) -> tuple[Any, list[int]]:
    """apply_script with the registered PostgreSQL adapter; (result, indexes reported)."""
    progressed: list[int] = []
    migration_id = options.pop("migration_id", uuid.uuid4())

    async def progress(index: int, total: int, sql: str, duration_ms: float) -> None:
        progressed.append(index)

    async def fingerprint() -> str:
        raise AssertionError("no expected fingerprint was given")

    adapter = adapter_for(Dialect.POSTGRESQL)
    assert adapter is ADAPTER
    async with connected(url) as conn:
        result = await apply_script(
            adapter,
            conn,
            migration_id,
            statements,
            options.pop("checksum", "sum"),
            expected_fingerprint=None,
            fingerprint=fingerprint,
            on_progress=progress,
            **options,
        )
    return result, progressed


async def history(url: str) -> list[dict[str, Any]]:
    async with connected(url) as conn:
        rows = await conn.fetch(
            f"SELECT migration_id, checksum, statements, completed, applied_at IS NOT NULL AS done"
            f" FROM {HISTORY_SCHEMA}.history"
        )
    return [dict(r) for r in rows]


async def test_the_lock_is_held_while_applying_and_released_after(new_database) -> None:
    url = await new_database()
    async with connected(url) as conn:
        await ADAPTER.acquire_lock(conn)
        assert not await lock_is_free(url)
        await ADAPTER.release_lock(conn)
        assert await lock_is_free(url)
        await conn.close()
        await ADAPTER.release_lock(conn)  # a closed session: nothing to release, no error

    seen: list[bool] = []

    async def progress(index: int, total: int, sql: str, duration_ms: float) -> None:
        seen.append(await lock_is_free(url))

    async def fingerprint() -> str:
        return "fp"

    async with connected(url) as conn:
        result = await apply_script(
            ADAPTER,
            conn,
            uuid.uuid4(),
            [statement("CREATE TABLE t (id int)")],
            "sum",
            expected_fingerprint="fp",
            fingerprint=fingerprint,
            on_progress=progress,
        )
        assert isinstance(result, Applied)
        assert seen == [False]
        assert await lock_is_free(url)


async def test_the_history_table_is_created_and_records_the_migration(new_database) -> None:
    url = await new_database()
    migration_id = uuid.uuid4()
    statements = [
        statement("CREATE TYPE mood AS ENUM ('calm')"),
        statement("ALTER TYPE mood ADD VALUE 'glad'", transactional=False),
        statement("CREATE TABLE t (m mood DEFAULT 'glad')"),
    ]
    result, progressed = await run(url, statements, migration_id=migration_id, checksum="c1")
    assert isinstance(result, Applied) and result.statements_applied == 3
    assert progressed == [0, 1, 2]
    expected = {"checksum": "c1", "statements": 3, "completed": 3, "done": True}
    assert await history(url) == [{"migration_id": migration_id, **expected}]
    # A second run finds the history and changes nothing (CREATE TYPE would fail).
    again, progressed = await run(url, statements, migration_id=migration_id, checksum="c1")
    assert isinstance(again, Applied) and again.already_applied and progressed == []


async def test_a_partly_applied_migration_resumes_after_its_last_committed_statement(
    new_database,
) -> None:
    url = await new_database("CREATE TYPE mood AS ENUM ('calm', 'glad')")
    migration_id = uuid.uuid4()
    async with connected(url) as conn:
        await ADAPTER.ensure_history(conn)
        await ADAPTER.write_history(conn, migration_id, "c1", 3, 2)
        recorded = await ADAPTER.read_history(conn, migration_id)
    assert recorded is not None and ADAPTER.resume_from(recorded) == 2
    statements = [
        statement("CREATE TYPE mood AS ENUM ('calm')"),
        statement("ALTER TYPE mood ADD VALUE 'glad'", transactional=False),
        statement("CREATE TABLE t (m mood DEFAULT 'glad')"),
    ]
    result, progressed = await run(url, statements, migration_id=migration_id, checksum="c1")
    assert isinstance(result, Applied) and progressed == [2]
    assert (await history(url))[0]["completed"] == 3


async def test_the_history_table_is_created_when_missing_and_read_when_there(
    new_database,
) -> None:
    url = await new_database()
    migration_id = uuid.uuid4()
    async with connected(url) as conn:
        assert await ADAPTER.open_history(conn, migration_id) is None  # created
        await ADAPTER.write_history(conn, migration_id, "c1", 2, 1)
        assert await ADAPTER.open_history(conn, migration_id) == HistoryRecord("c1", 2, 1)
        await conn.execute(f"DROP SCHEMA {HISTORY_SCHEMA} CASCADE")
        assert await ADAPTER.open_history(conn, migration_id) is None  # created again
        assert await conn.fetchval(f"SELECT count(*) FROM {HISTORY_SCHEMA}.history") == 0


async def test_a_lock_timeout_fails_the_statement_transiently_and_rolls_back(
    new_database,
) -> None:
    url = await new_database("CREATE TABLE t (id int)")
    async with connected(url) as blocker:
        await blocker.execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        result, _ = await run(
            url,
            [statement("CREATE TABLE u (id int)"), statement("ALTER TABLE t ADD COLUMN n int")],
            lock_timeout_ms=200,
        )
        await blocker.execute("ROLLBACK")
    assert isinstance(result, Failed)
    assert result.sqlstate == "55P03" and result.transient
    assert result.statement_index == 1
    assert result.reason == (
        "statement 2 failed: canceling statement due to lock timeout (SQLSTATE 55P03)"
    )
    assert result.database_error == "canceling statement due to lock timeout (SQLSTATE 55P03)"
    assert await history(url) == []  # the whole transaction rolled back, with u
    async with connected(url) as conn:
        assert await conn.fetchval("SELECT to_regclass('u')") is None
    assert await lock_is_free(url)


async def test_a_held_migration_lock_times_out_as_a_transient_connection_failure(
    new_database,
) -> None:
    url = await new_database()
    async with connected(url) as holder:
        await ADAPTER.acquire_lock(holder)
        with pytest.raises(asyncpg.PostgresError) as info:
            await run(url, [statement("CREATE TABLE t (id int)")], lock_timeout_ms=200)
        await ADAPTER.release_lock(holder)
    # What executor/app.py makes of an error raised outside any statement.
    error = ADAPTER.connection_error(info.value)
    assert error is not None and error.sqlstate == "55P03"
    assert ADAPTER.is_transient(error.sqlstate)


async def test_a_refused_statement_is_not_transient(new_database) -> None:
    url = await new_database("CREATE TABLE t (id int)")
    result, _ = await run(url, [statement("CREATE TABLE t (id int)")])
    assert isinstance(result, Failed)
    assert result.sqlstate == "42P07" and not result.transient
    assert result.reason == 'statement 1 failed: relation "t" already exists (SQLSTATE 42P07)'
