"""Unit tests of the schema engine on hand-built catalogs: diff, ordering, rendering."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import redact_url
from schemashift.consumers.generator.order import plan
from schemashift.consumers.generator.render import generate
from schemashift.consumers.generator.render.postgres import type_change_hazards
from schemashift.schemas.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Comment,
    EnumType,
    ForeignKey,
    Identity,
    Index,
    OwnedBy,
    PrimaryKey,
    Sequence,
    Table,
    UniqueConstraint,
    View,
)
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Hints, ObjectType, Operation, OpKind, Script, TypeUser


def col(name: str, type_: str = "integer", **kw: object) -> Column:
    return Column(name=name, type=type_, **kw)  # type: ignore[arg-type]


def pk(table: str, *cols: str) -> PrimaryKey:
    return PrimaryKey(
        name=f"{table}_pkey", definition=f"PRIMARY KEY ({', '.join(cols)})", columns=list(cols)
    )


def fk(name: str, column: str, ref_table: str, ref_col: str = "id", **kw: object) -> ForeignKey:
    return ForeignKey(
        name=name,
        definition=f"FOREIGN KEY ({column}) REFERENCES public.{ref_table}({ref_col})",
        columns=[column],
        ref_schema="public",
        ref_table=ref_table,
        ref_columns=[ref_col],
        **kw,  # type: ignore[arg-type]
    )


def table(name: str, *columns: Column, schema: str = "public", **kw: object) -> Table:
    return Table(schema_name=schema, name=name, columns=list(columns), **kw)  # type: ignore[arg-type]


def catalog(*tables: Table, **kw: object) -> Catalog:
    return Catalog(schemas=["public"], tables=list(tables), **kw)  # type: ignore[arg-type]


def sqls(script: Script) -> list[str]:
    return [s.sql for s in script.statements]


def position(statements: list[str], fragment: str) -> int:
    matches = [i for i, s in enumerate(statements) if fragment in s]
    assert matches, f"{fragment!r} not in {statements}"
    return matches[0]


# --- catalog ---------------------------------------------------------------------------------


def test_fingerprint_ignores_column_order_but_not_content() -> None:
    a = catalog(table("t", col("a"), col("b", "text")))
    b = catalog(table("t", col("b", "text"), col("a")))
    c = catalog(table("t", col("b", "text"), col("a", not_null=True)))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()
    assert diff(a, b) == []


def test_fingerprint_keeps_key_column_order() -> None:
    a = catalog(table("t", col("a"), col("b"), constraints=[pk("t", "a", "b")]))
    b = catalog(table("t", col("a"), col("b"), constraints=[pk("t", "b", "a")]))
    assert a.fingerprint() != b.fingerprint()


def test_catalog_round_trips_through_json() -> None:
    cat = catalog(
        table(
            "t",
            col("id", identity=Identity(generation="always")),
            constraints=[pk("t", "id"), fk("t_self", "id", "t")],
        ),
        enums=[EnumType(schema_name="public", name="mood", labels=["a", "b"])],
    )
    again = Catalog.model_validate_json(cat.model_dump_json())
    assert again == cat and again.fingerprint() == cat.fingerprint()
    assert again.table("public", "t") is not None
    assert again.table("public", "nope") is None


@given(st.permutations(["a", "b", "c", "d", "e"]))
def test_fingerprint_is_invariant_under_column_permutation(names: list[str]) -> None:
    base = catalog(table("t", *(col(n) for n in sorted(names))))
    shuffled = catalog(table("t", *(col(n) for n in names)))
    assert base.fingerprint() == shuffled.fingerprint()
    assert diff(base, shuffled) == []


# --- operations ------------------------------------------------------------------------------


def test_operation_reverse_and_json() -> None:
    narrow, wide = Column(name="a", type="integer"), Column(name="a", type="bigint")
    op = Operation(
        kind=OpKind.ALTER,
        object_type=ObjectType.COLUMN,
        schema_name="public",
        table="t",
        name="a",
        old=narrow,
        new=wide,
    )
    rev = op.reverse()
    assert rev.old == wide and rev.new == narrow
    assert rev.reverse() == op
    create = op.model_copy(update={"kind": OpKind.CREATE, "old": None})
    assert create.reverse().kind is OpKind.DROP and create.reverse().old == wide
    assert Operation.model_validate_json(op.model_dump_json()) == op
    assert op.label == "alter_column" and op.qualified_name == "public.t.a"


def test_operation_sides_read_back_as_the_model_of_their_object_type() -> None:
    check = CheckConstraint(name="c", definition="CHECK (a > 0)", columns=["a"])
    op = Operation(
        kind=OpKind.CREATE, object_type=ObjectType.CONSTRAINT, name="c", table="t", new=check
    )
    back = Operation.model_validate_json(op.model_dump_json())
    assert type(back.new) is CheckConstraint and back == op
    with pytest.raises(ValidationError, match="name"):  # a column without its name
        Operation(kind=OpKind.CREATE, object_type=ObjectType.COLUMN, name="a", new={"type": "int"})
    with pytest.raises(TypeError, match="holds CheckConstraint, not Column"):
        op.obj_as(Column)


def test_hints_travel_with_their_side_and_swap_on_reverse() -> None:
    users = [TypeUser(schema_name="public", table="t", column="s", type="public.mood")]
    old, new = (
        EnumType(schema_name="public", name="mood", labels=["a", "b"]),
        EnumType(schema_name="public", name="mood", labels=["b"]),
    )
    op = Operation(
        kind=OpKind.ALTER,
        object_type=ObjectType.ENUM,
        schema_name="public",
        name="mood",
        old=old,
        new=new,
        old_hints=Hints(used_by=users),
    )
    assert op.hints == Hints() and op.reverse().hints.used_by == users
    assert Operation.model_validate_json(op.reverse().model_dump_json()) == op.reverse()


# --- diff + order + render ---------------------------------------------------------------------


def test_identical_catalogs_give_nothing() -> None:
    cat = catalog(table("t", col("a"), constraints=[pk("t", "a")]))
    assert diff(cat, cat) == []
    assert generate([]) == Script()


def test_create_tables_with_fk_cycle_adds_fks_last() -> None:
    a = table(
        "a",
        col("id", not_null=True),
        col("b_id"),
        constraints=[pk("a", "id"), fk("a_b_fk", "b_id", "b")],
    )
    b = table(
        "b",
        col("id", not_null=True),
        col("a_id"),
        constraints=[pk("b", "id"), fk("b_a_fk", "a_id", "a")],
    )
    ops = diff(catalog(a, b), catalog())
    kinds = sorted(op.label for op in ops)
    assert kinds == ["create_foreign_key", "create_foreign_key", "create_table", "create_table"]
    out = sqls(generate(ops))
    assert position(out, "CREATE TABLE public.a") < position(out, "ADD CONSTRAINT a_b_fk")
    assert position(out, "CREATE TABLE public.b") < position(out, "ADD CONSTRAINT a_b_fk")
    assert position(out, "CREATE TABLE public.b") < position(out, "ADD CONSTRAINT b_a_fk")
    # FKs on new tables need no NOT VALID/VALIDATE dance
    assert not any("VALIDATE" in s for s in out)
    # the primary key is created inline with its source name
    assert "CONSTRAINT a_pkey PRIMARY KEY (id)" in out[position(out, "CREATE TABLE public.a")]


def test_dropping_a_referenced_table_drops_the_fk_first() -> None:
    parent = table("p", col("id", not_null=True), constraints=[pk("p", "id")])
    child = table("c", col("pid"), constraints=[fk("c_pid_fk", "pid", "p")])
    script = generate(diff(catalog(table("c", col("pid"))), catalog(parent, child)))
    out = sqls(script)
    assert out == ["ALTER TABLE public.c DROP CONSTRAINT c_pid_fk;", "DROP TABLE public.p;"]
    assert Hazard.DATA_LOSS in script.statements[1].hazards
    back = [s.sql for s in script.reverse_statements]
    assert position(back, "CREATE TABLE public.p") < position(back, "ADD CONSTRAINT c_pid_fk")


def test_dropped_column_goes_after_its_index_and_constraint() -> None:
    old = table(
        "t",
        col("a"),
        col("b"),
        constraints=[
            CheckConstraint(
                name="b_pos", definition="CHECK ((b > 0))", columns=["b"], expression="(b > 0)"
            )
        ],
        indexes=[
            Index(
                name="t_b", definition="CREATE INDEX t_b ON public.t USING btree (b)", columns=["b"]
            )
        ],
    )
    out = sqls(generate(diff(catalog(table("t", col("a"))), catalog(old))))
    assert out[-1] == "ALTER TABLE public.t DROP COLUMN b;"
    assert {"ALTER TABLE public.t DROP CONSTRAINT b_pos;", "DROP INDEX public.t_b;"} == set(out[:2])


def test_type_change_uses_using_and_hazards() -> None:
    src = catalog(
        table(
            "t",
            col("a", "bigint"),
            col("v", "character varying(20)"),
            col("w", "character varying(5)"),
            col("x", "integer[]"),
        )
    )
    tgt = catalog(
        table(
            "t",
            col("a", "integer"),
            col("v", "character varying(10)"),
            col("w", "character varying(50)"),
            col("x", "text[]"),
        )
    )
    by_sql = {s.sql: s.hazards for s in generate(diff(src, tgt)).statements}
    assert by_sql["ALTER TABLE public.t ALTER COLUMN a TYPE bigint USING a::bigint;"] == [
        Hazard.TABLE_REWRITE
    ]
    widen = (
        "ALTER TABLE public.t ALTER COLUMN v TYPE character varying(20)"
        " USING v::character varying(20);"
    )
    assert Hazard.TABLE_REWRITE not in by_sql[widen] and Hazard.DATA_LOSS not in by_sql[widen]
    narrow = (
        "ALTER TABLE public.t ALTER COLUMN w TYPE character varying(5)"
        " USING w::character varying(5);"
    )
    assert Hazard.DATA_LOSS in by_sql[narrow]
    array = "ALTER TABLE public.t ALTER COLUMN x TYPE integer[] USING x::integer[];"
    assert {Hazard.TABLE_REWRITE, Hazard.DATA_LOSS} <= set(by_sql[array])


def test_type_change_hazard_classification() -> None:
    def h(a: str, b: str) -> list[Hazard]:
        return type_change_hazards(Column(name="c", type=a), Column(name="c", type=b))

    assert Hazard.TABLE_REWRITE not in h("character varying(10)", "text")
    assert Hazard.TABLE_REWRITE not in h("numeric(10,2)", "numeric(12,2)")
    assert Hazard.DATA_LOSS in h("numeric(10,2)", "numeric(10,1)")
    assert h("smallint", "bigint") == [Hazard.TABLE_REWRITE]
    assert Hazard.DATA_LOSS in h("bigint", "integer")
    assert Hazard.DATA_LOSS in h("text", "public.mood")
    # What may lose values cannot be undone by the reverse's widening; the rest can.
    for a, b in [
        ("character varying(50)", "character varying(10)"),
        ("text", "character varying(5)"),
        ("bigint", "integer"),
        ("numeric(10,2)", "numeric(8,2)"),
        ("numeric(10,2)", "numeric(10,1)"),
    ]:
        assert {Hazard.DATA_LOSS, Hazard.IRREVERSIBLE} <= set(h(a, b)), (a, b)
    for a, b in [
        ("character varying(10)", "character varying(50)"),
        ("integer", "bigint"),
        ("numeric(8,2)", "numeric(10,2)"),
        ("character varying(5)", "text"),
    ]:
        assert Hazard.IRREVERSIBLE not in h(a, b), (a, b)


def test_default_is_dropped_before_type_change_and_reset_after() -> None:
    src = catalog(table("t", col("a", "integer", default="7")))
    tgt = catalog(table("t", col("a", "text", default="'x'::text")))
    assert sqls(generate(diff(src, tgt))) == [
        "ALTER TABLE public.t ALTER COLUMN a DROP DEFAULT;",
        "ALTER TABLE public.t ALTER COLUMN a TYPE integer USING a::integer;",
        "ALTER TABLE public.t ALTER COLUMN a SET DEFAULT 7;",
    ]


def test_set_not_null_then_add_identity() -> None:
    src = catalog(table("t", col("a", not_null=True, identity=Identity(generation="always"))))
    tgt = catalog(table("t", col("a")))
    script = generate(diff(src, tgt))
    assert sqls(script) == [
        "ALTER TABLE public.t ALTER COLUMN a SET NOT NULL;",
        "ALTER TABLE public.t ALTER COLUMN a ADD GENERATED ALWAYS AS IDENTITY;",
    ]
    assert Hazard.LONG_LOCK in script.statements[0].hazards
    assert [s.sql for s in script.reverse_statements] == [
        "ALTER TABLE public.t ALTER COLUMN a DROP IDENTITY;",
        "ALTER TABLE public.t ALTER COLUMN a DROP NOT NULL;",
    ]


def test_quoting_uses_postgres_rules() -> None:
    weird = table(
        'Order "Items"', col("Item Name", "text"), col("select"), col("plain"), schema="My Schema"
    )
    out = sqls(generate(diff(Catalog(schemas=["My Schema"], tables=[weird]), Catalog())))
    assert out[0] == 'CREATE SCHEMA "My Schema";'
    assert out[1] == (
        'CREATE TABLE "My Schema"."Order ""Items""" (\n    "Item Name" text,\n'
        '    "select" integer,\n    plain integer\n);'
    )


