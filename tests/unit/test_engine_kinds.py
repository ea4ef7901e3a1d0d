"""Unit tests of the engine's newer kinds: ordering, options and version gates (no database)."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import UnsupportedByTarget, diff
from schemashift.consumers.generator.render import generate
from schemashift.schemas.catalog import (
    Catalog,
    Column,
    Domain,
    DomainConstraint,
    Function,
    Index,
    Privilege,
    Table,
    Trigger,
)


def fn(name: str, body: str = "select 1", result: str = "integer", lang: str = "sql") -> Function:
    return Function(
        schema_name="public",
        name=name,
        identity_args="",
        result=result,
        language=lang,
        definition=f"CREATE OR REPLACE FUNCTION public.{name}()\n RETURNS {result}\n"
        f" LANGUAGE {lang}\nAS $function${body}$function$\n",
    )


def sqls(source: Catalog, target: Catalog, **kw: bool) -> list[str]:
    return [s.sql for s in generate(diff(source, target), **kw).statements]


def at(statements: list[str], fragment: str) -> int:
    return next(i for i, s in enumerate(statements) if fragment in s)


TABLE = Table(
    schema_name="public",
    name="t",
    columns=[Column(name="a", type="integer", default="public.two()")],
)


def test_function_is_created_before_the_table_that_calls_it_and_dropped_after() -> None:
    source = Catalog(functions=[fn("two", "select 2")], tables=[TABLE])
    forward = sqls(source, Catalog())
    assert at(forward, "FUNCTION public.two()") < at(forward, "CREATE TABLE public.t")
    backward = [s.sql for s in generate(diff(Catalog(), source)).statements]
    assert at(backward, "DROP TABLE public.t") < at(backward, "DROP FUNCTION public.two()")


def test_sql_function_reading_a_table_is_created_after_it() -> None:
    source = Catalog(functions=[fn("n", "select count(*) from t", "bigint")], tables=[TABLE])
    forward = sqls(source, Catalog())
    assert at(forward, "CREATE TABLE public.t") < at(forward, "FUNCTION public.n()")


def test_trigger_after_its_function_and_table_and_dropped_first() -> None:
    trigger = Trigger(
        schema_name="public",
        table="t",
        name="tr",
        definition="CREATE TRIGGER tr BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION"
        " public.f()",
        enabled="D",
        function=["public", "f", ""],
    )
    source = Catalog(
        functions=[fn("f", "begin return new; end", "trigger", "plpgsql")],
        tables=[TABLE.model_copy(update={"columns": [Column(name="a", type="integer")]})],
        triggers=[trigger],
    )
    forward = sqls(source, Catalog())
    assert at(forward, "FUNCTION public.f()") < at(forward, "CREATE TRIGGER tr")
    assert at(forward, "CREATE TABLE public.t") < at(forward, "CREATE TRIGGER tr")
    assert forward[-1] == "ALTER TABLE public.t DISABLE TRIGGER tr;"
    backward = [s.sql for s in generate(diff(Catalog(), source)).statements]
    assert backward[0] == "DROP TRIGGER tr ON public.t;"


def executable_by_public(*names: str) -> list[Privilege]:
    """PostgreSQL's default ACL of functions, as an introspected catalog holds it."""
    return [
        Privilege(
            object_type="function", target=["public", n, ""], grantee="PUBLIC", privilege="EXECUTE"
        )
        for n in names
    ]


def test_result_type_change_drops_and_creates_body_change_replaces() -> None:
    old = Catalog(
        functions=[fn("f", "select 1"), fn("g")], privileges=executable_by_public("f", "g")
    )
    new = Catalog(functions=[fn("f", "select 2"), fn("g", "select 1::bigint", "bigint")])
    ops = {(op.label, op.obj_as(Function).name) for op in diff(new, old)}
    assert ops == {
        ("alter_function", "f"),
        ("drop_function", "g"),
        ("create_function", "g"),
    }


