"""The hazard `dependent_rebuild` against real PostgreSQL.

Each case migrates TARGET to SOURCE (and back, with the reverse script) on the main server,
asserting convergence both ways, and then names exactly the statements that carry the hazard:
the others must not. Statements are named by their first line (a view's definition follows
on the next ones, spelt differently by each server version).
"""

from __future__ import annotations

import pytest

from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Script, Statement
from tests.integration.test_engine_objects import ROLE, Pair, migrate
from tests.integration.test_engine_objects import pair as pair  # the fixture

pytestmark = pytest.mark.integration

REBUILD = Hazard.DEPENDENT_REBUILD


def head(statement: Statement) -> str:
    return statement.sql.splitlines()[0]


def carrying(statements: list[Statement], hazard: Hazard) -> list[str]:
    """The statements with ``hazard``, by their first line, sorted."""
    return sorted(head(s) for s in statements if hazard in s.hazards)


def by_head(script: Script) -> dict[str, Statement]:
    return {head(s): s for s in script.statements}


# --- dependent_rebuild --------------------------------------------------------------------


async def test_views_over_a_retyped_column_carry_dependent_rebuild(pair: Pair) -> None:
    """A column a view reads changes type: the views over it (and the view over that view, and
    a materialized view with its index) are dropped and created again, each statement marked;
    a view the diff changes itself, the column change, and the comment and grant set again on
    the rebuilt view are not."""
    common = (
        "create view w as select id from v; create view other as select b from t;"
        "create materialized view mv as select a from t; create unique index mv_a on mv(a);"
        f"comment on view v is 'reads a'; grant select on v to {ROLE};"
    )
    target = (
        "create table t(id int primary key, a int, b text);"
        "create view v as select id, a from t; create view u as select a from t;" + common
    )
    source = (
        "create table t(id int primary key, a bigint, b text);"
        "create view v as select id, a from t; create view u as select a + 1 as a1 from t;" + common
    )
    script = await migrate(pair, source, target)
    expected = [
        "CREATE MATERIALIZED VIEW public.mv AS",
        "CREATE UNIQUE INDEX mv_a ON public.mv USING btree (a);",
        "CREATE VIEW public.v AS",
        "CREATE VIEW public.w AS",
        "DROP MATERIALIZED VIEW public.mv;",
        "DROP VIEW public.v;",
        "DROP VIEW public.w;",
    ]
    assert carrying(script.statements, REBUILD) == expected
    assert carrying(script.reverse_statements, REBUILD) == expected
    statements = by_head(script)
    for unmarked in (
        "DROP VIEW public.u;",  # changed by the diff itself
        "CREATE VIEW public.u AS",
        "ALTER TABLE public.t ALTER COLUMN a TYPE bigint USING a::bigint;",
        "COMMENT ON VIEW public.v IS 'reads a';",
        f"GRANT SELECT ON TABLE public.v TO {ROLE};",
    ):
        assert REBUILD not in statements[unmarked].hazards, unmarked
    assert not any("other" in s.sql for s in script.statements)  # reads b only: left alone
    assert REBUILD in script.hazards


async def test_foreign_keys_rebuilt_around_key_changes_carry_dependent_rebuild(
    pair: Pair,
) -> None:
    """A foreign key over a column whose type changes, and one referencing a unique key the
    diff rebuilds, are dropped and added again (marked, on each of their statements); the
    rebuilt key itself and a new foreign key are not."""
    target = (
        "create table p(id int primary key, code text constraint p_code_key unique);"
        "create table q(id int primary key);"
        "create table c(pid int constraint c_pid_fk references p,"
        " code text constraint c_code_fk references p(code), qid int);"
    )
    source = (
        "create table p(id bigint primary key,"
        " code text constraint p_code_key unique nulls not distinct);"
        "create table q(id int primary key);"
        "create table c(pid bigint constraint c_pid_fk references p,"
        " code text constraint c_code_fk references p(code),"
        " qid int constraint c_qid_fk references q);"
    )
    script = await migrate(pair, source, target)
    expected = [
        "ALTER TABLE public.c ADD CONSTRAINT c_code_fk FOREIGN KEY (code)"
        " REFERENCES public.p(code) NOT VALID;",
        "ALTER TABLE public.c ADD CONSTRAINT c_pid_fk FOREIGN KEY (pid)"
        " REFERENCES public.p(id) NOT VALID;",
        "ALTER TABLE public.c DROP CONSTRAINT c_code_fk;",
        "ALTER TABLE public.c DROP CONSTRAINT c_pid_fk;",
        "ALTER TABLE public.c VALIDATE CONSTRAINT c_code_fk;",
        "ALTER TABLE public.c VALIDATE CONSTRAINT c_pid_fk;",
    ]
    assert carrying(script.statements, REBUILD) == expected
    statements = by_head(script)
    for unmarked in (
        "ALTER TABLE public.p DROP CONSTRAINT p_code_key;",
        "ALTER TABLE public.p ADD CONSTRAINT p_code_key UNIQUE NULLS NOT DISTINCT (code);",
        "ALTER TABLE public.c ADD CONSTRAINT c_qid_fk FOREIGN KEY (qid)"
        " REFERENCES public.q(id) NOT VALID;",
        "ALTER TABLE public.c VALIDATE CONSTRAINT c_qid_fk;",
        "ALTER TABLE public.p ALTER COLUMN id TYPE bigint USING id::bigint;",
    ):
        assert REBUILD not in statements[unmarked].hazards, unmarked