def test_foreign_key_rebuilt_when_referenced_column_is_retyped() -> None:
    def cat(type_: str) -> Catalog:
        return catalog(
            table("p", col("id", type_, not_null=True), constraints=[pk("p", "id")]),
            table("c", col("pid", type_), constraints=[fk("c_fk", "pid", "p")]),
        )

    ops = diff(cat("bigint"), cat("integer"))
    fk_ops = [op for op in ops if op.object_type is ObjectType.FOREIGN_KEY]
    assert sorted(op.kind for op in fk_ops) == [OpKind.CREATE, OpKind.DROP]
    assert all(op.reason for op in fk_ops)
    out = sqls(generate(ops))
    assert position(out, "DROP CONSTRAINT c_fk") < position(out, "ALTER COLUMN id TYPE bigint")
    assert position(out, "ALTER COLUMN pid TYPE bigint") < position(out, "ADD CONSTRAINT c_fk")


def test_changed_fk_actions_are_drop_and_add() -> None:
    p = table("p", col("id", not_null=True), constraints=[pk("p", "id")])
    cascade = fk("c_fk", "pid", "p", on_delete="cascade").model_copy(
        update={"definition": "FOREIGN KEY (pid) REFERENCES public.p(id) ON DELETE CASCADE"}
    )
    src = catalog(p, table("c", col("pid"), constraints=[cascade]))
    tgt = catalog(p, table("c", col("pid"), constraints=[fk("c_fk", "pid", "p")]))
    out = sqls(generate(diff(src, tgt)))
    assert out == [
        "ALTER TABLE public.c DROP CONSTRAINT c_fk;",
        "ALTER TABLE public.c ADD CONSTRAINT c_fk FOREIGN KEY (pid) REFERENCES public.p(id)"
        " ON DELETE CASCADE NOT VALID;",
        "ALTER TABLE public.c VALIDATE CONSTRAINT c_fk;",
    ]


