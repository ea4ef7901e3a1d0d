"""Regression tests of engine defects found by the conformance suites, against real PostgreSQL.

Each case migrates TARGET to SOURCE, asserts convergence (empty re-diff, equal fingerprints),
and, where it applies, runs the reverse script and asserts the original target is back. The
databases and helpers are those of :mod:`tests.support.engine`.
"""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import Unsupported, diff
from schemashift.consumers.comparator.introspect.postgres import (
    VIEWS_SQL,
    fetch_without_keeping_locks,
)
from schemashift.consumers.generator.render import generate
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.hazards import Hazard
from tests.support.engine import (
    ROLE,
    Pair,
    apply,
    assert_same,
    has_icu,
    migrate,
)
from tests.support.object_cases import CASES

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
# Every PostgreSQL version under test (tests/conftest.py).


@pytest.fixture(scope="module")
def database_url(every_server: str) -> str:
    return every_server


_LONG_ARGS = "first_argument_name integer, second_argument_name text, third_one boolean"


async def test_long_texts_are_not_cut_to_63_bytes(pair: Pair) -> None:
    """Values built next to a ``name`` in an ARRAY[...] were typed ``name`` (63 bytes): domain
    CHECKs, function identity arguments and composite attribute types came back cut short."""
    long_type = "this_is_a_rather_long_schema_name_x.this_is_a_rather_long_type_name_y"
    source_sql = (
        "create domain dob as date constraint dob_check"
        " check (value > '1900-01-01' and value < current_date);"
        "create domain lc as text check (value = lower(value) and value ~ '^[a-z0-9_]+$'"
        " and char_length(value) between 3 and 25);"
        "create schema this_is_a_rather_long_schema_name_x;"
        f"create type {long_type} as enum ('a');"
        f"create type holder as (x {long_type}[], y text);"
        f"create function f({_LONG_ARGS}) returns int language sql immutable"
        " as 'select first_argument_name';"
        f"comment on function f({_LONG_ARGS}) is 'long';"
        f"revoke execute on function f({_LONG_ARGS}) from public;"
        f"grant execute on function f({_LONG_ARGS}) to {ROLE};"
        "create view v as select f(1, 'x', true) as one;"
        "create table t(d dob, l lc);"
    )
    source, _ = await pair.load(source_sql, "")
    [dob] = [d for d in source.domains if d.name == "dob"]
    assert dob.constraints[0].definition.endswith("(VALUE < CURRENT_DATE)))")
    [fn] = source.functions
    assert fn.identity_args == _LONG_ARGS
    assert source.views[0].functions == [["public", "f", _LONG_ARGS]]
    assert any(c.target[-1] == _LONG_ARGS for c in source.comments)
    [holder] = [c for c in source.composite_types if c.name == "holder"]
    assert holder.attributes[0].type == f"{long_type}[]"
    await migrate(pair, source_sql, "", privileges=True)
    # and the domains change in place
    await migrate(
        pair,
        source_sql,
        source_sql.replace("value < current_date", "value <= current_date"),
        privileges=True,
    )


async def test_generated_expression_with_parentheses_in_literals(pair: Pair) -> None:
    await migrate(
        pair,
        "create table t(a text, b text generated always as (('(' || a) || ')') stored,"
        " c text generated always as (a || ')(') stored);",
        "create table t(a text);",
    )


_IS_EMAIL = (
    "create function is_email(s text) returns boolean language plpgsql immutable"
    " as $$ begin return s like '%@%'; end $$;"
)


