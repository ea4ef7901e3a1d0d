"""The engine's object kinds beyond tables against real PostgreSQL: functions, procedures,
triggers, domains, composite types, partitioning, inheritance, row-level security, privileges,
materialized-view indexes and comments on all of them.

Each case migrates TARGET to SOURCE and asserts convergence (empty re-diff, equal
fingerprints), then applies the reverse script and asserts the original target is back. Two
databases are reused across the module and emptied between cases (a DROP SCHEMA ... CASCADE
costs milliseconds, a CREATE DATABASE a fraction of a second).
"""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.schemas.hazards import Hazard
from tests.support.engine import ROLE, Pair, migrate
from tests.support.object_cases import CASES

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
# Every PostgreSQL version under test (tests/conftest.py).


@pytest.fixture(scope="module")
def database_url(every_server: str) -> str:
    return every_server


@pytest.mark.parametrize(("source_sql", "target_sql"), CASES.values(), ids=CASES.keys())
async def test_converges(pair: Pair, source_sql: str, target_sql: str) -> None:
    await migrate(pair, source_sql, target_sql)


async def test_identical_schemas_with_every_kind_have_no_operations(pair: Pair) -> None:
    # every case's source, each in its own schema
    sql = "".join(
        f"create schema s{i}; set search_path = s{i}, public; {source}"
        for i, (source, _) in enumerate(CASES.values())
    )
    source, target = await pair.load(sql, sql)
    assert source.functions and source.triggers and source.domains and source.policies
    assert any(t.partition_of for t in source.tables) and any(t.inherits for t in source.tables)
    assert any(v.indexes for v in source.views) and source.composite_types
    assert diff(source, target, privileges=True) == []
    assert source.fingerprint() == target.fingerprint()


async def test_function_replaced_in_place_or_recreated(pair: Pair) -> None:
    script = await migrate(pair, *CASES["functions_created_replaced_dropped"])
    sqls = [s.sql for s in script.statements]
    assert any(s.startswith("CREATE OR REPLACE FUNCTION public.add(") for s in sqls)
    assert 'DROP FUNCTION public."old"(x integer);' in sqls
    assert any(s.startswith("CREATE OR REPLACE PROCEDURE public.p(") for s in sqls)
    script = await migrate(pair, *CASES["function_result_changes_with_dependent_view"])
    sqls = [s.sql for s in script.statements]
    # the view goes first, the function is dropped, created with its new type, then the view
    order = [sqls.index(s) for s in ("DROP VIEW public.w;", "DROP FUNCTION public.v();")]
    created = next(i for i, s in enumerate(sqls) if "FUNCTION public.v()" in s and "CREATE" in s)
    view = next(i for i, s in enumerate(sqls) if s.startswith("CREATE VIEW public.w"))
    assert order[0] < order[1] < created < view


async def test_partition_statements(pair: Pair) -> None:
    script = await migrate(pair, *CASES["partitions"])
    sqls = "\n".join(s.sql for s in script.statements)
    assert "EXECUTE 'ALTER TABLE public.m DETACH PARTITION public.loose'" in sqls
    assert (
        "EXECUTE 'ALTER TABLE public.m DETACH PARTITION public.m_2021'" in sqls
        and "ATTACH PARTITION public.m_2021 FOR VALUES FROM ('2021-01-01') TO ('2022-06-01')"
        in sqls
    )
    assert "ALTER TABLE public.m ATTACH PARTITION public.becomes FOR VALUES" in sqls
    assert "CREATE TABLE public.m_new PARTITION OF public.m FOR VALUES" in sqls
    # the parent's column and index are not repeated for its partitions
    assert "ADD COLUMN extra" in sqls and "m_2020 ADD COLUMN" not in sqls
    assert sqls.count("CREATE INDEX") == 2  # m_d on the parent, m_2020_local


async def test_privileges_only_when_asked(pair: Pair) -> None:
    source_sql = (
        f"create table t(id int); grant select, insert on t to {ROLE};"
        f"create sequence s; grant usage on sequence s to {ROLE} with grant option;"
        f"create schema app; grant usage on schema app to {ROLE};"
        "create function f() returns int language sql as 'select 1';"
        f"revoke execute on function f() from public; grant execute on function f() to {ROLE};"
        "create table fresh(x int); grant update on fresh to public;"
        "create function g() returns int language sql as 'select 1';"
        "revoke execute on function g() from public;"
    )
    target_sql = (
        f"create table t(id int); grant update on t to {ROLE}; create sequence s;"
        "create schema app; grant create on schema app to public;"
        "create function f() returns int language sql as 'select 1';"
    )
    source, target = await pair.load(source_sql, target_sql)
    assert {op.object_type.value for op in diff(source, target)} == {
        "table",
        "function",
        "privilege",
    } - {"privilege"}
    script = await migrate(pair, source_sql, target_sql, privileges=True)
    sqls = [s.sql for s in script.statements]
    assert f"GRANT SELECT ON TABLE public.t TO {ROLE};" in sqls
    assert f"REVOKE UPDATE ON TABLE public.t FROM {ROLE};" in sqls
    assert f"GRANT USAGE ON SEQUENCE public.s TO {ROLE} WITH GRANT OPTION;" in sqls
    assert "REVOKE EXECUTE ON ROUTINE public.f() FROM PUBLIC;" in sqls
    assert "REVOKE EXECUTE ON ROUTINE public.g() FROM PUBLIC;" in sqls
    assert sqls.index("REVOKE EXECUTE ON ROUTINE public.g() FROM PUBLIC;") > next(
        i for i, s in enumerate(sqls) if "FUNCTION public.g()" in s
    )


async def test_concurrent_indexes_run_outside_the_transaction(pair: Pair) -> None:
    script = await migrate(
        pair,
        "create table t(a int, b int); create index t_a on t(a); create unique index t_b on t(b);"
        "create table n(x int); create index n_x on n(x);"
        "create table p(d date) partition by range (d); create index p_d on p(d);",
        "create table t(a int, b int); create index t_old on t(a, b);"
        "create table p(d date) partition by range (d);",
        concurrent_indexes=True,
    )
    by_sql = {s.sql: s for s in script.statements}
    for sql in (
        "CREATE INDEX CONCURRENTLY t_a ON public.t USING btree (a);",
        "DROP INDEX CONCURRENTLY public.t_old;",
        "CREATE UNIQUE INDEX CONCURRENTLY t_b ON public.t USING btree (b);",
    ):
        assert not by_sql[sql].transactional, sql
        assert Hazard.NOT_TRANSACTIONAL in by_sql[sql].hazards
    # new tables and partitioned tables get plain, transactional index builds
    assert by_sql["CREATE INDEX n_x ON public.n USING btree (x);"].transactional
    assert by_sql["CREATE INDEX p_d ON public.p USING btree (d);"].transactional