def test_sequence_created_before_table_and_owned_after() -> None:
    seq = Sequence(
        schema_name="public",
        name="t_id_seq",
        data_type="integer",
        min_value=1,
        max_value=2147483647,
        owned_by=OwnedBy(schema_name="public", table="t", column="id"),
    )
    t = table("t", col("id", not_null=True, default="nextval('public.t_id_seq'::regclass)"))
    script = generate(diff(catalog(t, sequences=[seq]), catalog()))
    out = sqls(script)
    assert out == [
        "CREATE SEQUENCE public.t_id_seq AS integer;",
        "CREATE TABLE public.t (\n    id integer DEFAULT nextval('public.t_id_seq'::regclass)"
        " NOT NULL\n);",
        "ALTER SEQUENCE public.t_id_seq OWNED BY public.t.id;",
    ]
    assert [s.sql for s in script.reverse_statements] == [
        "ALTER SEQUENCE public.t_id_seq OWNED BY NONE;",
        "DROP TABLE public.t;",
        "DROP SEQUENCE public.t_id_seq;",
    ]


def test_unique_index_replaced_by_constraint_of_same_name() -> None:
    idx = Index(
        name="c_key",
        definition="CREATE UNIQUE INDEX c_key ON public.c USING btree (cc)",
        unique=True,
        columns=["cc"],
    )
    con = UniqueConstraint(name="c_key", definition="UNIQUE (cc)", columns=["cc"])
    out = sqls(
        generate(
            diff(
                catalog(table("c", col("cc"), constraints=[con])),
                catalog(table("c", col("cc"), indexes=[idx])),
            )
        )
    )
    assert out == [
        "DROP INDEX public.c_key;",
        "ALTER TABLE public.c ADD CONSTRAINT c_key UNIQUE (cc);",
    ]