async def test_types_and_functions_in_dependency_order(pair: Pair) -> None:
    """A domain whose CHECK calls a function comes after it (and is dropped before it); a
    function taking a domain comes after the domain; one taking a table's row type after the
    table; a composite type after the domain of its attribute."""
    source_sql = (
        _IS_EMAIL + "create domain email as text check (is_email(value));"
        "create domain work_email as email check (value like '%@work%');"
        "create function a_domain_user(e email[]) returns text language sql"
        " as 'select e[1]::text';"
        "create type contact as (name text, mail work_email);"
        "create table people(id int, mail email);"
        "create function a_row_user(p people) returns int language sql as 'select p.id';"
        "create table sent(c contact, m work_email default 'x@work');"
    )
    script = await migrate(pair, source_sql, "")
    sqls = [s.sql for s in script.statements]

    def at(prefix: str) -> int:
        return next(i for i, s in enumerate(sqls) if s.startswith(prefix))

    assert at("CREATE OR REPLACE FUNCTION public.is_email") < at("CREATE DOMAIN public.email")
    assert at("CREATE DOMAIN public.email") < at("CREATE DOMAIN public.work_email")
    assert at("CREATE DOMAIN public.email") < at("CREATE OR REPLACE FUNCTION public.a_domain")
    assert at("CREATE DOMAIN public.work_email") < at("CREATE TYPE public.contact")
    assert at("CREATE TABLE public.people") < at("CREATE OR REPLACE FUNCTION public.a_row_user")
    back = [s.sql for s in script.reverse_statements]
    assert back.index("DROP DOMAIN public.email;") < back.index(
        "DROP FUNCTION public.is_email(s text);"
    )
    # added next to existing objects, and a domain gaining a CHECK over a new function
    await migrate(pair, source_sql, "create domain email as text; create table people(id int);")


async def test_narrowed_sequence_bounds_keep_the_current_value_valid(pair: Pair) -> None:
    """Narrowed MINVALUE/MAXVALUE: a sequence whose current value falls outside is restarted at
    its new START (flagged irreversible); one whose value is still valid is never reset."""
    target_sql = (
        "create table volts(volt int generated by default as identity"
        " (start with -200 increment by 10 minvalue -200 maxvalue 200));"
        "create table live(id int generated always as identity (maxvalue 1000));"
        "create sequence s minvalue 1 maxvalue 500 start 400;"
    )
    source_sql = (
        "create table volts(volt int generated by default as identity"
        " (start with -100 increment by 5 minvalue -100 maxvalue 100));"
        "create table live(id int generated always as identity (maxvalue 100));"
        "create sequence s minvalue 1 maxvalue 300 start 1;"
    )
    script = await migrate(pair, source_sql, target_sql)
    restarts = [s for s in script.statements if "$restart$" in s.sql]
    assert len(restarts) == 3 and all(Hazard.IRREVERSIBLE in s.hazards for s in restarts)
    # the conformance case (psqldef IdentitySequenceOptionsIgnored) restarts the sequence
    source, target = await pair.load(source_sql, target_sql)
    for _ in range(5):
        await pair.target.execute("insert into live default values")
    script = generate(diff(source, target))
    await apply(pair.target, script.statements)
    assert_same(source, await pair.introspect_target())
    seq = "select last_value from public.{}"
    assert await pair.target.fetchval(seq.format("volts_volt_seq")) == -100  # was -200
    assert await pair.target.fetchval(seq.format("live_id_seq")) == 5  # kept
    assert await pair.target.fetchval(seq.format("s")) == 1  # 400 > 300: restarted
    await apply(pair.target, script.reverse_statements)
    assert_same(target, await pair.introspect_target())
    assert await pair.target.fetchval("select nextval('public.live_id_seq')") == 6


async def test_column_privileges(pair: Pair) -> None:
    """GRANT/REVOKE SELECT (column): compared with the other privileges, only when asked."""
    source_sql = (
        "create table t(id int, secret text, open_ text, n serial);"
        f"grant select (id, open_), update (open_) on t to {ROLE};"
        f"grant usage on sequence t_n_seq to {ROLE};"
        f"create table whole(a int, b int); grant select on whole to {ROLE};"
        f"grant insert (a) on whole to {ROLE};"
        f"create table fresh(x int, y int); grant references (y) on fresh to {ROLE};"
    )
    target_sql = (
        "create table t(id int, secret text, open_ text, n serial);"
        f"grant select (id, secret) on t to {ROLE} with grant option;"
        f"grant usage, select on sequence t_n_seq to {ROLE};"
        f"create table whole(a int, b int); grant select, insert on whole to {ROLE};"
        f"grant insert (a) on whole to {ROLE};"
    )
    source, target = await pair.load(source_sql, target_sql)
    column_grants = {
        (tuple(p.target), p.privilege) for p in source.privileges if p.object_type == "column"
    }
    assert (("public", "t", "open_"), "UPDATE") in column_grants
    assert not [op for op in diff(source, target) if op.object_type.value == "privilege"]
    script = await migrate(pair, source_sql, target_sql, privileges=True)
    sqls = [s.sql for s in script.statements]
    assert f"GRANT SELECT (open_) ON TABLE public.t TO {ROLE};" in sqls
    assert f"REVOKE SELECT (secret) ON TABLE public.t FROM {ROLE};" in sqls
    assert f"GRANT REFERENCES (y) ON TABLE public.fresh TO {ROLE};" in sqls
    # REVOKE INSERT ON TABLE whole also takes INSERT (a) away: it is granted again
    assert sqls.index(f"REVOKE INSERT ON TABLE public.whole FROM {ROLE};") < sqls.index(
        f"GRANT INSERT (a) ON TABLE public.whole TO {ROLE};"
    )


