"""A table rebuild keeps every row, its rowid and its AUTOINCREMENT counter, does not cascade
to the tables that reference it, and leaves the file as it was when a row cannot fit."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from schemashift.consumers.common.drivers.sqlite import DRIVER
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.executor.apply import Applied, Failed, apply_script
from schemashift.consumers.executor.sqlite import ADAPTER
from schemashift.consumers.generator.render import generate
from schemashift.schemas.dialects import Dialect
from tests.support.sqlite_engine import Files, apply, converge, path_of
from tests.support.sqlite_snapshot import rows, snapshot

pytestmark = pytest.mark.sqlite

PARENT = """
create table users (id integer primary key autoincrement, name text, age int);
create table posts (id integer primary key,
                    user_id integer not null references users (id) on delete cascade,
                    body text);
create table tags (post_id integer references posts (id) on delete cascade, tag text);
"""
DATA = """
pragma foreign_keys = on;
insert into users (name, age) values ('ann', 31), (null, 20), ('cy', 40), ('gone', 1);
delete from users where name = 'gone';
insert into posts (user_id, body) values (1, 'a'), (1, 'b'), (3, 'c');
insert into tags values (1, 'x'), (3, 'y');
"""


def _execute(url: str, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path_of(url))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def _plan(source_url: str, target_url: str):
    ops = diff(await introspect(source_url), await introspect(target_url))
    return generate(ops, Dialect.SQLITE)


async def test_a_rebuild_keeps_the_rows_and_those_that_reference_them(files: Files) -> None:
    source = files.new(PARENT.replace("name text,", "name text not null default '?',"))
    target = files.new(PARENT + DATA)
    before = rows(path_of(target))
    script = await converge(source, target, reverse=False)
    assert any(s.sql.startswith("CREATE TABLE _schemashift_new_users") for s in script.statements)
    after = rows(path_of(target))
    assert after["posts"] == before["posts"] and after["tags"] == before["tags"]
    # The NULL name took the new default; the counter still skips the deleted row's key.
    assert after["users"] == [(1, "ann", 31), (2, "?", 20), (3, "cy", 40)]
    assert _execute(target, "select seq from sqlite_sequence where name = 'users'") == [(4,)]
    assert _execute(target, "pragma foreign_key_check") == []


async def test_a_rebuild_keeps_rowids_of_tables_without_a_key(files: Files) -> None:
    source = files.new("create table t (a text not null default '', b int);")
    target = files.new(
        "create table t (a text, b int);"
        "insert into t values ('x', 1), ('y', 2), ('z', 3); delete from t where b = 2;"
    )
    await converge(source, target, reverse=False)
    assert _execute(target, "select rowid, a, b from t order by rowid") == [
        (1, "x", 1),
        (3, "z", 3),
    ]


async def _fails_unchanged(files: Files, source_sql: str, target_sql: str) -> Failed:
    source, target = files.new(source_sql), files.new(target_sql)
    before_schema, before_rows = snapshot(path_of(target)), rows(path_of(target))
    result = await apply(target, (await _plan(source, target)).statements)
    assert isinstance(result, Failed), result
    assert snapshot(path_of(target)) == before_schema
    assert rows(path_of(target)) == before_rows
    return result


async def test_a_not_null_column_without_default_fails_on_a_table_with_rows(files: Files) -> None:
    failed = await _fails_unchanged(
        files,
        "create table t (id integer primary key, a text, b text not null);",
        "create table t (id integer primary key, a text); insert into t values (1, 'x');",
    )
    assert "NOT NULL constraint failed" in failed.reason
    assert "row with rowid 1 of t does not fit" in failed.reason
    assert failed.sqlstate == "SQLITE_CONSTRAINT_NOTNULL" and not failed.transient


async def test_a_check_that_a_row_violates_fails_cleanly(files: Files) -> None:
    failed = await _fails_unchanged(
        files,
        "create table t (id integer primary key, n int check (n > 0));"
        "create view v as select n from t;",
        "create table t (id integer primary key, n int); create view v as select n from t;"
        "insert into t values (1, 5), (2, -1), (3, 7), (4, -2);",
    )
    assert "CHECK constraint failed: n > 0" in failed.reason
    assert "row with rowid 2 of t does not fit" in failed.reason
    assert failed.statement is not None and "INSERT INTO _schemashift_new_t" in failed.statement


async def test_the_first_duplicate_of_a_new_unique_key_is_named(files: Files) -> None:
    values = ", ".join(f"({i}, 'v{i % 700}')" for i in range(1, 1001))
    failed = await _fails_unchanged(
        files,
        'create table "odd ""name""" (id integer primary key, v text unique) strict;',
        f'create table "odd ""name""" (id integer primary key, v text);'
        f'insert into "odd ""name""" values {values};',
    )
    # v1 comes back first, at rowid 701.
    assert failed.sqlstate == "SQLITE_CONSTRAINT_UNIQUE", failed
    assert 'row with rowid 701 of "odd ""name""" does not fit' in failed.reason
    assert "stay applied" not in failed.reason  # only a PRAGMA ran before it


async def test_a_foreign_key_a_row_violates_fails_naming_the_row(files: Files) -> None:
    failed = await _fails_unchanged(
        files,
        "create table p (id integer primary key);"
        "create table c (id integer primary key, p integer references p (id));",
        "create table p (id integer primary key);"
        "create table c (id integer primary key, p integer);"
        "insert into p values (1); insert into c values (10, 1), (11, 7);",
    )
    assert failed.sqlstate == "SQLITE_CONSTRAINT_FOREIGNKEY"
    assert "row 11 of c references a missing row of p" in failed.reason


async def test_the_migration_runs_with_foreign_keys_off_and_restores_them(files: Files) -> None:
    """Rebuilding a parent on a connection that enforces foreign keys must not cascade."""
    source = files.new(PARENT.replace("age int", "age int check (age > 0)"))
    target = files.new(PARENT + DATA)
    script = await _plan(source, target)

    async def fingerprint() -> str:
        return ""

    async def progress(*_: object) -> None:
        return None

    async with DRIVER.connect(target, timeout=5) as conn:
        await conn.execute("PRAGMA foreign_keys = ON")
        result = await apply_script(
            ADAPTER,
            conn,
            uuid.uuid4(),
            script.statements,
            "sum",
            expected_fingerprint=None,
            fingerprint=fingerprint,
            on_progress=progress,
        )
        assert isinstance(result, Applied)
        assert list(await conn.execute_fetchall("PRAGMA foreign_keys")) == [(1,)]
    assert len(rows(path_of(target))["posts"]) == 3