_NOOP = "create function noop() returns trigger language plpgsql as $$ begin return new; end $$;"


async def test_indexes_policies_and_triggers_rebuilt_as_dependents(pair: Pair) -> None:
    """An index over a generated column whose expression changes (the column is dropped and
    added again), a policy of a table whose column changes type, and a trigger of a view
    rebuilt over that column: each is dropped and created again, marked."""

    def schema(expression: str, numeric: str) -> str:
        return (
            f"{_NOOP} create table t(id int primary key, a int,"
            f" g int generated always as ({expression}) stored, n {numeric});"
            "create index t_g on t(g); create index t_a on t(a);"
            "alter table t enable row level security; create policy t_own on t using (n > 0);"
            "create view v as select id, n from t;"
            "create trigger v_ins instead of insert on v for each row execute function noop();"
        )

    script = await migrate(pair, schema("a * 3", "numeric(12,2)"), schema("a * 2", "numeric(10,2)"))
    assert carrying(script.statements, REBUILD) == [
        "CREATE INDEX t_g ON public.t USING btree (g);",
        "CREATE POLICY t_own ON public.t AS PERMISSIVE FOR ALL TO PUBLIC"
        " USING ((n > (0)::numeric));",
        "CREATE TRIGGER v_ins INSTEAD OF INSERT ON public.v FOR EACH ROW"
        " EXECUTE FUNCTION public.noop();",
        "CREATE VIEW public.v AS",
        "DROP INDEX public.t_g;",
        "DROP POLICY t_own ON public.t;",
        "DROP TRIGGER v_ins ON public.v;",
        "DROP VIEW public.v;",
    ]
    statements = by_head(script)
    # The generated column is what the diff changes: its drop and add are not marked.
    assert REBUILD not in statements["ALTER TABLE public.t DROP COLUMN g;"].hazards
    assert not any("t_a" in s.sql for s in script.statements)  # over an unchanged column


async def test_a_recreated_table_rebuilds_its_partition_links_triggers_and_statistics(
    pair: Pair,
) -> None:
    """A partitioned table whose partition key changes is dropped and created again (the
    change itself, not marked); its partition, detached and attached again with the same
    bound, its trigger and its extended statistics are marked."""

    def schema(key: str) -> str:
        return (
            f"{_NOOP} create table m(id int, k int) partition by list ({key});"
            "create table m1 partition of m for values in (1);"
            "create trigger m_touch before insert on m for each row execute function noop();"
            "create statistics m_st on id, k from m;"
        )

    script = await migrate(pair, schema("k"), schema("id"))
    assert carrying(script.statements, REBUILD) == [
        "ALTER TABLE public.m ATTACH PARTITION public.m1 FOR VALUES IN (1);",
        "CREATE STATISTICS public.m_st ON id, k FROM public.m;",
        "CREATE TRIGGER m_touch BEFORE INSERT ON public.m FOR EACH ROW"
        " EXECUTE FUNCTION public.noop();",
        "DO $unlink$",
        "DROP STATISTICS public.m_st;",
        "DROP TRIGGER m_touch ON public.m;",
    ]
    assert REBUILD not in by_head(script)["DROP TABLE public.m;"].hazards