async def test_collations(pair: Pair) -> None:
    """CREATE COLLATION before the tables, domains and types that use it; DROP after them."""
    if not await has_icu(pair.source):
        pytest.skip("this PostgreSQL build has no ICU collations")
    script = await migrate(
        pair,
        "create collation numeric (provider = icu, locale = 'en-u-kn-true');"
        "create collation ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
        'create collation fr (lc_collate = "C", lc_ctype = "POSIX");'
        "create table t(a text, b text collate numeric, c text collate ci);"
        "create domain d as text collate ci; create type ty as (x text collate numeric);",
        'create collation posix from "POSIX"; create collation fr (locale = "C");'
        "create table t(a text, b text collate posix);",
    )
    sqls = [s.sql for s in script.statements]
    assert (
        "CREATE COLLATION public.ci (provider = icu, locale = 'und-u-ks-level2',"
        " deterministic = false);" in sqls
    )
    assert sqls.index("DROP COLLATION public.fr;") < sqls.index(
        "CREATE COLLATION public.fr (provider = libc, lc_collate = 'C', lc_ctype = 'POSIX');"
    )
    assert sqls[-1] == "DROP COLLATION public.posix;"


async def test_not_valid_constraints_keep_their_state(pair: Pair) -> None:
    """A NOT VALID check or foreign key (table or domain) of the source stays NOT VALID in the
    target; one the source has validated gets VALIDATE CONSTRAINT."""
    source_sql = (
        "create table p(id int primary key);"
        "create table t(a int, b int, r int);"
        "alter table t add constraint stays check (a > 0) not valid;"
        "alter table t add constraint validated check (b > 0);"
        "alter table t add constraint invalidated check (a < 100) not valid;"
        "alter table t add constraint fk foreign key (r) references p not valid;"
        "alter table t add constraint fk_ok foreign key (b) references p;"
        "create table fresh(x int); alter table fresh add constraint fx check (x > 0) not valid;"
        "alter table fresh add constraint ffk foreign key (x) references p not valid;"
        "create domain d as int; alter domain d add constraint dc check (value > 0) not valid;"
        "create domain e as int; alter domain e add constraint ec check (value > 0) not valid;"
        "alter domain e validate constraint ec;"
    )
    target_sql = (
        "create table p(id int primary key);"
        "create table t(a int, b int, r int);"
        "alter table t add constraint validated check (b > 0) not valid;"
        "alter table t add constraint invalidated check (a < 100);"
        "alter table t add constraint fk_ok foreign key (b) references p not valid;"
        "create table gone(x int); alter table gone add constraint gx check (x > 0) not valid;"
        "create domain e as int; alter domain e add constraint ec check (value > 0) not valid;"
    )
    source, _ = await pair.load(source_sql, target_sql)
    validity = {c.name: c.valid for t in source.tables for c in t.constraints}
    assert validity["stays"] is False and validity["validated"] is True
    assert validity["fk"] is False and validity["fx"] is False
    script = await migrate(pair, source_sql, target_sql)
    sqls = [s.sql for s in script.statements]
    assert "ALTER TABLE public.t ADD CONSTRAINT stays CHECK ((a > 0)) NOT VALID;" in sqls
    assert not any("VALIDATE CONSTRAINT stays" in s for s in sqls)
    assert "ALTER TABLE public.t VALIDATE CONSTRAINT validated;" in sqls
    assert "ALTER TABLE public.t VALIDATE CONSTRAINT fk_ok;" in sqls
    assert "ALTER TABLE public.fresh ADD CONSTRAINT fx CHECK ((x > 0)) NOT VALID;" in sqls
    assert "ALTER DOMAIN public.e VALIDATE CONSTRAINT ec;" in sqls
    assert "ALTER DOMAIN public.d ADD CONSTRAINT dc CHECK ((VALUE > 0)) NOT VALID;" in sqls


