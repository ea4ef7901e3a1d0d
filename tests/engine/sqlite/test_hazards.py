"""What SQLite's statements risk: each carries the hazards the README's table describes."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.generator.render import generate
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Script
from tests.support.sqlite_engine import Files

pytestmark = pytest.mark.sqlite
H = Hazard


async def _script(files: Files, source: str, target: str) -> Script:
    ops = diff(await introspect(files.new(source)), await introspect(files.new(target)))
    return generate(ops, Dialect.SQLITE)


def _first(script: Script, prefix: str) -> list[Hazard]:
    return next(s.hazards for s in script.statements if s.sql.startswith(prefix))


async def test_columns_alter_table_can_change_need_no_rebuild(files: Files) -> None:
    script = await _script(
        files,
        "create table t (a int, b text default 'x', c int as (a + 1));",
        "create table t (a int, d blob, e int as (a * 2));",
    )
    assert [s.sql for s in script.statements] == [
        "ALTER TABLE t DROP COLUMN d;",
        "ALTER TABLE t DROP COLUMN e;",
        "ALTER TABLE t ADD COLUMN b TEXT DEFAULT 'x';",
        "ALTER TABLE t ADD COLUMN c INT GENERATED ALWAYS AS (a + 1) VIRTUAL;",
    ]
    assert [s.hazards for s in script.statements] == [
        [H.TABLE_REWRITE, H.DATA_LOSS, H.IRREVERSIBLE],
        [H.TABLE_REWRITE, H.DATA_LOSS],
        [],
        [],
    ]
    assert all(s.transactional for s in script.statements)


async def test_a_rebuild_is_one_per_table_between_pragmas(files: Files) -> None:
    script = await _script(
        files,
        "create table t (a int not null, b text check (b <> ''), c int);"
        "create index t_c on t (c);"
        "create view v as select a from t;"
        "create trigger tr after insert on t begin select 1; end;",
        "create table t (a int, b text, d int);"
        "create view v as select a from t;"
        "create trigger tr after insert on t begin select 1; end;",
    )
    sqls = [s.sql.split(" (")[0].split("\n")[0] for s in script.statements]
    assert sqls.count("CREATE TABLE _schemashift_new_t") == 1
    first, last = script.statements[0], script.statements[-1]
    assert (first.sql, first.transactional, first.hazards) == (
        "PRAGMA foreign_keys = OFF;",
        False,
        [H.NOT_TRANSACTIONAL],
    )
    assert (last.sql, last.transactional) == ("PRAGMA foreign_keys = ON;", False)
    assert all(s.transactional for s in script.statements[1:-1])
    assert _first(script, "CREATE TABLE _schemashift_new_t") == [H.TABLE_REWRITE]
    assert _first(script, "INSERT INTO _schemashift_new_t") == [
        H.TABLE_REWRITE,
        H.NEEDS_VALIDATION,
        H.DATA_LOSS,
        H.IRREVERSIBLE,
    ]
    assert _first(script, "DROP TABLE t") == [H.TABLE_REWRITE]
    # The view and the trigger come back only because the table is rebuilt.
    for prefix in ("DROP VIEW v", "CREATE VIEW v", "DROP TRIGGER tr", "CREATE TRIGGER tr"):
        assert _first(script, prefix) == [H.DEPENDENT_REBUILD], prefix
    order = [s.sql.split("\n")[0] for s in script.statements]
    assert order.index("DROP VIEW v;") < order.index("DROP TABLE t;")
    assert order.index("CREATE TRIGGER tr after insert on t begin select 1; end;") > order.index(
        "ALTER TABLE _schemashift_new_t RENAME TO t;"
    )
    assert _first(script, "INSERT INTO temp._schemashift_fk_check") == [H.NEEDS_VALIDATION]


async def test_drops_lose_data_and_cannot_be_undone(files: Files) -> None:
    script = await _script(files, "", "create table t (a int); create index t_a on t (a);")
    assert [(s.sql, s.hazards) for s in script.statements] == [
        ("DROP TABLE t;", [H.DATA_LOSS, H.IRREVERSIBLE])
    ]
    assert [s.sql.split(" (")[0] for s in script.reverse_statements] == [
        "CREATE TABLE t",
        "CREATE INDEX t_a on t",
    ]


async def test_indexes_on_existing_tables_are_built(files: Files) -> None:
    script = await _script(
        files,
        "create table t (a int); create unique index t_a on t (a);",
        "create table t (a int);",
    )
    assert [(s.sql, s.hazards) for s in script.statements] == [
        ("CREATE UNIQUE INDEX t_a on t (a);", [H.INDEX_BUILD, H.NEEDS_VALIDATION])
    ]
