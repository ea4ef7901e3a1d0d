"""The engine across PostgreSQL major versions, on real servers of each.

The servers are the main one and those `infra up --postgres-versions` starts (see
tests/conftest.py); a test that needs a version no server has is skipped with the reason.

- The version gate's table (:data:`schemashift.consumers.comparator.rules.postgres.FEATURES`) is
  checked against the servers: each feature's sample loads exactly on the versions the table says.
- A source on the newest server is migrated onto a target on every other one: refused with
  the feature's name where the target lacks it, applied and converged everywhere else.
- What only PostgreSQL 18 has: virtual generated columns and named NOT NULL constraints
  (compared between two 18 servers' databases, left alone against an older one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from schemashift.consumers.comparator.diff import UnsupportedByTarget, diff
from schemashift.consumers.comparator.introspect.postgres import introspect_connection
from schemashift.consumers.comparator.rules.postgres import FEATURES, NAMED_NOT_NULL
from schemashift.consumers.generator.render import generate
from tests.conformance.snapshot_full import compare, format_differences, snapshot_connection
from tests.support.engine import (
    Pair,
    apply,
    assert_no_difference,
    migrate,
    open_pair,
)
from tests.support.infra import server_names, server_url

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

# A statement using each feature of the version gate (PostgreSQL 12's generated columns are
# older than every server under test).
SAMPLES = {
    "virtual generated columns": (
        "create table t (a int, b int generated always as (a * 2) virtual)"
    ),
    "NOT ENFORCED constraints": "create table t (a int, constraint pos check (a > 0) not enforced)",
    "temporal keys (WITHOUT OVERLAPS, PERIOD)": (
        "create extension btree_gist; create table t (id int, during tstzrange,"
        " constraint t_pk primary key (id, during without overlaps))"
    ),
    "uuidv7() and uuidv4()": "create table t (id uuid default uuidv7())",
    "SQL/JSON query functions (JSON_TABLE, JSON_QUERY, JSON_VALUE, JSON_EXISTS)": (
        "create view v as select json_value('{\"a\": 1}'::jsonb, '$.a') as a"
    ),
    "SQL/JSON constructors and IS JSON": (
        "create view v as select json_array(1, 2) as a, '1' is json as b"
    ),
    "any_value()": "create view v as select any_value(x) as x from (values (1)) s(x)",
    "UNIQUE NULLS NOT DISTINCT": (
        "create table t (a int, constraint t_a unique nulls not distinct (a))"
    ),
    "MERGE statements": (
        "create table t (a int); create function f() returns void language sql as $$"
        " merge into t using (select 1 as a) s on t.a = s.a"
        " when not matched then insert values (s.a) $$"
    ),
    "security_invoker views": (
        "create table t (a int); create view v with (security_invoker = true) as select a from t"
    ),
    "SQL-standard function bodies (BEGIN ATOMIC)": (
        "create function f() returns int language sql begin atomic select 1; end"
    ),
    "multirange types": "create table t (a int4multirange)",
}
MINIMUM = {feature: minimum for minimum, feature, _ in FEATURES}


@pytest.fixture(scope="module")
async def servers() -> dict[int, str]:
    """Admin URL of one server per major version under test."""
    found: dict[int, str] = {}
    for name in server_names():
        url = server_url(name)
        conn = await asyncpg.connect(url)
        try:
            found.setdefault(int(await conn.fetchval("SHOW server_version_num")) // 10000, url)
        finally:
            await conn.close()
    return found


@pytest.fixture(scope="module")
async def pairs(servers: dict[int, str]) -> AsyncIterator[dict[int, Pair]]:
    """Two databases on each server."""
    opened: dict[int, Pair] = {}
    managers = []
    try:
        for major, url in sorted(servers.items()):
            manager = open_pair(url)
            opened[major] = await manager.__aenter__()
            managers.append(manager)
        yield opened
    finally:
        for manager in reversed(managers):
            await manager.__aexit__(None, None, None)


def test_every_feature_of_the_gate_has_a_sample() -> None:
    assert set(SAMPLES) == {feature for minimum, feature, _ in FEATURES if minimum > 12}


@pytest.mark.parametrize("feature", sorted(SAMPLES))
async def test_the_gate_names_the_version_each_feature_needs(
    feature: str, pairs: dict[int, Pair]
) -> None:
    """The sample loads on every server of the feature's minimum version or later, and on no
    older one: the table's minimum is neither too low nor (with a server just below) too high."""
    outcomes = {}
    for major, pair in pairs.items():
        conn = pair.source
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(SAMPLES[feature])
            outcomes[major] = True
        except asyncpg.PostgresError:
            outcomes[major] = False
        finally:
            await transaction.rollback()
    assert outcomes == {major: major >= MINIMUM[feature] for major in pairs}


