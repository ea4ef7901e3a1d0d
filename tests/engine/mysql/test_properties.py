"""Property test: random schema pairs converge on real MariaDB.

Hypothesis draws a SOURCE and a TARGET schema from one small vocabulary, so that they share
tables, columns and types and differ in details: integer, decimal, string, temporal, ENUM and
JSON columns (MariaDB's JSON is LONGTEXT with an automatic ``json_valid`` check), generated
columns (virtual and stored), defaults, nullability, character sets, primary and unique keys,
foreign keys, checks, indexes (prefix and descending parts too), table comments and charsets,
a view and a trigger. TARGET is migrated with the generated script; the two databases must
then have the same independent snapshot (information_schema) and re-diff empty, and the
reverse script must bring TARGET back.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemashift.consumers.comparator.diff import diff
from tests.support.mysql_engine import MyPair, migrate, open_pair, server_url, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

# Column name -> the types it may have: within a family every change has a conversion.
TYPES = {
    "a": ["INT", "BIGINT", "DECIMAL(8,2)", "INT UNSIGNED"],
    "b": ["VARCHAR(10)", "VARCHAR(20)", "VARCHAR(20) CHARACTER SET latin1", "TEXT"],
    "c": ["DATETIME", "TIMESTAMP NULL", "DATE"],
    "d": ["ENUM('ok','sad')", "ENUM('ok','sad','meh')", "VARCHAR(10)"],
    "e": ["JSON", "LONGTEXT"],
    "g": ["INT AS (id * 2) VIRTUAL", "INT AS (id * 2) STORED", "INT AS (id + 1) VIRTUAL", "INT"],
}
DEFAULTS = {"a": "1", "b": "'x'", "c": "'2020-01-01'", "d": "'ok'"}


def _keyable(column: str) -> bool:
    """Whether an index may cover the whole column (TEXT needs a prefix)."""
    return "TEXT" not in column


@st.composite
def columns(draw: st.DrawFn) -> list[str]:
    """Column definitions (``id INT`` always, others drawn)."""
    names = draw(st.lists(st.sampled_from(sorted(TYPES)), unique=True, max_size=4))
    out = ["id INT NOT NULL"]
    for name in names:
        kind = draw(st.sampled_from(TYPES[name]))
        parts = [name, kind]
        generated = " AS " in kind
        if not generated and name in DEFAULTS and draw(st.booleans()):
            parts.append(f"DEFAULT {DEFAULTS[name]}")
        if not generated and draw(st.integers(0, 3)) == 0:
            parts.append("NOT NULL")
        out.append(" ".join(parts))
    return out


@st.composite
def schemas(draw: st.DrawFn) -> str:
    """DDL of one random schema."""
    sql: list[str] = []
    tables: dict[str, dict[str, str]] = {}
    for table in ("t1", "t2", "t3"):
        if draw(st.integers(0, 3)) == 0:
            continue
        cols = draw(columns())
        by_name = {c.split()[0]: c for c in cols}
        body = list(cols)
        keyed = draw(st.booleans())
        if keyed:
            body.append("PRIMARY KEY (id)")
        if "b" in by_name and _keyable(by_name["b"]) and draw(st.booleans()):
            body.append(f"CONSTRAINT {table}_b_key UNIQUE (b)")
        if "a" in by_name and draw(st.booleans()):
            body.append(f"CONSTRAINT {table}_a_check CHECK (a > {draw(st.sampled_from([0, 5]))})")
        if table == "t2" and tables.get("t1", {}).get("keyed") and draw(st.booleans()):
            body.append("ref INT")
            body.append("CONSTRAINT t2_ref_fk FOREIGN KEY (ref) REFERENCES t1 (id)")
        options = []
        if draw(st.integers(0, 2)) == 0:
            options.append(f"COMMENT '{draw(st.sampled_from(['one', 'two']))}'")
        if draw(st.integers(0, 3)) == 0:
            options.append("DEFAULT CHARSET latin1")
        sql.append(f"CREATE TABLE {table} ({', '.join(body)}) {' '.join(options)}")
        for col in sorted(set(by_name) & {"a", "b", "c"}):
            if draw(st.integers(0, 2)) == 0:
                part = f"{col}(5)" if col == "b" else col
                order = " DESC" if draw(st.booleans()) else ""
                sql.append(f"CREATE INDEX {table}_{col}_idx ON {table} ({part}{order})")
        tables[table] = {"keyed": "yes" if keyed else "", **by_name}
    if "t1" in tables and draw(st.booleans()):
        extra = "".join(f", {c}" for c in "ab" if c in tables["t1"])
        sql.append(f"CREATE VIEW v1 AS SELECT id{extra} FROM t1")
    if "t1" in tables and draw(st.booleans()):
        change = draw(st.sampled_from(["NEW.id = NEW.id + 0", "NEW.id = NEW.id + 1"]))
        sql.append(f"CREATE TRIGGER t1_bi BEFORE INSERT ON t1 FOR EACH ROW SET {change}")
    return ";\n".join(sql) + (";" if sql else "")


@pytest.fixture(scope="module")
def loop_and_pair() -> Iterator[tuple[asyncio.AbstractEventLoop, MyPair]]:
    """A private event loop (Hypothesis drives a synchronous test) and a pair of databases
    kept for the module."""
    loop = asyncio.new_event_loop()
    opened = open_pair(server_url())
    pair = loop.run_until_complete(opened.__aenter__())
    yield loop, pair
    loop.run_until_complete(opened.__aexit__(None, None, None))
    loop.close()


async def _converge(pair: MyPair, source_sql: str, target_sql: str) -> None:
    source, target = await pair.load(source_sql, target_sql)
    if not diff(source, target):
        assert await snapshot(pair.source) == await snapshot(pair.target)
        return
    await migrate(pair, source_sql, target_sql)


@settings(
    # More on demand: SCHEMASHIFT_PROPERTY_EXAMPLES=500 pytest -k random_schema_pairs
    max_examples=int(os.environ.get("SCHEMASHIFT_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source_sql=schemas(), target_sql=schemas())
def test_random_schema_pairs_converge_on_mariadb(
    loop_and_pair: tuple[asyncio.AbstractEventLoop, MyPair], source_sql: str, target_sql: str
) -> None:
    loop, pair = loop_and_pair
    loop.run_until_complete(_converge(pair, source_sql, target_sql))