async def test_introspected_catalog_validates(pair: Pair) -> None:
    """The introspector builds its models without validation (for speed): what it builds must
    be exactly what validation would give."""
    sql = "".join(
        f"create schema s{i}; set search_path = s{i}, public; {source}"
        for i, (source, _) in enumerate(CASES.values())
    )
    provider = "icu" if await has_icu(pair.source) else "libc"
    sql += (
        f"set search_path = public; create collation numeric (provider = {provider}, locale = 'C');"
        "create table np(a int, b text collate numeric);"
        "alter table np add constraint nv check (a > 0) not valid;"
        f"grant select (a) on np to {ROLE}; create sequence sq maxvalue 10 cycle owned by np.a;"
        "create table idt(i bigint generated always as identity (start 5 increment 2));"
    )
    catalog, _ = await pair.load(sql, "")
    assert catalog.collations and catalog.sequences and catalog.privileges
    again = Catalog.model_validate_json(catalog.model_dump_json())
    assert again.model_dump() == catalog.model_dump()
    assert again == Catalog.model_validate(catalog.model_dump())
    assert again.fingerprint() == catalog.fingerprint()


_ENUM_SWAPS = {
    # A view reads the column: it is dropped before the swap converts the column and created
    # again after (the reverse adds the label back, a plain ADD VALUE).
    "view over the column": (
        "create type mood as enum ('a', 'b'); create table t (id int, m mood);"
        "create view v as select id, m from t;",
        "create type mood as enum ('a', 'b', 'c'); create table t (id int, m mood);"
        "create view v as select id, m from t;",
    ),
    # The forward script adds a label, a column and a view; the reverse removes the label
    # while the view and the column are still there.
    "reverse of an added label, column and view": (
        "create type mood as enum ('a', 'b', 'c'); create table t (id int, m mood);"
        "create view v as select id, m from t where m <> 'c';",
        "create type mood as enum ('a', 'b'); create table t (id int);",
    ),
    # Columns the script drops (and a table it drops) are not converted: they are gone when
    # the swap runs. A column added with the new type is added after it.
    "dropped and added columns": (
        "create type mood as enum ('b', 'a'); create table t (id int, n mood default 'a');",
        "create type mood as enum ('a', 'b'); create table t (id int, m mood[], n mood);"
        "create table gone (m mood);",
    ),
    # Functions whose signature uses the type are dropped before the swap and created after
    # it, with the views that call them and their grants (the reverse swaps too: it removes
    # the label the migration adds, so only the reverse rebuilds "grade").
    "functions over the type": (
        "create type mood as enum ('a', 'b'); create table t (id int, m mood);"
        "create function label(m mood) returns text language sql immutable as 'select m::text';"
        "create function worst() returns mood language sql as $$select 'a'::mood$$;"
        "create view lv as select label(m) as l, worst() as w from t;"
        "create type level as enum ('low', 'mid', 'high');"
        "create function grade(x level) returns int language sql as 'select 2';"
        f"grant execute on function label(mood) to {ROLE};",
        "create type mood as enum ('a', 'b', 'c'); create table t (id int, m mood);"
        "create function label(m mood) returns text language sql immutable as 'select m::text';"
        "create function worst() returns mood language sql as $$select 'c'::mood$$;"
        "create view lv as select label(m) as l, worst() as w from t;"
        "create type level as enum ('low', 'high');"
        "create function grade(x level) returns int language sql as 'select 1';"
        f"grant execute on function label(mood) to {ROLE};",
    ),
    # A function the migration creates over the type is created after the swap, one it drops
    # is dropped before (either binds the old type otherwise).
    "functions created and dropped with the swap": (
        "create type mood as enum ('a', 'b');"
        "create function fresh(m mood) returns text language sql as 'select m::text';",
        "create type mood as enum ('a', 'b', 'c');"
        "create function stale(m mood) returns mood language sql as 'select m';",
    ),
    # Indexes and constraints that hold a value of the type depend on it: rebuilt around the
    # swap (both ways: "level" gains a value, which only the reverse removes).
    "partial index, check and unique key holding values": (
        "create type mood as enum ('a', 'b'); create type level as enum ('low', 'mid', 'high');"
        "create table t (id int, m mood check (m <> 'b'), l level default 'low',"
        " constraint one_a exclude using btree (id with =) where (m = 'a'));"
        "create index t_a on t (id) where m = 'a'; create index t_e on t ((m = 'b'));"
        "create unique index t_low on t (id) where l = 'low';"
        "create index t_plain on t (m);",
        "create type mood as enum ('a', 'b', 'c'); create type level as enum ('low', 'high');"
        "create table t (id int, m mood check (m <> 'b'), l level default 'low',"
        " constraint one_a exclude using btree (id with =) where (m = 'a'));"
        "create index t_a on t (id) where m = 'a'; create index t_e on t ((m = 'b'));"
        "create unique index t_low on t (id) where l = 'low';"
        "create index t_plain on t (m);",
    ),
    # A domain over the type is swapped with it: its columns go through text while it is
    # dropped and created over the new type (with its comment); views over them, and
    # functions taking it, are rebuilt around that.
    "domain over the type": (
        "create type mood as enum ('a', 'b'); create domain d as mood default 'a'"
        " constraint not_b check (value <> 'b'); comment on domain d is 'a feeling';"
        "create table t (id int, x d default 'a', xs d[]); create view dv as select x from t;"
        "create function f(v d) returns int language sql as 'select 1';",
        "create type mood as enum ('a', 'b', 'c'); create domain d as mood default 'a'"
        " constraint not_b check (value <> 'b'); comment on domain d is 'a feeling';"
        "create table t (id int, x d default 'a', xs d[]); create view dv as select x from t;"
        "create function f(v d) returns int language sql as 'select 1';",
    ),
    "domain over a type that gains a value": (
        "create type mood as enum ('a', 'b', 'c'); create domain d as mood;"
        "create table t (id int, x d); create view dv as select x from t;",
        "create type mood as enum ('a', 'c'); create domain d as mood;"
        "create table t (id int, x d); create view dv as select x from t;",
    ),
    # Partitions inherit the column: only the partitioned table is converted.
    "partitioned table and array column": (
        "create type mood as enum ('a', 'b');"
        "create table p (d date, m mood, ms mood[]) partition by range (d);"
        "create table p1 partition of p for values from ('2020-01-01') to ('2021-01-01');"
        "create view pv as select m, ms from p;",
        "create type mood as enum ('a', 'x', 'b');"
        "create table p (d date, m mood, ms mood[]) partition by range (d);"
        "create table p1 partition of p for values from ('2020-01-01') to ('2021-01-01');"
        "create view pv as select m, ms from p;",
    ),
}