@pytest.mark.parametrize("feature", sorted(SAMPLES))
async def test_a_newer_source_is_refused_only_where_the_target_lacks_the_feature(
    feature: str, pairs: dict[int, Pair]
) -> None:
    newest = max(pairs)
    if newest < MINIMUM[feature]:
        pytest.skip(f"no server of PostgreSQL {MINIMUM[feature]} or later")
    source_pair = pairs[newest]
    source, _ = await source_pair.load(SAMPLES[feature], "")
    checked = []
    for major, pair in sorted(pairs.items()):
        if major == newest:
            continue
        _, target = await pair.load("", "")
        if major < MINIMUM[feature]:
            with pytest.raises(UnsupportedByTarget, match=rf"PostgreSQL {major}\b"):
                diff(source, target)
            checked.append(major)
            continue
        script = generate(diff(source, target))
        await apply(pair.target, script.statements)
        # The same schema loaded natively on the target's server is the expectation (servers
        # of different versions print view definitions differently).
        expected, _ = await pair.load(SAMPLES[feature], None)
        assert_no_difference(expected, await pair.introspect_target())
        checked.append(major)
    assert checked or len(pairs) == 1


def _pair_of(pairs: dict[int, Pair], major: int) -> Pair:
    if major not in pairs:
        pytest.skip(f"no PostgreSQL {major} server (infra up --postgres-versions {major})")
    return pairs[major]


