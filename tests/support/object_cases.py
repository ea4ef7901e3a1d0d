"""The object kinds beyond tables, one case each: (SOURCE, TARGET) DDL that the engine must
migrate in both directions (tests/engine/postgres/test_objects.py), and whose sources together
hold every kind (also read by tests/engine/postgres/test_regressions.py).
"""

from __future__ import annotations

from tests.support.engine import ROLE

_FN_BUMP = (
    "create function bump() returns trigger language plpgsql as"
    " $$ begin new.n := new.n + {n}; return new; end $$;"
)

CASES: dict[str, tuple[str, str]] = {
    "functions_created_replaced_dropped": (
        "create function add(a int, b int) returns int language sql immutable as 'select a + b';"
        "create function gone_not() returns int language sql as 'select 2';"
        "create procedure p(x int) language plpgsql as $$ begin perform x; end $$;"
        "create function f(t text default 'x') returns text language plpgsql strict"
        " security definer as $$ begin return upper(t); end $$;",
        "create function add(a int, b int) returns int language sql immutable as 'select a - b';"
        "create function f(t text default 'x') returns text language plpgsql"
        " as $$ begin return t; end $$; create function old(x int) returns int language sql"
        " as 'select x';",
    ),
    "function_result_changes_with_dependent_view": (
        "create function v() returns bigint language sql immutable as 'select 1::bigint';"
        "create view w as select v() as one;",
        "create function v() returns int language sql immutable as 'select 1';"
        "create view w as select v() as one;",
    ),
    "functions_used_by_defaults_checks_indexes": (
        "create function two() returns int language sql immutable as 'select 2';"
        "create function norm(t text) returns text language sql immutable as 'select lower(t)';"
        "create table t(a int default two() check (a <= two() * 10), b text,"
        " c int generated always as (a * two()) stored);"
        "create index t_norm on t(norm(b));",
        "",
    ),
    "sql_function_reading_a_view": (
        "create table base(x int); create view bv as select x from base;"
        "create function from_view() returns setof int language sql as 'select x from bv';"
        "create view over_fn as select * from from_view() as f(x);",
        "create table base(x int);",
    ),
    "triggers": (
        "create table emp(n int, name text);"
        + _FN_BUMP.format(n=2)
        + "create trigger t_bump before insert or update on emp for each row execute function"
        " bump(); create trigger t_off after delete on emp for each row execute function bump();"
        "alter table emp disable trigger t_off;"
        "create view ev as select * from emp; create function ins() returns trigger"
        " language plpgsql as $$ begin insert into emp values (new.n, new.name); return new;"
        " end $$; create trigger ev_ins instead of insert on ev for each row execute function"
        " ins();",
        "create table emp(n int, name text);"
        + _FN_BUMP.format(n=1)
        + "create trigger t_bump before update on emp for each row execute function bump();"
        "create trigger t_off after delete on emp for each row execute function bump();"
        "create trigger t_gone after insert on emp for each statement execute function bump();",
    ),
    "trigger_on_recreated_function": (
        "create table emp(n int);"
        "create function bump() returns trigger language plpgsql as $$ begin return new; end $$;"
        "create trigger t before insert on emp for each row execute function bump();",
        "create table emp(n int);create function bump() returns int language sql as 'select 1';",
    ),
    "domains": (
        "create domain pos as int default 1 not null constraint pos_check check (value > 0);"
        "create domain code as varchar(8) collate \"C\" check (value ~ '^[A-Z]+$');"
        "create domain email as text constraint has_at check (value like '%@%');"
        "create table t(p pos, c code, e email, arr pos[]);",
        "create domain pos as int constraint pos_check check (value >= 0)"
        " constraint pos_small check (value < 100);"
        "create domain email as text; create domain gone as int;"
        "create table t(p pos, e email);",
    ),
    "composite_types": (
        "create type pair as (a int, b text, c numeric(10,2));"
        'create type fresh as (x int, y text collate "C");'
        "create type loose as (x bigint, y text); create table t(p pair, q fresh);",
        "create type pair as (a int, b text, d int); create type gone as (z int);"
        "create type loose as (x int, y varchar(3)); create table t(p pair);",
    ),
    "partitions": (
        "create table m(id int, d date, extra text, primary key (id, d)) partition by range (d);"
        "create index m_d on m(d);"
        "create table m_2020 partition of m for values from ('2020-01-01') to ('2021-01-01');"
        "create table m_2021 partition of m for values from ('2021-01-01') to ('2022-06-01');"
        "create table m_new partition of m for values from ('2023-01-01') to ('2024-01-01');"
        "create table loose(id int not null, d date not null, extra text);"
        "create table l(k text, v int) partition by list (k);"
        "create table l_ab partition of l for values in ('a', 'b');"
        "create table l_rest partition of l default;"
        "create table h(id int) partition by hash (id);"
        "create table h0 partition of h for values with (modulus 2, remainder 0);"
        "create table h1 partition of h for values with (modulus 2, remainder 1);"
        "create table becomes(id int not null, d date not null, extra text);"
        "alter table m attach partition becomes for values from ('2022-06-01') to ('2023-01-01');"
        "create index m_2020_local on m_2020(extra);",
        "create table m(id int, d date, primary key (id, d)) partition by range (d);"
        "create table m_2020 partition of m for values from ('2020-01-01') to ('2021-01-01');"
        "create table m_2021 partition of m for values from ('2021-01-01') to ('2022-01-01');"
        "create table loose partition of m for values from ('2019-01-01') to ('2020-01-01');"
        "create table becomes(id int not null, d date not null, extra text);"
        "create table l(k text, v int);"
        "create table h(id int) partition by range (id);",
    ),
    "repartitioned_parent_keeps_its_partitions": (
        "create table p(k int, v text) partition by list (k);"
        "create table p1 partition of p for values in (1);"
        "alter table p1 add primary key (k); create table r(id int references p1(k));"
        "comment on table p is 'list';",
        "create table p(k int, v text) partition by range (k);"
        "create table p1 partition of p for values from (1) to (2);"
        "comment on table p is 'range';",
    ),
    "inheritance": (
        "create table base(id int, at timestamptz default now());"
        "create table child(extra text) inherits (base);"
        "create table other(o int); create table both_(b int) inherits (base, other);"
        "create table adopted(id int, at timestamptz default now(), z int);"
        "alter table adopted inherit base;",
        "create table base(id int, at timestamptz default now(), old int);"
        "create table child(extra text) inherits (base); create table other(o int);"
        "create table both_(b int) inherits (other);"
        "create table adopted(id int, at timestamptz default now(), z int);",
    ),
    # Range types (their constructor functions are part of them), with options, a custom
    # multirange name, columns of both, and a function over one.
    "range_types": (
        "create type floatrange as range (subtype = float8, subtype_diff = float8mi);"
        'create type textrange as range (subtype = text, collation = "C");'
        "create type spans as range (subtype = int8, multirange_type_name = span_set);"
        "create table r (id int, f floatrange, fs floatmultirange, s span_set);"
        "create function width(floatrange) returns float8 language sql"
        " as 'select upper($1) - lower($1)';"
        "comment on type floatrange is 'a float range';",
        "create type gone as range (subtype = int4); create table r (id int, g gone);",
    ),
    # Storage parameters (the TOAST table's too) are set and reset in place; REPLICA IDENTITY
    # USING INDEX comes once the index exists.
    "storage_parameters_and_replica_identity": (
        "create table t (a int not null, b text) with (fillfactor = 70,"
        " autovacuum_enabled = false, toast.autovacuum_enabled = false);"
        "create unique index t_a on t (a); alter table t replica identity using index t_a;"
        "create table f (a int) with (fillfactor = 50); alter table f replica identity full;"
        "create table n (a int);"
        "create table g (a int not null) with (fillfactor = 60); create unique index g_a on g (a);"
        "alter table g replica identity using index g_a;",
        "create table t (a int not null, b text)"
        " with (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.2);"
        "create table f (a int); create table n (a int); alter table n replica identity nothing;",
    ),
    # The parent gains a check as the table joins it: the table takes the check before
    # INHERIT / ATTACH; undoing it unlinks the table before the parent loses the check.
    "joining_a_parent_with_a_check": (
        "create table base(id int not null, x int, constraint base_x_check check (x > 0));"
        "create table child(extra text) inherits (base);"
        "create table p(k int not null, constraint p_k_check check (k > 0)) partition by range (k);"
        "create table p1 partition of p for values from (1) to (10);",
        "create table base(id int not null, x int);"
        "create table child(id int not null, x int, extra text);"
        "create table p(k int not null) partition by range (k); create table p1(k int not null);",
    ),
    # Aggregates: normal (with a user transition function, a final function, a moving-
    # aggregate mode), ordered-set and hypothetical; created, replaced, dropped, commented.
    "aggregates": (
        "create function add_sq(int, int) returns int language sql immutable"
        " as 'select $1 + $2 * $2';"
        "create function half(int) returns numeric language sql immutable as 'select $1 / 2.0';"
        "create aggregate sum_sq(int) (sfunc = add_sq, stype = int, initcond = '0',"
        " finalfunc = half, parallel = safe);"
        "create aggregate moving_sum(int) (sfunc = int4pl, stype = int, msfunc = int4pl,"
        " minvfunc = int4mi, mstype = int);"
        "create aggregate my_pct(float8 order by float8) (sfunc = ordered_set_transition,"
        " stype = internal, finalfunc = percentile_disc_final, finalfunc_extra);"
        'create aggregate my_rank(variadic "any" order by variadic "any")'
        " (sfunc = ordered_set_transition_multi, stype = internal, finalfunc = rank_final,"
        " finalfunc_extra, hypothetical);"
        "comment on aggregate sum_sq(int) is 'sum of squares';"
        "create view v as select sum_sq(x) as s from (values (1)) t(x);",
        "create function add_sq(int, int) returns int language sql immutable"
        " as 'select $1 + $2 * $2';"
        "create aggregate sum_sq(int) (sfunc = add_sq, stype = int, initcond = '1');"
        "create aggregate gone_max(int) (sfunc = int4larger, stype = int, sortop = >);",
    ),
    # Extended statistics: created, dropped (also with their table), redefined, retargeted.
    "extended_statistics": (
        "create table t (a int, b int, c text);"
        "create statistics st_ab (dependencies, ndistinct) on a, b from t;"
        "create statistics st_new on a, c from t; alter statistics st_new set statistics 500;"
        "create statistics st_target on b, c from t;",
        "create table t (a int, b int, c text); create statistics st_ab (mcv) on a, b from t;"
        "create statistics st_target on b, c from t; alter statistics st_target set statistics 50;"
        "create table gone (x int, y int); create statistics st_gone on x, y from gone;",
    ),
    # View options (reloptions) are part of the view: a changed one rebuilds it.
    "view_options": (
        "create table t(a int); create view v with (security_barrier = true) as select a from t;"
        "create view w as select a from t where a > 0 with cascaded check option;"
        "create view same as select a from t;",
        "create table t(a int); create view v as select a from t;"
        "create view w as select a from t where a > 0;"
        "create view same as select a from t;",
    ),
    # NO INHERIT and DETACH PARTITION leave the parent's constraints on the table as its own;
    # those the source's table does not have go (unless another parent still passes them on),
    # and from PostgreSQL 18 the NOT NULL constraints are renamed from the parent's names.
    "leaving_a_parent": (
        "create table base(id int not null, constraint positive check (id > 0));"
        "create table base2(id int not null, constraint positive check (id > 0));"
        "create table leaver(id int not null, extra text);"
        "create table two() inherits (base2);"
        "create table p(k int not null, v int, constraint kpos check (k > 0))"
        " partition by range (k);"
        "create table p1(k int not null, v int);",
        "create table base(id int not null, constraint positive check (id > 0));"
        "create table base2(id int not null, constraint positive check (id > 0));"
        "create table leaver(extra text) inherits (base);"
        "create table two() inherits (base, base2);"
        "create table p(k int not null, v int, constraint kpos check (k > 0))"
        " partition by range (k);"
        "create table p1 partition of p for values from (1) to (10);",
    ),
    "row_level_security": (
        f"create table acc(id int, manager text, v int); alter table acc enable row level"
        f" security; alter table acc force row level security;"
        f"create policy own on acc as restrictive for select to {ROLE}"
        f" using (manager = current_user);"
        f"create policy ins on acc for insert to {ROLE}, public with check (v > 0);"
        f"create policy upd on acc for update using (true) with check (v < 10);"
        f"create table open_(x int);",
        "create table acc(id int, manager text, v int); alter table acc enable row level"
        " security; create policy own on acc for select using (manager = current_user);"
        "create policy ins on acc for insert with check (v >= 0);"
        "create policy upd on acc for update using (v > 1) with check (v < 10);"
        "create policy gone on acc using (id > 0);"
        "create table open_(x int); alter table open_ enable row level security;",
    ),
    "policy_over_retyped_column": (
        "create table t(a bigint); alter table t enable row level security;"
        "create policy p on t using (a > 0);",
        "create table t(a int); alter table t enable row level security;"
        "create policy p on t using (a > 0);",
    ),
    "materialized_view_indexes": (
        "create table t(id int, v text); create materialized view mv as select id, v from t;"
        "create unique index mv_id on mv(id); create index mv_v on mv(v);"
        "create materialized view fresh as select id from t; create index fresh_id on fresh(id);",
        "create table t(id int, v text); create materialized view mv as select id, v from t;"
        "create index mv_id on mv(id); create index mv_old on mv(v, id);",
    ),
    "comments_on_everything": (
        "create type e as enum ('a'); comment on type e is 'an enum';"
        "create domain d as int check (value > 0); comment on domain d is 'a domain';"
        "create type c as (x int); comment on type c is 'composite';"
        "create sequence s; comment on sequence s is 'seq';"
        "create function f(x int) returns int language sql as 'select x';"
        "comment on function f(int) is 'fn';"
        "create procedure pr() language sql as 'select 1'; comment on procedure pr() is 'proc';"
        "create table t(a int constraint t_pos check (a > 0), n int);"
        "comment on constraint t_pos on t is 'positive';"
        "create function tf() returns trigger language plpgsql as $$ begin return new; end $$;"
        "create trigger tr before insert on t for each row execute function tf();"
        "comment on trigger tr on t is 'trig';"
        "create policy po on t using (true); comment on policy po on t is 'pol';",
        "create type e as enum ('a'); create domain d as int check (value > 0);"
        "comment on domain d is 'old'; create type c as (x int); create sequence s;"
        "comment on sequence s is 'old seq';"
        "create function f(x int) returns int language sql as 'select x';"
        "create procedure pr() language sql as 'select 1';"
        "create table t(a int constraint t_pos check (a > 0), n int);"
        "comment on constraint t_pos on t is 'was';"
        "create function tf() returns trigger language plpgsql as $$ begin return new; end $$;"
        "create trigger tr before insert on t for each row execute function tf();"
        "create policy po on t using (true);",
    ),
}
