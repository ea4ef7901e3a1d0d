"""The engine against real SQLite files: introspect, diff, generate, apply, and judge.

Each case builds a SOURCE (desired) and a TARGET file from DDL, migrates the target through
the executor's apply path and asserts convergence: the independent snapshot of both files is
the same (tests/support/sqlite_snapshot.py) and the engine re-diffs to nothing. The reverse
script is then applied too and must bring back the target's original schema.
"""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.generator.render import generate
from schemashift.schemas.operations import ObjectType
from tests.support.sqlite_engine import Files, converge

pytestmark = pytest.mark.sqlite

USERS = "create table users (id integer primary key, name text, age integer);"

CASES: dict[str, tuple[str, str]] = {
    "add_table": (
        "create table t (id integer primary key, name text not null default 'x', at text);"
        "create index t_name on t (name);",
        "",
    ),
    "drop_table": ("", "create table t (id integer primary key, n text unique);"),
    "add_nullable_column": (
        "create table t (id integer primary key, a text, b integer default 3);",
        "create table t (id integer primary key);",
    ),
    "add_not_null_column_without_default": (
        "create table t (id integer primary key, a text not null);",
        "create table t (id integer primary key);",
    ),
    "add_column_with_expression_default": (
        "create table t (id integer primary key, at text default (datetime('now')),"
        " c text default current_timestamp);",
        "create table t (id integer primary key);",
    ),
    "drop_plain_column": (
        "create table t (id integer primary key, a text);",
        "create table t (id integer primary key, a text, b integer, c blob);",
    ),
    "drop_indexed_column": (
        "create table t (id integer primary key, a text);",
        "create table t (id integer primary key, a text, b integer);create index t_b on t (b);",
    ),
    "drop_unique_and_foreign_key_columns": (
        "create table p (id integer primary key); create table t (id integer primary key);",
        "create table p (id integer primary key);"
        "create table t (id integer primary key, u text unique, p integer references p (id));",
    ),
    "type_changes": (
        "create table t (a integer, b varchar(20), c real, d numeric(10, 2), e blob);",
        "create table t (a text, b varchar(10), c integer, d numeric(12, 4), e text);",
    ),
    "nullability_and_defaults": (
        "create table t (a int not null, b int, c text default 'y', d int default 1);",
        "create table t (a int, b int not null, c text default 'x', d int);",
    ),
    "collations": (
        "create table t (a text collate nocase, b text, c text collate rtrim);",
        "create table t (a text, b text collate nocase, c text collate binary);",
    ),
    "checks": (
        "create table t (a int check (a > 0), b int, constraint b_small check (b < 10),"
        " check (a < b));",
        "create table t (a int, b int, constraint b_small check (b < 100));",
    ),
    "unique_constraints": (
        "create table t (a int unique, b int, c int, unique (b, c));",
        "create table t (a int, b int unique, c int, constraint bc unique (c, b));",
    ),
    "primary_keys": (
        "create table t (a int, b text, primary key (a, b));"
        "create table u (id integer primary key, x int);",
        "create table t (a int primary key, b text);create table u (id int, x int);",
    ),
    "autoincrement": (
        "create table t (id integer primary key autoincrement, a text);"
        "create table u (id integer primary key, a text);",
        "create table t (id integer primary key, a text);"
        "create table u (id integer primary key autoincrement, a text);",
    ),
    "foreign_keys": (
        "create table p (id integer primary key, code text unique);"
        "create table c (id integer primary key,"
        " p integer references p (id) on delete cascade on update set null,"
        " code text, constraint c_code foreign key (code) references p (code)"
        " deferrable initially deferred);",
        "create table p (id integer primary key, code text unique);"
        "create table c (id integer primary key, p integer references p (id), code text);",
    ),
    "foreign_key_cycle": (
        "create table a (id integer primary key, b integer references b (id));"
        "create table b (id integer primary key, a integer references a (id));",
        "create table a (id integer primary key); create table b (id integer primary key);",
    ),
    "self_reference": (
        "create table t (id integer primary key, parent integer references t (id), n text);",
        "create table t (id integer primary key, parent integer);",
    ),
    "strict_and_without_rowid": (
        "create table s (id integer primary key, a text, b any) strict;"
        "create table w (k text primary key, v int) without rowid;"
        "create table sw (k integer primary key, v text) strict, without rowid;",
        "create table s (id integer primary key, a text, b any);"
        "create table w (k text primary key, v int);"
        "create table sw (k integer primary key, v text) without rowid;",
    ),
    "generated_columns": (
        "create table t (a int, b int, v int as (a + b), s int as (a * b) stored,"
        " w int generated always as (a - b) virtual);",
        "create table t (a int, b int, v int as (a - b), s int, x int as (a) stored);",
    ),
    "add_virtual_generated_column": (
        "create table t (a int, v int as (a * 2));",
        "create table t (a int);",
    ),
    "indexes": (
        "create table t (a int, b text, c int);"
        "create index t_a on t (a desc);"
        "create unique index t_b on t (b collate nocase) where c > 0;"
        "create index t_expr on t (lower(b), a + c);",
        "create table t (a int, b text, c int);"
        "create index t_a on t (a); create index t_c on t (c);",
    ),
    "views": (
        USERS + "create view adults as select id, name from users where age >= 18;"
        "create view names as select name from adults;",
        USERS + "create view adults as select id, name from users where age > 17;",
    ),
    "views_over_a_rebuilt_table": (
        "create table users (id integer primary key, name text not null default '', age int);"
        "create view adults as select id, name from users where age >= 18;"
        "create view adult_names as select name from adults;",
        USERS + "create view adults as select id, name from users where age >= 18;"
        "create view adult_names as select name from adults;",
    ),
    "triggers": (
        USERS + "create table log (msg text);"
        "create trigger users_ins after insert on users begin"
        " insert into log values ('new ' || new.name); end;"
        "create view v as select * from users;"
        "create trigger v_ins instead of insert on v begin"
        " insert into users (name) values (new.name); end;",
        USERS + "create table log (msg text);"
        "create trigger users_ins after insert on users begin"
        " insert into log values ('added'); end;"
        "create trigger users_del before delete on users begin select 1; end;",
    ),
    "triggers_around_a_rebuild": (
        "create table users (id integer primary key, name text not null default 'x');"
        "create table log (user_id int, msg text);"
        "create trigger users_ins after insert on users begin"
        " insert into log values (new.id, 'x'); end;"
        "create trigger log_ins after insert on log begin"
        " update users set name = name where id = new.user_id; end;",
        "create table users (id integer primary key, name text);"
        "create table log (user_id int, msg text);"
        "create trigger users_ins after insert on users begin"
        " insert into log values (new.id, 'x'); end;"
        "create trigger log_ins after insert on log begin"
        " update users set name = name where id = new.user_id; end;",
    ),
    "names_differing_in_case": (
        "create table users (id integer primary key, name text, email text);"
        "create index users_email on users (email);",
        "create table USERS (id integer primary key, Name text);",
    ),
    "drop_a_column_a_trigger_uses": (
        "create table t (id integer primary key); create table log (n int);"
        "create trigger t_ins after insert on t begin insert into log values (1); end;",
        "create table t (id integer primary key, a int); create table log (n int);"
        "create trigger t_ins after insert on t begin insert into log values (new.a); end;",
    ),
    "drop_a_referenced_key_column": (
        "create table p (id integer primary key); create table c (x int);",
        "create table p (id integer primary key, code text unique);"
        "create table c (x int references p (code));",
    ),
    "add_unique_and_not_null_columns": (
        "create table t (id integer primary key, u text unique, n int not null default 0);",
        "create table t (id integer primary key);",
    ),
    "rowid_alias_changes": (
        "create table t (id int primary key, a text); create table u (id integer primary key);",
        "create table t (id integer primary key, a text); create table u (id int primary key);",
    ),
    "view_with_columns_and_unique_index": (
        "create table t (a int, b int); create view v (x, y) as select a, b from t;"
        "create unique index t_a on t (a);",
        "create table t (a int, b int); create view v (x) as select a from t;"
        "create index t_a on t (a);",
    ),
    "hostile_names": (
        'create table "odd ""name""" ("a b" int, "select" text, [c d] int);'
        'create index "odd idx" on "odd ""name""" ("a b");'
        'create view "v w" as select "a b" from "odd ""name""";',
        'create table "odd ""name""" ("a b" text, "select" text not null default 1);',
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_converges(files: Files, case: str) -> None:
    source_sql, target_sql = CASES[case]
    await converge(files.new(source_sql), files.new(target_sql))


async def test_an_older_target_rebuilds_instead_of_dropping_columns(files: Files) -> None:
    """Below SQLite 3.35 there is no DROP COLUMN: the table is rebuilt, both ways."""
    source = await introspect(files.new("create table t (a int, b int);"))
    target = await introspect(files.new("create table t (a int, c text);"))
    older = target.model_copy(update={"server_version": "3.34.1"})
    ops = diff(source, older)
    assert [(o.label, o.name) for o in ops] == [("alter_table", "t")]
    assert ops[0].object_type is ObjectType.TABLE and ops[0].reason
    assert "drop_column c" in ops[0].reason and "create_column b" in ops[0].reason
    script = generate(ops, "sqlite")
    assert not any("DROP COLUMN" in s.sql for s in script.statements + script.reverse_statements)
    native = diff(source, target)
    assert sorted(o.label for o in native) == ["create_column", "drop_column"]