def test_enum_values_added_in_place_and_removed_by_swap() -> None:
    def cat(*labels: str) -> Catalog:
        return catalog(
            table("t", col("m", "public.mood")),
            enums=[EnumType(schema_name="public", name="mood", labels=list(labels))],
        )

    script = generate(diff(cat("a", "x", "b", "c", "z"), cat("a", "b", "c")))
    assert sqls(script) == [
        "ALTER TYPE public.mood ADD VALUE 'x' BEFORE 'b';",
        "ALTER TYPE public.mood ADD VALUE 'z' AFTER 'c';",
    ]
    assert all(not s.transactional for s in script.statements)
    back = [s.sql for s in script.reverse_statements]
    assert back[0] == "ALTER TYPE public.mood RENAME TO mood__old;"
    assert (
        "ALTER TABLE public.t ALTER COLUMN m TYPE public.mood USING m::text::public.mood;" in back
    )
    assert back[-1] == "DROP TYPE public.mood__old;"


def test_plan_is_deterministic_and_complete() -> None:
    src = catalog(table("a", col("x")), table("b", col("y")), table("c", col("z")))
    ops = diff(src, catalog())
    assert plan(ops) == plan(list(reversed(ops)))
    assert sorted(map(id, plan(ops))) == sorted(map(id, ops))