def test_a_rebuilt_function_keeps_its_revoke_from_public() -> None:
    """Created again, a function is executable by PUBLIC; a target that revoked it keeps that
    (and its grants) although privileges are not compared."""
    grant = Privilege(
        object_type="function", target=["public", "g", ""], grantee="app", privilege="EXECUTE"
    )
    old = Catalog(functions=[fn("g")], privileges=[grant])
    new = Catalog(functions=[fn("g", "select 1::bigint", "bigint")])
    script = generate(diff(new, old))
    forward = [s.sql for s in script.statements]
    again = {
        "GRANT EXECUTE ON ROUTINE public.g() TO app;",
        "REVOKE EXECUTE ON ROUTINE public.g() FROM PUBLIC;",
    }
    assert set(forward[-2:]) == again, forward  # after the function is created again
    # The reverse creates it once more: the same privileges again.
    backward = [s.sql for s in script.reverse_statements]
    assert set(backward[-2:]) == again, backward


def test_domain_constraint_change_is_drop_and_add() -> None:
    old = Domain(
        schema_name="public",
        name="d",
        base_type="integer",
        constraints=[DomainConstraint(name="c", definition="CHECK ((VALUE > 0))")],
    )
    new = old.model_copy(
        update={
            "default": "1",
            "constraints": [DomainConstraint(name="c", definition="CHECK ((VALUE > 1))")],
        }
    )
    assert sqls(Catalog(domains=[new]), Catalog(domains=[old])) == [
        "ALTER DOMAIN public.d SET DEFAULT 1;",
        "ALTER DOMAIN public.d DROP CONSTRAINT c;",
        "ALTER DOMAIN public.d ADD CONSTRAINT c CHECK ((VALUE > 1));",
    ]


def test_privileges_are_compared_only_when_asked() -> None:
    table = Table(schema_name="public", name="t")
    grant = Privilege(object_type="table", target=["public", "t"], grantee="r", privilege="SELECT")
    source = Catalog(tables=[table], privileges=[grant])
    target = Catalog(tables=[table])
    assert diff(source, target) == []
    ops = diff(source, target, privileges=True)
    assert [s.sql for s in generate(ops).statements] == ["GRANT SELECT ON TABLE public.t TO r;"]
    assert [s.sql for s in generate(ops).reverse_statements] == [
        "REVOKE SELECT ON TABLE public.t FROM r;"
    ]


def test_version_gate_refuses_syntax_the_target_lacks() -> None:
    index = Index(
        name="u",
        definition="CREATE UNIQUE INDEX u ON public.t USING btree (a) NULLS NOT DISTINCT",
        unique=True,
        columns=["a"],
    )
    table = Table(schema_name="public", name="t", columns=[Column(name="a", type="integer")])
    source = Catalog(tables=[table.model_copy(update={"indexes": [index]})])
    old = Catalog(server_version="14.9", tables=[table])
    with pytest.raises(UnsupportedByTarget, match=r"NULLS NOT DISTINCT.*PostgreSQL 14.*15"):
        diff(source, old)
    assert diff(source, old.model_copy(update={"server_version": "15.4"}))
    generated = Column(name="g", type="integer", generated="(a * 2)")
    newer = Catalog(tables=[table.model_copy(update={"columns": [*table.columns, generated]})])
    with pytest.raises(UnsupportedByTarget, match="generated columns"):
        diff(newer, old.model_copy(update={"server_version": "11.2"}))


def test_concurrent_index_option() -> None:
    index = Index(name="i", definition="CREATE INDEX i ON public.t USING btree (a)", columns=["a"])
    table = Table(schema_name="public", name="t", columns=[Column(name="a", type="integer")])
    source = Catalog(tables=[table.model_copy(update={"indexes": [index]})])
    script = generate(diff(source, Catalog(tables=[table])), concurrent_indexes=True)
    [create] = script.statements
    assert create.sql == "CREATE INDEX CONCURRENTLY i ON public.t USING btree (a);"
    assert not create.transactional
    [drop] = script.reverse_statements
    assert drop.sql == "DROP INDEX CONCURRENTLY public.i;" and not drop.transactional
    plain = generate(diff(source, Catalog(tables=[table])))
    assert plain.statements[0].transactional
