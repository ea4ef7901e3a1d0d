"""Property test: random schema pairs converge on real PostgreSQL.

Hypothesis draws a SOURCE and a TARGET schema from one small vocabulary (so that they share
tables, columns and types and differ in details): tables with columns of several type families
(integers, text, arrays, an enum, a domain, a domain over the enum, timestamps), primary
keys, unique constraints, foreign keys, checks, indexes (partial ones holding an enum value
too), a view (over the enum column too), a function taking the enum, a sequence and comments.
Both are loaded into two reused databases, TARGET is migrated with the generated script, and
the result must re-diff empty and have SOURCE's fingerprint; the reverse script must then
bring back TARGET's.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.comparator.diff import diff
from consumers.comparator.introspect.postgres import introspect_connection
from consumers.generator.render import generate
from tests.conformance.fixtures import RESET_SQL
from tests.conftest import every_server, with_database
from tests.integration.test_engine_objects import apply, assert_same

pytestmark = pytest.mark.integration
# Every PostgreSQL version under test (tests/conftest.py).
database_url = every_server

# Column name -> the types it may have: within a family every change has a cast.
TYPES = {
    "a": ["integer", "bigint", "numeric(8,2)", "posint"],
    "b": ["text", "varchar(10)", "varchar(20)"],
    "c": ["integer[]", "bigint[]", "text[]"],
    "d": ["mood", "text"],
    "e": ["timestamptz", "timestamp", "date"],
    "f": ["boolean"],
    "g": ["feeling"],
}
DEFAULTS = {"a": "1", "b": "'x'", "c": "'{}'", "d": "'ok'", "e": "now()", "f": "true", "g": "'ok'"}


@st.composite
def columns(draw: st.DrawFn) -> list[str]:
    """Column definitions (``id integer`` always, others drawn)."""
    names = draw(st.lists(st.sampled_from(sorted(TYPES)), unique=True, max_size=4))
    out = ["id integer" + (" not null" if draw(st.booleans()) else "")]
    for name in names:
        parts = [name, draw(st.sampled_from(TYPES[name]))]
        if draw(st.booleans()):
            parts.append(f"default {DEFAULTS[name]}")
        if draw(st.integers(0, 3)) == 0:
            parts.append("not null")
        out.append(" ".join(parts))
    return out


@st.composite
def schemas(draw: st.DrawFn) -> str:
    """DDL of one random schema."""
    labels = draw(st.lists(st.sampled_from(["sad", "meh", "happy"]), unique=True))
    sql = [
        "create type mood as enum (" + ", ".join(f"'{x}'" for x in ["ok", *labels]) + ")",
        "create domain posint as integer" + (" check (value > 0)" if draw(st.booleans()) else ""),
        "create domain feeling as mood" + (" default 'ok'" if draw(st.booleans()) else ""),
    ]
    if draw(st.booleans()):
        sql.append("create function describe(m mood) returns text language sql as 'select m::text'")
    if draw(st.booleans()):
        sql.append(f"create sequence seq1 increment by {draw(st.sampled_from([1, 2, 5]))}")
    tables: dict[str, list[str]] = {}
    for table in ("t1", "t2", "t3"):
        if draw(st.integers(0, 3)) == 0:
            continue
        cols = draw(columns())
        names = {c.split()[0] for c in cols}
        body = list(cols)
        if draw(st.booleans()):
            body.append(f"constraint {table}_pk primary key (id)")
        if "b" in names and draw(st.booleans()):
            body.append(f"constraint {table}_b_key unique (b)")
        if "a" in names and draw(st.booleans()):
            body.append(f"constraint {table}_a_check check (a > {draw(st.sampled_from([0, 5]))})")
        t1_keyed = "constraint t1_pk" in " ".join(tables.get("t1", []))
        if table == "t2" and t1_keyed and draw(st.booleans()):
            body.append("ref integer")
            body.append("constraint t2_ref_fk foreign key (ref) references t1 (id)")
        tables[table] = body
        sql.append(f"create table {table} ({', '.join(body)})")
        for col in sorted(names & {"a", "b", "e"}):
            if draw(st.integers(0, 2)) == 0:
                sql.append(f"create index {table}_{col}_idx on {table} ({col})")
        if "d" in names and draw(st.integers(0, 2)) == 0:
            sql.append(f"create index {table}_ok_idx on {table} (id) where d = 'ok'")
        if draw(st.integers(0, 2)) == 0:
            sql.append(f"comment on table {table} is '{draw(st.sampled_from(['one', 'two']))}'")
    if "t1" in tables and draw(st.booleans()):
        # Over the text and the enum column when t1 has them: their type changes and enum
        # swaps must rebuild the view around them.
        extra = "".join(f", {c}" for c in "bd" if any(x.startswith(f"{c} ") for x in tables["t1"]))
        sql.append(f"create view v1 as select id{extra} from t1")
    return ";\n".join(sql) + ";"


@pytest.fixture(scope="module")
def loop_and_connections(database_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, list]]:
    """A private event loop (Hypothesis drives a synchronous test) with two warm
    connections to two databases created for the module."""
    loop = asyncio.new_event_loop()
    names = [f"ss_prop_{uuid.uuid4().hex[:10]}_{side}" for side in ("src", "tgt")]

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    for name in names:
        loop.run_until_complete(admin(f'CREATE DATABASE "{name}"'))
    conns = [
        loop.run_until_complete(asyncpg.connect(with_database(database_url, n))) for n in names
    ]
    yield loop, conns
    for conn in conns:
        loop.run_until_complete(conn.close())
    for name in names:
        loop.run_until_complete(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    loop.close()


async def _converge(conns: list[asyncpg.Connection], source_sql: str, target_sql: str) -> None:
    source_conn, target_conn = conns
    for conn, sql in ((source_conn, source_sql), (target_conn, target_sql)):
        await conn.execute(RESET_SQL)
        await conn.execute(sql)
    source = await introspect_connection(source_conn)
    target = await introspect_connection(target_conn)
    script = generate(diff(source, target))
    await apply(target_conn, script.statements)
    assert_same(source, await introspect_connection(target_conn))
    await apply(target_conn, script.reverse_statements)
    assert_same(target, await introspect_connection(target_conn))


@settings(
    # More on demand: SCHEMASHIFT_PROPERTY_EXAMPLES=500 pytest -k random_schema_pairs
    max_examples=int(os.environ.get("SCHEMASHIFT_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(source_sql=schemas(), target_sql=schemas())
def test_random_schema_pairs_converge(
    loop_and_connections: tuple[asyncio.AbstractEventLoop, list], source_sql: str, target_sql: str
) -> None:
    loop, conns = loop_and_connections
    loop.run_until_complete(_converge(conns, source_sql, target_sql))
