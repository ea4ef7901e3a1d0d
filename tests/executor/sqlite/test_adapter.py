"""The executor's SQLite adapter on real files: the lock, the history, what is transient."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from schemashift.consumers.common.drivers import Unreachable
from schemashift.consumers.common.drivers.sqlite import DRIVER
from schemashift.consumers.executor.adapters import DatabaseError, HistoryRecord
from schemashift.consumers.executor.apply import Applied, Failed, apply_script
from schemashift.consumers.executor.sqlite import ADAPTER
from schemashift.consumers.executor.sqlite import HISTORY_DDL as ADAPTER_HISTORY_DDL
from schemashift.schemas.operations import Statement
from schemashift.schemas.reserved import SQLITE_HISTORY_TABLE
from tests.support.sqlite_engine import Files, path_of

pytestmark = pytest.mark.sqlite


def _statements(*sqls: str) -> list[Statement]:
    return [Statement(sql=sql, kind="k", object="o") for sql in sqls]


async def _apply(url: str, statements: list[Statement], migration: uuid.UUID, **kwargs):
    events: list[str] = kwargs.pop("events", [])

    async def fingerprint() -> str:
        return "fp"

    async def progress(index: int, total: int, sql: str, duration_ms: float) -> None:
        events.append(f"{migration.hex[:4]} {index + 1}/{total}")
        await asyncio.sleep(kwargs.pop("pause", 0))

    async with DRIVER.connect(url, timeout=5) as conn:
        return await apply_script(
            ADAPTER,
            conn,
            migration,
            statements,
            "sum",
            expected_fingerprint=None,
            fingerprint=fingerprint,
            on_progress=progress,
            lock_timeout_ms=kwargs.pop("lock_timeout_ms", 2000),
        )


def _history(url: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path_of(url))
    try:
        return conn.execute(
            f"SELECT migration_id, checksum, statements, completed, applied_at IS NOT NULL "
            f"FROM {SQLITE_HISTORY_TABLE}"
        ).fetchall()
    finally:
        conn.close()


async def test_the_history_commits_with_the_statements_and_stops_a_second_run(files: Files):
    url = files.new()
    migration = uuid.uuid4()
    script = _statements("CREATE TABLE a (x int);", "CREATE INDEX a_x ON a (x);")
    assert await _apply(url, script, migration) == Applied(2, pytest.approx(0, abs=1e4))
    assert _history(url) == [(str(migration), "sum", 2, 2, 1)]
    again = await _apply(url, script, migration)
    assert isinstance(again, Applied) and again.already_applied


async def test_a_failed_script_leaves_the_file_and_the_history_as_they_were(files: Files):
    url = files.new("create table a (x int);")
    result = await _apply(
        url, _statements("CREATE TABLE b (y int);", "CREATE TABLE a (z);"), uuid.uuid4()
    )
    assert isinstance(result, Failed)
    assert result.sqlstate == "SQLITE_ERROR" and not result.transient
    assert result.reason == "statement 2 failed: table a already exists (SQLSTATE SQLITE_ERROR)"
    conn = sqlite3.connect(path_of(url))
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema ORDER BY name")]
    conn.close()
    assert names == [SQLITE_HISTORY_TABLE, "a", f"sqlite_autoindex_{SQLITE_HISTORY_TABLE}_1"]
    assert _history(url) == []


async def test_migrations_of_one_file_take_turns(files: Files, tmp_path: Path):
    url = files.new()
    # The same file by another spelling of its path: one lock.
    other = f"sqlite://{tmp_path}/./{Path(path_of(url)).name}"
    events: list[str] = []
    first, second = uuid.uuid4(), uuid.uuid4()
    results = await asyncio.gather(
        _apply(
            url,
            _statements("CREATE TABLE a (x);", "CREATE TABLE b (x);"),
            first,
            events=events,
            pause=0.05,
        ),
        _apply(
            other,
            _statements("CREATE TABLE c (x);", "CREATE TABLE d (x);"),
            second,
            events=events,
            pause=0.05,
        ),
    )
    assert all(isinstance(r, Applied) for r in results)
    firsts = [e.split()[0] for e in events]
    assert firsts == sorted(firsts, key=firsts.index) and len(set(firsts[:2])) == 1


async def test_another_writer_makes_the_migration_fail_as_transient(files: Files):
    url = files.new()
    holder = sqlite3.connect(path_of(url), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = await _apply(
            url, _statements("CREATE TABLE a (x);"), uuid.uuid4(), lock_timeout_ms=100
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert isinstance(result, Failed)
    assert result.sqlstate and result.sqlstate.startswith("SQLITE_BUSY")
    assert result.transient and "database is locked" in result.reason


def test_classifications():
    for code in (
        "SQLITE_BUSY",
        "SQLITE_BUSY_SNAPSHOT",
        "SQLITE_LOCKED",
        "SQLITE_LOCKED_SHAREDCACHE",
    ):
        assert ADAPTER.is_transient(code), code
    for code in ("SQLITE_CONSTRAINT_CHECK", "SQLITE_ERROR", "", None):
        assert not ADAPTER.is_transient(code), code
    assert ADAPTER.database_error(ValueError("x")) is None
    assert ADAPTER.connection_error(Unreachable("cannot open x")) == DatabaseError(
        "SQLITE_CANTOPEN", "cannot open x"
    )
    assert ADAPTER.connection_error(OSError("gone")).sqlstate == "SQLITE_CANTOPEN"
    assert ADAPTER.resume_from(HistoryRecord("sum", 5, 2)) == 2


async def test_a_partly_applied_script_resumes_with_foreign_keys_off(files: Files):
    """The history says the leading PRAGMA ran; a new attempt on a connection that enforces
    foreign keys resumes after it, and the rebuild still cascades nothing."""
    url = files.new(
        "create table p (id integer primary key, n text);"
        "create table c (p integer references p (id) on delete cascade);"
        "insert into p values (1, 'a'); insert into c values (1);"
    )
    migration = uuid.uuid4()
    script = [
        Statement(
            sql="PRAGMA foreign_keys = OFF;", kind="pragma", object="main", transactional=False
        ),
        *_statements(
            "CREATE TABLE _schemashift_new_p (id integer primary key, n text not null default '');",
            "INSERT INTO _schemashift_new_p (id, n) SELECT id, coalesce(n, '') FROM p;",
            "DROP TABLE p;",
            "ALTER TABLE _schemashift_new_p RENAME TO p;",
        ),
    ]
    conn = sqlite3.connect(path_of(url), isolation_level=None)
    conn.execute(ADAPTER_HISTORY_DDL)
    conn.execute(
        f"INSERT INTO {SQLITE_HISTORY_TABLE} (migration_id, checksum, statements, completed) "
        "VALUES (?, 'sum', ?, 1)",
        (str(migration), len(script)),
    )
    conn.close()
    async with DRIVER.connect(url, timeout=5) as db:
        await db.execute("PRAGMA foreign_keys = ON")

        async def fingerprint() -> str:
            return "fp"

        async def progress(*_: object) -> None:
            return None

        result = await apply_script(
            ADAPTER,
            db,
            migration,
            script,
            "sum",
            expected_fingerprint="other",
            fingerprint=fingerprint,
            on_progress=progress,
        )
    assert isinstance(result, Applied) and not result.already_applied
    check = sqlite3.connect(path_of(url))
    assert check.execute("SELECT count(*) FROM c").fetchone() == (1,)
    check.close()
    assert _history(url) == [(str(migration), "sum", len(script), len(script), 1)]