_SWAPS_REFUSED = {
    "composite over the enum": ("create type pair as (m mood, n int);",) * 2,
    "domain over a domain over it": ("create domain d as mood; create domain dd as d;",) * 2,
    "composite over a domain over it": ("create domain d as mood; create type p as (x d);",) * 2,
    "domain the migration creates": ("create domain d as mood;", ""),
    "domain the migration drops": ("", "create domain d as mood;"),
}


@pytest.mark.parametrize(
    ("source_extra", "target_extra"), _SWAPS_REFUSED.values(), ids=_SWAPS_REFUSED
)
async def test_an_enum_swap_a_type_over_it_needs_is_refused(
    pair: Pair, source_extra: str, target_extra: str
) -> None:
    """A removed value under a composite type, or under a domain the swap cannot rebuild in
    place: the plan is refused with the reason, rather than failing when it runs."""
    source, target = await pair.load(
        f"create type mood as enum ('a', 'c'); {source_extra}",
        f"create type mood as enum ('a', 'b', 'c'); {target_extra}",
    )
    with pytest.raises(
        Unsupported, match=r"enum values under public\.(mood|d): .* public\.\w+ uses"
    ):
        diff(source, target)


@pytest.mark.parametrize(("source_sql", "target_sql"), _ENUM_SWAPS.values(), ids=_ENUM_SWAPS)
async def test_enum_type_swap(pair: Pair, source_sql: str, target_sql: str) -> None:
    """Removing or reordering labels swaps the type; views over converted columns are rebuilt
    around it and columns the script drops or adds are left to their own statements."""
    script = await migrate(pair, source_sql, target_sql)  # both ways
    swaps = 0
    for statements in (script.statements, script.reverse_statements):
        sql = [s.sql for s in statements]
        for swap in (i for i, s in enumerate(sql) if "RENAME TO" in s):
            swaps += 1
            assert all(i < swap for i, s in enumerate(sql) if s.startswith("DROP VIEW")), sql
            assert all(i > swap for i, s in enumerate(sql) if s.startswith("CREATE VIEW")), sql
    assert swaps  # a removal or a reordering, one way or both