def test_script_serialises_for_events() -> None:
    script = generate(diff(catalog(table("t", col("a"))), catalog()))
    data = json.loads(script.model_dump_json())
    assert data["statements"][0]["kind"] == "create_table"
    assert data["reverse_statements"][0]["sql"] == "DROP TABLE public.t;"
    assert Script.model_validate(data) == script
    assert script.hazards == []


def test_redact_url_hides_password() -> None:
    assert redact_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://h/db") == "postgresql://h/db"


def test_views_are_created_after_and_dropped_before_the_views_they_read() -> None:
    base = View(schema_name="public", name="a_base", definition=" SELECT 1 AS x;", depends_on=[])
    top = View(
        schema_name="public",
        name="a_top",
        definition=" SELECT x FROM public.z_mid;",
        depends_on=[["public", "z_mid", "x"]],
    )
    mid = View(
        schema_name="public",
        name="z_mid",
        definition=" SELECT x FROM public.a_base;",
        depends_on=[["public", "a_base", "x"]],
    )
    script = generate(diff(catalog(views=[top, mid, base]), catalog()))
    assert [s.object for s in script.statements] == [
        "public.a_base",
        "public.z_mid",
        "public.a_top",
    ]
    assert [s.object for s in script.reverse_statements] == [
        "public.a_top",
        "public.z_mid",
        "public.a_base",
    ]


