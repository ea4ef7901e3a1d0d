"""The SQLite dialect's pieces that need no file: URL rules, version rules, SQL text, the
printed script."""

from __future__ import annotations

import pytest

from schemashift.consumers.common.connections import dialect_of
from schemashift.consumers.common.drivers import UnsupportedDialect, driver_for_url
from schemashift.consumers.common.drivers.sqlite import DRIVER, InvalidSQLiteURL, database_path
from schemashift.consumers.common.drivers.sqlite_sql import (
    is_constant,
    is_literal,
    parse_create_table,
    text_after_name,
)
from schemashift.consumers.comparator.compare.common import UnsupportedByTarget
from schemashift.consumers.comparator.rules.sqlite import check_versions
from schemashift.consumers.generator.render import renderer_for
from schemashift.schemas.catalog import Catalog, Column, Table
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import ObjectType, Operation, OpKind, Statement


def test_a_sqlite_url_names_an_absolute_file_path():
    assert database_path("sqlite:///srv/app/data.db") == "/srv/app/data.db"
    assert database_path("SQLite:///tmp/a%20b.db") == "/tmp/a b.db"
    assert database_path("sqlite:////srv/app/data.db") == "/srv/app/data.db"  # SQLAlchemy's form
    assert driver_for_url("sqlite:///x.db") is DRIVER


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///:memory:", "in-memory database"),
        ("sqlite://:memory:", "in-memory database"),
        ("sqlite://relative.db", "not an absolute path"),
        ("sqlite:relative.db", "not an absolute path"),
        ("sqlite:///x.db?mode=ro", "no query"),
    ],
)
def test_memory_and_relative_urls_are_refused_with_the_reason(url: str, reason: str):
    with pytest.raises(InvalidSQLiteURL, match=reason):
        database_path(url)
    with pytest.raises(ValueError, match=reason):  # as registering the connection would
        dialect_of(url)


async def test_the_driver_refuses_a_bad_url_before_opening_anything():
    translated = DRIVER.translate_error(InvalidSQLiteURL("bad"), "sqlite://x")
    assert translated is not None and translated.reason == "bad"
    with pytest.raises(InvalidSQLiteURL):
        await DRIVER.create_pool("sqlite:///:memory:", max_size=1, timeout=1)
    assert DRIVER.translate_error(FileNotFoundError("no such file: /x"), "sqlite:///x")
    assert DRIVER.translate_error(ValueError("other"), "sqlite:///x") is None
    with pytest.raises(UnsupportedDialect):
        driver_for_url("sqlite3:///x.db")


def _add_column(column: Column) -> Operation:
    return Operation(
        kind=OpKind.CREATE,
        object_type=ObjectType.COLUMN,
        schema_name="main",
        table="t",
        name=column.name,
        new=column,
    )


def _target(version: str) -> Catalog:
    return Catalog(dialect=Dialect.SQLITE, server_version=version)


def test_what_an_older_sqlite_cannot_run_is_refused():
    column = Column(name="g", type="INT", generated="a + 1", virtual=True)
    generated = Operation(
        kind=OpKind.CREATE,
        object_type=ObjectType.TABLE,
        schema_name="main",
        name="t",
        new=Table(schema_name="main", name="t", columns=[column]),
    )
    with pytest.raises(UnsupportedByTarget, match=r"generated columns .* SQLite 3\.30\.0 .*3\.31"):
        check_versions([generated], _target("3.30.0"))
    check_versions([generated], _target("3.35.0"))
    with pytest.raises(UnsupportedByTarget, match="ALTER TABLE DROP COLUMN"):
        check_versions([_add_column(Column(name="c", type="TEXT"))], _target("3.34.1"))
    strict = Operation(
        kind=OpKind.CREATE,
        object_type=ObjectType.TABLE,
        schema_name="main",
        name="t",
        new=Table(schema_name="main", name="t", options=["STRICT"]),
    )
    with pytest.raises(UnsupportedByTarget, match="STRICT tables"):
        check_versions([strict], _target("3.36.0"))
    check_versions([strict], _target("3.37.0"))
    check_versions([strict], _target("unknown"))
    # A drop runs no definition text: the reverse recreates what the target has.
    check_versions([strict.reverse()], _target("3.36.0"))


def test_create_table_text_is_read_verbatim():
    table = parse_create_table(
        'CREATE TABLE "t" (id integer primary key desc autoincrement, '
        "a text collate NoCase default ('x' || 'y'), b as (a || 1) stored, "
        "constraint c1 check (a <> ')'), foreign key (a) references u (x) on delete set null "
        "not deferrable) strict, without rowid"
    )
    assert [c.name for c in table.columns] == ["id", "a", "b"]
    pk = table.columns[0].first("primary_key")
    assert pk is not None and pk.autoincrement and pk.descending
    a = table.columns[1]
    collate, default = a.first("collate"), a.first("default")
    assert collate is not None and collate.collation == "NoCase"
    assert default is not None and default.expression == "'x' || 'y'"
    generated = table.columns[2].first("generated")
    assert generated is not None and (generated.expression, generated.stored) == ("a || 1", True)
    check, fk = table.constraints
    assert (check.name, check.expression) == ("c1", "a <> ')'")
    assert fk.references is not None and fk.references.on_delete == "set null"
    assert not fk.references.deferrable
    assert table.options == ["STRICT", "WITHOUT ROWID"]
    assert text_after_name('CREATE UNIQUE INDEX "i x" /* c */ ON t (a)', "INDEX") == "ON t (a)"


def test_literals_and_constants():
    for text in ("1", "-1.5", "'x'", "X'00'", "NULL", "true", "CURRENT_TIMESTAMP"):
        assert is_literal(text), text
    for text in ("1+2", "datetime('now')", "'a' || 'b'"):
        assert not is_literal(text), text
    assert is_constant("'x'") and not is_constant("CURRENT_DATE")


def test_the_printed_script_holds_its_own_transaction():
    statements = [
        Statement(
            sql="PRAGMA foreign_keys = OFF;", kind="pragma", object="main", transactional=False
        ),
        Statement(sql="CREATE TABLE a (x);", kind="create_table", object="main.a"),
        Statement(sql="DROP TABLE b;", kind="drop_table", object="main.b"),
        Statement(
            sql="PRAGMA foreign_keys = ON;", kind="pragma", object="main", transactional=False
        ),
    ]
    text = renderer_for(Dialect.SQLITE).script_text(statements)
    lines = [line for line in text.splitlines() if line and not line.startswith("--")]
    assert lines == [
        ".bail on",
        "PRAGMA foreign_keys = OFF;",
        "BEGIN IMMEDIATE;",
        "CREATE TABLE a (x);",
        "DROP TABLE b;",
        "COMMIT;",
        "PRAGMA foreign_keys = ON;",
    ]
    assert renderer_for(Dialect.SQLITE).script_text([]) == ""
    postgres = renderer_for(Dialect.POSTGRESQL).script_text(statements[1:3])
    assert postgres == "CREATE TABLE a (x);\n\nDROP TABLE b;"
