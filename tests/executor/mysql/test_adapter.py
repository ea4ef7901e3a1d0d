"""The executor's MySQL adapter on MariaDB, without Kafka: statements commit one by one, the
history row counts them, a failed migration resumes at the first statement not applied (each
runs exactly once), the per-target lock keeps a second executor out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from schemashift.consumers.common.drivers.mysql import DRIVER
from schemashift.consumers.executor.apply import Applied, Failed, apply_script
from schemashift.consumers.executor.mysql import ADAPTER, LockNotTaken
from schemashift.schemas.operations import Statement
from schemashift.schemas.reserved import MYSQL_HISTORY_TABLE
from tests.support.infra import with_database
from tests.support.mysql_engine import execute, rows, server_url

pytestmark = [pytest.mark.integration, pytest.mark.mysql]


@pytest.fixture
async def target() -> AsyncIterator[str]:
    """The URL of a new, empty database (dropped after the test)."""
    server = server_url()
    name = f"ss_my_{uuid.uuid4().hex[:12]}_exec"
    async with DRIVER.connect(server, timeout=10) as admin:
        await execute(admin, f"CREATE DATABASE `{name}`")
        try:
            yield with_database(server, name)
        finally:
            await execute(admin, f"DROP DATABASE IF EXISTS `{name}`")


def _statements(*sqls: str) -> list[Statement]:
    return [Statement(sql=s, kind="k", object="o", transactional=False) for s in sqls]


async def _apply(conn, migration_id, statements, *, lock_timeout_ms=2_000, checksum="sum"):
    ran: list[int] = []

    async def fingerprint() -> str:
        return "fp"

    async def progress(index: int, total: int, sql: str, ms: float) -> None:
        ran.append(index)

    result = await apply_script(
        ADAPTER,
        conn,
        migration_id,
        statements,
        checksum,
        expected_fingerprint=None,
        fingerprint=fingerprint,
        on_progress=progress,
        lock_timeout_ms=lock_timeout_ms,
        statement_timeout_ms=5_000,
    )
    return result, ran


async def test_a_failed_migration_resumes_and_runs_each_statement_once(target: str) -> None:
    migration = uuid.uuid4()
    good = ["CREATE TABLE a (id int)", "CREATE TABLE b (id int)", "CREATE TABLE d (id int)"]
    broken = [good[0], good[1], "ALTER TABLE missing ADD COLUMN x int", good[2]]
    async with DRIVER.connect(target, timeout=10) as conn:
        result, ran = await _apply(conn, migration, _statements(*broken))
        assert isinstance(result, Failed)
        assert result.statement_index == 2 and result.sqlstate == "1146"
        assert not result.transient
        assert "statements 1-2 were committed before it" in result.reason
        assert ran == [0, 1]
        (row,) = await rows(conn, f"SELECT statements, completed FROM {MYSQL_HISTORY_TABLE}")
        assert (row["statements"], row["completed"]) == (4, 2)
        # The same script, once the missing table exists: it goes on at statement 3. Statements
        # 1 and 2 would fail if they ran again (their tables exist).
        await execute(conn, "CREATE TABLE missing (id int)")
        result, ran = await _apply(conn, migration, _statements(*broken))
        assert isinstance(result, Applied) and not result.already_applied
        assert ran == [2, 3]
        result, ran = await _apply(conn, migration, _statements(*broken))
        assert isinstance(result, Applied) and result.already_applied and ran == []
        tables = await rows(
            conn,
            "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
            "DATABASE() ORDER BY 1",
        )
        assert sorted(r["t"] for r in tables) == ["_schemashift_history", "a", "b", "d", "missing"]
        columns = await rows(
            conn,
            "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
            "DATABASE() AND TABLE_NAME = 'missing' ORDER BY 1",
        )
        assert sorted(r["c"] for r in columns) == ["id", "x"]
        other, ran = await _apply(conn, migration, _statements("SELECT 1"), checksum="other")
        assert isinstance(other, Applied) and other.already_applied  # completed: nothing runs


async def _interrupted(conn, migration: uuid.UUID, statements: list[str], committed: int) -> None:
    """What an attempt killed right after committing statement ``committed`` leaves: the
    statements up to it applied, the history row counting one fewer."""
    for sql in statements[: committed + 1]:
        await execute(conn, sql)
    await ADAPTER.ensure_history(conn)
    await ADAPTER.write_history(conn, migration, "sum", len(statements), committed)
    await conn.commit()


@pytest.mark.parametrize(
    "setup, in_doubt",
    [
        ("", "CREATE TABLE t (id int PRIMARY KEY, n int)"),
        ("CREATE TABLE t (id int)", "ALTER TABLE t ADD COLUMN n int, ADD INDEX t_n (n)"),
        ("CREATE TABLE t (id int, n int, KEY t_n (n))", "ALTER TABLE t DROP INDEX t_n"),
        ("CREATE TABLE t (id int)", "DROP TABLE t"),
        (
            "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int, p int)",
            "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (p) REFERENCES p (id)",
        ),
        ("CREATE TABLE t (id int, n int)", "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0)"),
        ("CREATE TABLE t (id int)", "CREATE VIEW v AS SELECT id FROM t"),
    ],
)
async def test_the_statement_an_interrupted_attempt_committed_is_not_run_twice(
    target: str, setup: str, in_doubt: str
) -> None:
    migration = uuid.uuid4()
    statements = [s for s in (setup, in_doubt, "CREATE TABLE after_it (id int)") if s]
    async with DRIVER.connect(target, timeout=10) as conn:
        committed = len(statements) - 2
        await _interrupted(conn, migration, statements, committed)
        result, ran = await _apply(conn, migration, _statements(*statements))
        assert isinstance(result, Applied), result
        assert result.resumed_from == committed and ran == [committed, committed + 1]
        (row,) = await rows(conn, f"SELECT statements, completed FROM {MYSQL_HISTORY_TABLE}")
        assert row["completed"] == row["statements"] == len(statements)


async def test_a_real_failure_of_the_statement_in_doubt_still_fails(target: str) -> None:
    migration = uuid.uuid4()
    statements = ["CREATE TABLE a (id int)", "ALTER TABLE b ADD COLUMN y int", "SELECT 1"]
    async with DRIVER.connect(target, timeout=10) as conn:
        # Killed after statement 1 was recorded: statement 2 is in doubt, and its error (the
        # table it alters is missing) is no sign of its own effect.
        await _interrupted(conn, migration, [statements[0], "SELECT 1", "SELECT 1"], 1)
        result, ran = await _apply(conn, migration, _statements(*statements))
        assert isinstance(result, Failed) and result.sqlstate == "1146", result
        assert result.statement_index == 1 and ran == []
        assert "statements 1-1 were committed before it" in result.reason


async def test_a_migration_whose_first_statement_commits_alone_is_recorded_before_it(
    target: str,
) -> None:
    # An attempt killed right after statement 1 must leave a row saying the migration started,
    # or the next one would take the target for changed (or run statement 1 again).
    migration = uuid.uuid4()
    async with DRIVER.connect(target, timeout=10) as conn:

        async def kill(index: int, total: int, sql: str, ms: float) -> None:
            raise KeyboardInterrupt  # stands for the process dying after the commit

        with pytest.raises(KeyboardInterrupt):
            await apply_script(
                ADAPTER,
                conn,
                migration,
                _statements("CREATE TABLE a (id int)", "CREATE TABLE b (id int)"),
                "sum",
                expected_fingerprint=None,
                fingerprint=None,  # type: ignore[arg-type]
                on_progress=kill,
            )
        (row,) = await rows(conn, f"SELECT statements, completed FROM {MYSQL_HISTORY_TABLE}")
        assert (row["statements"], row["completed"]) == (2, 0)
        result, ran = await _apply(
            conn, migration, _statements("CREATE TABLE a (id int)", "CREATE TABLE b (id int)")
        )
        assert isinstance(result, Applied) and result.resumed_from == 0 and ran == [0, 1]


async def test_a_different_script_of_a_partly_applied_migration_is_refused(target: str) -> None:
    migration = uuid.uuid4()
    async with DRIVER.connect(target, timeout=10) as conn:
        failed, _ = await _apply(conn, migration, _statements("CREATE TABLE a (id int)", "BAD"))
        assert isinstance(failed, Failed) and failed.sqlstate == "1064"
        again, _ = await _apply(conn, migration, _statements("SELECT 1"), checksum="changed")
        assert again == Failed(reason="a different script of this migration was partly applied")


async def test_the_lock_keeps_a_second_migration_of_the_target_out(target: str) -> None:
    async with (
        DRIVER.connect(target, timeout=10) as holder,
        DRIVER.connect(target, timeout=10) as conn,
    ):
        (db,) = (await rows(holder, "SELECT DATABASE() AS d"))[0].values()
        await rows(holder, "SELECT GET_LOCK(%s, 1) AS l", f"schemashift:{db}")
        with pytest.raises(LockNotTaken) as info:
            await _apply(
                conn, uuid.uuid4(), _statements("CREATE TABLE a (id int)"), lock_timeout_ms=1_000
            )
        error = ADAPTER.connection_error(info.value)
        assert error is not None and ADAPTER.is_transient(error.sqlstate)
        assert "another migration holds the lock" in error.message
        await rows(holder, "SELECT RELEASE_LOCK(%s) AS l", f"schemashift:{db}")
        result, ran = await _apply(conn, uuid.uuid4(), _statements("CREATE TABLE a (id int)"))
        assert isinstance(result, Applied) and ran == [0]
        # The lock is released after the migration: the holder can take it at once.
        (taken,) = (await rows(holder, "SELECT GET_LOCK(%s, 0) AS l", f"schemashift:{db}"))[
            0
        ].values()
        assert taken == 1
        await asyncio.sleep(0)