# PostgreSQL 18: (source, target) schemas that must converge in both directions.
CASES_18 = {
    "virtual_column_added": (
        "create table t (a int, b int generated always as (a * 2) virtual)",
        "create table t (a int)",
    ),
    "virtual_expression_changed": (
        "create table t (a int, b int generated always as (a * 3) virtual)",
        "create table t (a int, b int generated always as (a * 2) virtual)",
    ),
    "stored_becomes_virtual": (
        "create table t (a int, b int generated always as (a * 2) virtual)",
        "create table t (a int, b int generated always as (a * 2) stored)",
    ),
    "virtual_becomes_plain": (
        "create table t (a int, b int)",
        "create table t (a int, b int generated always as (a * 2) virtual)",
    ),
    "virtual_column_in_new_table": (
        "create table n (a int, b text generated always as (a::text) virtual not null)",
        "",
    ),
    "not_null_renamed": (
        "create table t (a int constraint a_required not null, b int not null)",
        "create table t (a int not null, b int constraint b_custom not null)",
    ),
    "not_null_added_with_a_name": (
        "create table t (a int constraint a_required not null)",
        "create table t (a int)",
    ),
    "not_null_in_new_table_and_column": (
        "create table n (a int constraint n_a_named not null);"
        "create table t (a int, b int constraint b_named not null default 0)",
        "create table t (a int)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES_18))
async def test_postgresql_18_objects_converge(case: str, pairs: dict[int, Pair]) -> None:
    pair = _pair_of(pairs, NAMED_NOT_NULL)
    await migrate(pair, *CASES_18[case])  # both ways, judged by the engine's re-diff
    await migrate(pair, *CASES_18[case], reverse=False)
    # Judged independently too: every column's generation and every NOT NULL's name.
    differences = compare(
        await snapshot_connection(pair.source), await snapshot_connection(pair.target)
    )
    assert not differences, format_differences(differences)


async def test_virtual_columns_are_added_without_a_rewrite(pairs: dict[int, Pair]) -> None:
    pair = _pair_of(pairs, NAMED_NOT_NULL)
    source, target = await pair.load(
        "create table t (a int, v int generated always as (a + 1) virtual,"
        " s int generated always as (a + 1) stored)",
        "create table t (a int)",
    )
    hazards = {
        s.sql.split(" ADD COLUMN ")[1].split()[0]: {h.value for h in s.hazards}
        for s in generate(diff(source, target)).statements
        if " ADD COLUMN " in s.sql
    }
    assert "table_rewrite" not in hazards["v"] and "table_rewrite" in hazards["s"]


async def test_named_not_nulls_are_not_compared_with_an_older_server(
    pairs: dict[int, Pair],
) -> None:
    """A PostgreSQL 18 source with named NOT NULL constraints migrates an older target (whose
    server cannot keep the names), and a source on an older server leaves an 18 target's
    names alone: in both directions the schemas then have no difference."""
    newer = _pair_of(pairs, NAMED_NOT_NULL)
    older = [major for major in pairs if major < NAMED_NOT_NULL]
    if not older:
        pytest.skip("no server older than PostgreSQL 18")
    old = pairs[max(older)]
    named = "create table t (a int constraint a_required not null, b int)"
    plain = "create table t (a int, b int not null)"
    for source_pair, source_sql, target_pair, target_sql in (
        (newer, named, old, plain),
        (old, plain, newer, named),
    ):
        source, _ = await source_pair.load(source_sql, "")
        _, target = await target_pair.load("", target_sql)
        assert any(c.not_null_name for t in (source, target) for c in t.tables[0].columns)
        script = generate(diff(source, target))
        assert "RENAME CONSTRAINT" not in "\n".join(s.sql for s in script.statements)
        await apply(target_pair.target, script.statements)
        assert_no_difference(source, await introspect_connection(target_pair.target))


# Views of many shapes: servers of 15 and older print them differently from 16 and later.
VIEWS = """
create table t (a int, b int, c text); create table u (a int, b int, d text);
create view v1 as select a, b from t;
create view v2 as select t.a, u.d from t join u on t.a = u.a;
create view v3 as select a from t where b in (select b from u where u.d = t.c);
create view v4 as with x as (select a from t) select a from x;
create view v5 as select a from t union all select a from u;
create view v6 as select a, count(*) from t group by a having count(*) > 1 order by a;
create view v7 as select s.a from (select a from t) s;
create view v8 as select a, row_number() over (partition by b order by c) from t;
create view v9 as select exists (select 1 from u where u.a = t.a) as e from t;
create view v10 as select * from t, lateral (select d from u where u.a = t.a) l;
create view v11 as select v1.a from v1 where v1.b > 0;
create materialized view m1 as select a, c from t where c is not null;
"""


async def test_views_are_compared_across_versions(pairs: dict[int, Pair]) -> None:
    """The same views on servers that print them differently are no difference; a view that
    does change is rebuilt, alone with the view over it."""
    catalogs = {}
    for major, pair in pairs.items():
        catalogs[major], _ = await pair.load(VIEWS, None)
    compared = 0
    for a, source in catalogs.items():
        for b, target in catalogs.items():
            if a == b:
                continue
            assert diff(source, target) == [], f"PostgreSQL {a} -> {b}"
            compared += 1
    if not compared:
        pytest.skip("one server only")
    newest, oldest = max(pairs), min(pairs)
    changed, _ = await pairs[newest].load(VIEWS.replace("where v1.b > 0", "where v1.b > 1"), None)
    rebuilt = {(o.kind.value, o.name) for o in diff(changed, catalogs[oldest])}
    assert rebuilt == {("drop", "v11"), ("create", "v11")}
    changed, _ = await pairs[newest].load(
        VIEWS.replace("select a, b from t;", "select b, a from t;"), None
    )
    rebuilt = {o.name for o in diff(changed, catalogs[oldest])}
    assert rebuilt == {"v1", "v11"}
