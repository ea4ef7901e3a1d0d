"""The hazards `dependent_rebuild` and `irreversible` against real PostgreSQL.

Each case migrates TARGET to SOURCE (and back, with the reverse script) on the main server,
asserting convergence both ways, and then names exactly the statements that carry the hazard:
the others must not. Statements are named by their first line (a view's definition follows
on the next ones, spelt differently by each server version).
"""

from __future__ import annotations

import pytest

from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Script, Statement
from tests.support.engine import ROLE, Pair, migrate

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

REBUILD = Hazard.DEPENDENT_REBUILD
IRREVERSIBLE = Hazard.IRREVERSIBLE


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
    statements = by_head(script)
    assert REBUILD not in statements["DROP TABLE public.m;"].hazards
    # Its rows are the partition's, detached first: nothing the reverse cannot bring back.
    assert IRREVERSIBLE not in statements["DROP TABLE public.m;"].hazards


# --- irreversible -------------------------------------------------------------------------


async def test_dropped_tables_and_columns_are_irreversible(pair: Pair) -> None:
    """DROP TABLE and DROP COLUMN lose rows and values the reverse cannot bring back (it
    creates them empty: proven on the data); a dropped generated column is computed again."""
    target = (
        "create table kept(id int, note text, twice int generated always as (id * 2) stored);"
        "create table gone(id int primary key, body text);"
        "insert into kept(id, note) values (1, 'one'), (2, 'two');"
        "insert into gone values (1, 'x');"
    )
    script = await migrate(pair, "create table kept(id int);", target)
    assert carrying(script.statements, IRREVERSIBLE) == [
        "ALTER TABLE public.kept DROP COLUMN note;",
        "DROP TABLE public.gone;",
    ]
    assert Hazard.DATA_LOSS in by_head(script)["ALTER TABLE public.kept DROP COLUMN twice;"].hazards
    assert carrying(script.reverse_statements, IRREVERSIBLE) == []
    # The reverse ran (migrate applies it): the structure is back, the data is not.
    rows = await pair.target.fetch("select id, note, twice from kept order by id")
    assert [tuple(r) for r in rows] == [(1, None, 2), (2, None, 4)]
    assert await pair.target.fetchval("select count(*) from gone") == 0


async def test_removed_enum_value_is_irreversible(pair: Pair) -> None:
    """Removing an enum value swaps the type; the DROP TYPE of the old one, which takes the
    value away, is irreversible. The view, partial index, domain and function over the type
    are rebuilt around the swap (dependent_rebuild). A reorder alone is undone exactly."""

    def schema(labels: str) -> str:
        return (
            f"create type mood as enum ({labels}); create domain dmood as mood;"
            "create table t(id int, m mood default 'a', d dmood);"
            "create index t_happy on t(id) where m = 'a'; create view v as select id, m from t;"
            "create function is_happy(x mood) returns boolean language sql as $$select x = 'a'$$;"
        )

    script = await migrate(pair, schema("'a', 'b'"), schema("'a', 'b', 'c'"))
    assert carrying(script.statements, IRREVERSIBLE) == ["DROP TYPE public.mood__old;"]
    assert carrying(script.statements, REBUILD) == [
        "CREATE DOMAIN public.dmood AS public.mood;",
        "CREATE INDEX t_happy ON public.t USING btree (id) WHERE (m = 'a'::public.mood);",
        "CREATE OR REPLACE FUNCTION public.is_happy(x public.mood)",
        "CREATE VIEW public.v AS",
        "DROP DOMAIN public.dmood;",
        "DROP FUNCTION public.is_happy(x public.mood);",
        "DROP INDEX public.t_happy;",
        "DROP VIEW public.v;",
    ]
    # Adding the value back (the reverse) loses nothing.
    assert carrying(script.reverse_statements, IRREVERSIBLE) == []

    reorder = await migrate(
        pair,
        "create type mood as enum ('b', 'a'); create table t(m mood);",
        "create type mood as enum ('a', 'b'); create table t(m mood);",
    )
    assert "DROP TYPE public.mood__old;" in by_head(reorder)
    assert carrying(reorder.statements, IRREVERSIBLE) == []


async def test_sequence_position_changes_are_irreversible(pair: Pair) -> None:
    """A sequence restarted to fit narrowed bounds, a dropped sequence and a dropped identity
    lose the sequence's position (the reverse starts from START again); other sequence
    changes do not."""
    target = (
        "create sequence counter maxvalue 500 start 400; create sequence step;"
        "create sequence old_seq; select setval('old_seq', 42);"
        "create table t(id int generated always as identity, n int);"
        "insert into t(n) values (1), (2), (3);"
    )
    source = (
        "create sequence counter maxvalue 300 start 1; create sequence step increment 2;"
        "create table t(id int not null, n int);"
    )
    script = await migrate(pair, source, target)
    assert carrying(script.statements, IRREVERSIBLE) == [
        "ALTER TABLE public.t ALTER COLUMN id DROP IDENTITY;",
        "DO $restart$",
        "DROP SEQUENCE public.old_seq;",
    ]
    assert "ALTER SEQUENCE public.step INCREMENT BY 2;" in by_head(script)
    # After the reverse, the identity numbers from 1 again: the next row collides in value.
    assert await pair.target.fetchval("insert into t(n) values (4) returning id") == 1
    assert await pair.target.fetchval("select last_value from old_seq") == 1


async def test_narrowing_type_changes_are_irreversible(pair: Pair) -> None:
    """Narrowing types (shorter varchar, text to varchar(n), bigint to integer, lower numeric
    precision or scale) are irreversible, like data_loss; widening is not. The value cut on the
    way stays cut after the reverse."""
    target = (
        "create table t(a varchar(50), b bigint, c numeric(10,2), d text, e int,"
        " f varchar(10), g numeric(8,3));"
        "insert into t values ('abcdefghijklmnop', 7, 12.34, 'wxyz', 1, 'x', 1.234);"
    )
    source = (
        "create table t(a varchar(10), b int, c numeric(8,2), d varchar(3), e bigint,"
        " f varchar(50), g numeric(8,1));"
    )
    script = await migrate(pair, source, target)
    narrowing = [
        "ALTER TABLE public.t ALTER COLUMN a TYPE character varying(10)"
        " USING a::character varying(10);",
        "ALTER TABLE public.t ALTER COLUMN b TYPE integer USING b::integer;",
        "ALTER TABLE public.t ALTER COLUMN c TYPE numeric(8,2) USING c::numeric(8,2);",
        "ALTER TABLE public.t ALTER COLUMN d TYPE character varying(3)"
        " USING d::character varying(3);",
        "ALTER TABLE public.t ALTER COLUMN g TYPE numeric(8,1) USING g::numeric(8,1);",
    ]
    assert carrying(script.statements, IRREVERSIBLE) == narrowing
    assert carrying(script.statements, Hazard.DATA_LOSS) == narrowing
    row = await pair.target.fetchrow("select a, d, g::text from t")
    assert tuple(row) == ("abcdefghij", "wxy", "1.200")