async def test_view_definitions_are_read_without_keeping_their_locks(pair: Pair) -> None:
    """pg_get_viewdef() locks what each view reads until the end of the transaction; the
    introspector reads views in a savepoint it rolls back, so the locks go with it."""
    ddl = "".join(
        f"create table t{i} (a int); create view v{i} as select a from t{i};" for i in range(40)
    )
    await pair.load(ddl, "")
    conn = pair.source

    async def own_locks() -> int:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'"
        )

    async with conn.transaction(isolation="repeatable_read", readonly=True):
        before = await own_locks()
        rows = await fetch_without_keeping_locks(conn, VIEWS_SQL)
        assert len(rows) == 40
        assert await own_locks() <= before + 2
        await conn.fetch(VIEWS_SQL)  # the same query, not in a savepoint, keeps them
        assert await own_locks() >= before + 40  # one per view at least


async def test_recreated_objects_keep_their_privileges(pair: Pair) -> None:
    """Without a privileges comparison, a view rebuilt around a column change and a function
    rebuilt for a new result type keep the target's grants (and its revoke from PUBLIC),
    after the migration and after its reverse."""
    body = (
        "create table t (a {a}); create view v as select a from t;"
        "create function f() returns {f} language sql as 'select 1';"
        "create view w as select f() as x;"
    )
    acl = (
        f"grant select on v, w to {ROLE}; revoke execute on function f() from public;"
        f"grant execute on function f() to {ROLE};"
    )
    source_sql = body.format(a="bigint", f="bigint")  # no grants: they are not compared
    target_sql = body.format(a="integer", f="integer") + acl
    source, target = await pair.load(source_sql, target_sql)
    script = generate(diff(source, target))
    assert any(s.sql.startswith("DROP VIEW public.v") for s in script.statements)

    async def privileges() -> tuple[bool, ...]:
        return tuple(
            await pair.target.fetchrow(
                f"SELECT has_table_privilege('{ROLE}', 'public.v', 'SELECT'),"
                f" has_table_privilege('{ROLE}', 'public.w', 'SELECT'),"
                f" has_function_privilege('{ROLE}', 'public.f()', 'EXECUTE'),"
                " has_function_privilege('public', 'public.f()', 'EXECUTE')"
            )
        )

    held = (True, True, True, False)
    assert await privileges() == held
    await apply(pair.target, script.statements)
    # Converged but for the privileges, which stay the target's (fingerprints include them).
    assert diff(source, await pair.introspect_target()) == []
    assert await privileges() == held
    await apply(pair.target, script.reverse_statements)
    assert_same(target, await pair.introspect_target(), privileges=True)
    assert await privileges() == held


async def test_the_reverse_of_an_added_enum_value_rebuilds_the_views_over_its_columns(
    pair: Pair,
) -> None:
    """Adding a value is done in place; undoing it swaps the type, so the reverse script (and
    only it) rebuilds the views over the converted column, with their comments and grants."""
    rest = (
        "create table t (id int, m mood); create view v as select id, m from t;"
        "create view v2 as select m from v; create view other as select id from t;"
        f"comment on view v is 'moods'; grant select on v to {ROLE};"
    )
    source_sql = "create type mood as enum ('a', 'b', 'c');" + rest
    target_sql = "create type mood as enum ('a', 'b');" + rest
    script = await migrate(pair, source_sql, target_sql)  # forward, then reverse: both converge
    forward = [s.sql for s in script.statements]
    assert forward == ["ALTER TYPE public.mood ADD VALUE 'c' AFTER 'b';"]
    back = [s.sql for s in script.reverse_statements]
    swap = back.index("ALTER TYPE public.mood RENAME TO mood__old;")
    assert back.index("DROP VIEW public.v2;") < back.index("DROP VIEW public.v;") < swap
    created = [i for i, s in enumerate(back) if s.startswith("CREATE VIEW public.v")]
    assert len(created) == 2 and min(created) > swap
    assert not any("public.other" in s for s in back)  # it does not read the column
    assert "COMMENT ON VIEW public.v IS 'moods';" in back
    assert f"GRANT SELECT ON TABLE public.v TO {ROLE};" in back