def test_comment_on_recreated_view_is_cleared_and_set_again() -> None:
    def cat(col_type: str, definition: str) -> Catalog:
        return catalog(
            table("t", col("a", col_type)),
            views=[
                View(
                    schema_name="public",
                    name="v",
                    definition=definition,
                    depends_on=[["public", "t", "a"]],
                )
            ],
            comments=[Comment(object_type="view", target=["public", "v"], text="it's v")],
        )

    out = sqls(
        generate(
            diff(
                cat("bigint", " SELECT a FROM public.t;"),
                cat("integer", " SELECT a FROM public.t;"),
            )
        )
    )
    assert out == [
        "COMMENT ON VIEW public.v IS NULL;",
        "DROP VIEW public.v;",
        "ALTER TABLE public.t ALTER COLUMN a TYPE bigint USING a::bigint;",
        "CREATE VIEW public.v AS\nSELECT a FROM public.t;",
        "COMMENT ON VIEW public.v IS 'it''s v';",
    ]


@pytest.mark.parametrize(
    ("default", "rewrite"),
    [
        ("nextval('public.s'::regclass)", True),
        ("gen_random_uuid()", True),
        ("public.uuid_generate_v4()", True),
        ("(random() * (10)::double precision)", True),
        ("clock_timestamp()", True),
        ("now()", False),
        ("CURRENT_TIMESTAMP", False),
        ("0", False),
    ],
)
def test_a_column_added_with_a_volatile_default_rewrites_the_table(
    default: str, rewrite: bool
) -> None:
    source = catalog(table("t", col("id"), col("c", "text", default=default)))
    [added] = generate(diff(source, catalog(table("t", col("id"))))).statements
    assert (Hazard.TABLE_REWRITE in added.hazards) is rewrite, added


def test_operations_for_the_reverse_only_are_left_out_of_the_migration() -> None:
    view = View(schema_name="public", name="v", definition=" SELECT 1;")
    rebuild = [
        Operation(
            kind=k,
            object_type=ObjectType.VIEW,
            schema_name="public",
            name="v",
            direction="reverse",
            **{side: view},
        )
        for k, side in ((OpKind.DROP, "old"), (OpKind.CREATE, "new"))
    ]
    script = generate(rebuild)
    assert script.statements == []
    assert [s.sql.split(" AS")[0] for s in script.reverse_statements] == [
        "DROP VIEW public.v;",
        "CREATE VIEW public.v",
    ]
    undo = [op.reverse() for op in rebuild]
    assert {op.direction for op in undo} == {"forward"}
    assert [s.sql.split(" AS")[0] for s in generate(undo).statements] == [
        "DROP VIEW public.v;",
        "CREATE VIEW public.v",
    ]
    assert generate(undo).reverse_statements == []


def test_operations_stored_in_the_earlier_untyped_shape_read_back_typed() -> None:
    # What diff.computed events held before operations were typed: hints inside the objects,
    # a table's ALTER with only the flags it changes. Replays and rollbacks still read them.
    users = [
        {
            "schema_name": "public",
            "table": "t",
            "column": "s",
            "type": "public.mood",
            "default": None,
        }
    ]
    enum = {"schema_name": "public", "name": "mood", "labels": ["a"]}
    legacy_enum = Operation.model_validate(
        {
            "kind": "alter",
            "object_type": "enum",
            "schema_name": "public",
            "name": "mood",
            "old": {**enum, "labels": ["a", "b"], "used_by": users, "domains": []},
            "new": {**enum, "used_by": users, "domains": []},
        }
    )
    assert legacy_enum.new_as(EnumType).labels == ["a"]
    assert legacy_enum.old_hints == Hints(used_by=[TypeUser.model_validate(users[0])])
    legacy_flags = Operation.model_validate(
        {
            "kind": "alter",
            "object_type": "table",
            "schema_name": "public",
            "name": "t",
            "old": {"rls_enabled": False},
            "new": {"rls_enabled": True},
        }
    )
    assert [s.sql for s in generate([legacy_flags]).statements] == [
        "ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;"
    ]
    legacy_grant = Operation.model_validate(
        {
            "kind": "create",
            "object_type": "privilege",
            "schema_name": "public",
            "name": "t:SELECT:app",
            "new": {
                "object_type": "table",
                "target": ["public", "t"],
                "grantee": "app",
                "privilege": "SELECT",
                "fresh": True,
            },
        }
    )
    assert legacy_grant.hints.fresh and not legacy_grant.hints.revoke
