"""Property test: random schema pairs converge on real SQLite files.

Hypothesis draws a SOURCE and a TARGET schema from one small vocabulary, so that they share
tables, columns and types and differ in details: columns of each affinity, collations,
generated columns (virtual and stored), defaults (expressions too), nullability, rowid and
``WITHOUT ROWID`` tables, ``STRICT`` tables, ``AUTOINCREMENT``, primary and unique keys,
foreign keys, checks, plain, unique, partial and expression indexes, a view and a trigger.
TARGET holds a few rows that fit both schemas. It is migrated with the generated script
(native ``ALTER TABLE`` or the rebuild); the files must then have the same independent
snapshot (tests/support/sqlite_snapshot.py) and re-diff empty, the rows must still be there,
and the reverse script must bring TARGET back.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.executor.apply import Applied
from tests.support.sqlite_engine import Files, apply, converge, path_of
from tests.support.sqlite_snapshot import differences, snapshot

pytestmark = pytest.mark.sqlite

# Column name -> the types it may have (the STRICT spelling first: STRICT tables take only
# INT, INTEGER, REAL, TEXT, BLOB and ANY).
TYPES = {
    "a": ["integer", "int", "bigint", "numeric(8,2)"],
    "b": ["text", "varchar(10)", "text collate nocase"],
    "c": ["real", "double precision"],
    "d": ["blob"],
    "g": [
        "integer generated always as (id * 2) virtual",
        "integer generated always as (id * 2) stored",
        "integer generated always as (id + 1) virtual",
        "integer",
    ],
}
STRICT_TYPES = {"int", "integer", "real", "text", "blob", "any"}
# (None for ``b``: the target's rows would share it, and ``b`` may be unique on the other side.)
DEFAULTS = {"a": "1", "c": "(1.5 * 2)", "d": "x'00'"}


@st.composite
def columns(draw: st.DrawFn, strict: bool) -> list[str]:
    """Column definitions after ``id``."""
    names = draw(st.lists(st.sampled_from(sorted(TYPES)), unique=True, max_size=4))
    out = []
    for name in names:
        choices = TYPES[name]
        if strict:
            choices = [t for t in choices if t.split()[0] in STRICT_TYPES]
        kind = draw(st.sampled_from(choices))
        parts = [name, kind]
        generated = "generated" in kind
        if not generated and name in DEFAULTS and draw(st.booleans()):
            parts.append(f"default {DEFAULTS[name]}")
        out.append(" ".join(parts))
    return out


@st.composite
def schemas(draw: st.DrawFn) -> str:
    """DDL of one random schema."""
    sql: list[str] = []
    tables: dict[str, set[str]] = {}
    keyed: set[str] = set()
    for table in ("t1", "t2", "t3"):
        if draw(st.integers(0, 3)) == 0:
            continue
        strict = draw(st.integers(0, 3)) == 0
        key = draw(st.sampled_from(["rowid alias", "autoincrement", "table key", "none"]))
        without_rowid = key == "table key" and draw(st.booleans())
        head = {
            "rowid alias": "id integer primary key",
            "autoincrement": "id integer primary key autoincrement",
            "table key": "id integer not null",
            "none": "id integer",
        }[key]
        cols = draw(columns(strict))
        names = {c.split()[0] for c in cols}
        # A foreign key's parent key must be unique (SQLite checks that only when it checks
        # rows): t1 is referenced only when its id is its primary key.
        referencing = table == "t2" and "t1" in keyed and draw(st.booleans())
        body = [head, *cols, *(["ref integer"] if referencing else [])]
        if key == "table key":
            body.append("primary key (id)")
        if "b" in names and draw(st.booleans()):
            body.append(f"constraint {table}_b_key unique (b)")
        if "a" in names and draw(st.booleans()):
            body.append(f"constraint {table}_a_check check (a > {draw(st.sampled_from([-1, -5]))})")
        if referencing:
            action = draw(st.sampled_from(["", " on delete cascade"]))
            body.append(f"constraint t2_ref_fk foreign key (ref) references t1 (id){action}")
        options = [o for o, on in (("without rowid", without_rowid), ("strict", strict)) if on]
        sql.append(f"create table {table} ({', '.join(body)}) {', '.join(options)}")
        for col in sorted(names & {"a", "b", "c"}):
            choice = draw(st.integers(0, 4))
            if choice == 1:
                sql.append(f"create index {table}_{col}_idx on {table} ({col})")
            elif choice == 2:
                sql.append(f"create index {table}_{col}_idx on {table} ({col}) where {col} > 0")
            elif choice == 3 and col == "b":
                sql.append(f"create index {table}_b_lower on {table} (lower(b))")
        tables[table] = names
        if key != "none":
            keyed.add(table)
    if "t1" in tables and draw(st.booleans()):
        extra = "".join(f", {c}" for c in "ab" if c in tables["t1"])
        sql.append(f"create view v1 as select id{extra} from t1")
    if "t1" in tables and draw(st.booleans()):
        body = draw(st.sampled_from(["select 1", "select new.id"]))
        sql.append(f"create trigger t1_ai after insert on t1 begin {body}; end")
    return ";\n".join(sql) + (";" if sql else "")


def _rows(path: str) -> dict[str, list[tuple]]:
    """The ``id`` of every row of each table (what a migration must keep)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("select name from sqlite_schema where type = 'table'")]
        return {
            n: sorted(conn.execute(f'select id from "{n}"').fetchall())
            for n in names
            if n.startswith("t")
        }
    finally:
        conn.close()


async def _converge(folder: Path, source_sql: str, target_sql: str) -> None:
    files = Files(folder)
    source_url = files.new(source_sql, "source.db")
    # Rows whose only value is the key fit every schema drawn here (other columns are
    # nullable, have defaults or are generated).
    seed = "".join(
        f"insert into {t} (id) values (1), (2);"
        for t in ("t1", "t3")
        if f"table {t} " in target_sql
    )
    target_url = files.new(target_sql + seed, "target.db")
    rows, schema = _rows(path_of(target_url)), snapshot(path_of(target_url))
    if not diff(await introspect(source_url), await introspect(target_url)):
        return
    script = await converge(source_url, target_url, reverse=False)
    kept = _rows(path_of(target_url))
    assert {t: r for t, r in rows.items() if t in kept} == {t: kept[t] for t in rows if t in kept}
    result = await apply(target_url, script.reverse_statements)
    assert isinstance(result, Applied), (result, [s.sql for s in script.reverse_statements])
    assert differences(schema, snapshot(path_of(target_url))) == []


@settings(
    # More on demand: SCHEMASHIFT_PROPERTY_EXAMPLES=500 pytest -k random_schema_pairs
    max_examples=int(os.environ.get("SCHEMASHIFT_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source_sql=schemas(), target_sql=schemas())
def test_random_schema_pairs_converge_on_sqlite(
    tmp_path_factory: pytest.TempPathFactory, source_sql: str, target_sql: str
) -> None:
    folder = tmp_path_factory.mktemp("pair")
    asyncio.run(_converge(folder, source_sql, target_sql))
