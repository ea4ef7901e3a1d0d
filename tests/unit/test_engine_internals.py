"""Engine helpers: quote-aware parenthesis handling, the GC pause of the introspector and the
dependency order of types and functions."""

from __future__ import annotations

import gc

import pytest

from schemashift.consumers.common.gcpause import gc_paused
from schemashift.consumers.generator.order import plan
from schemashift.consumers.generator.render.postgres.common import strip_outer_parens
from schemashift.schemas.catalog import Column, ForeignKey
from schemashift.schemas.operations import ObjectType, Operation, OpKind


@pytest.mark.parametrize(
    ("expr", "stripped"),
    [
        ("(a * 2)", "a * 2"),
        ("(a) + (b)", "(a) + (b)"),
        ("(a || ')(')", "a || ')('"),
        ("(('(' || a) || ')')", "('(' || a) || ')'"),
        ('("x)" + 1)', '"x)" + 1'),
        ("(E'\\')' || a)", "E'\\')' || a"),
        ("($$)$$ || a)", "$$)$$ || a"),
        ("a", "a"),
    ],
)
def test_strip_outer_parens_ignores_quoted_text(expr: str, stripped: str) -> None:
    assert strip_outer_parens(expr) == stripped


def test_gc_pause_nests_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_domain_after_the_function_its_check_calls() -> None:
    fn = {
        "schema_name": "public",
        "name": "is_email",
        "identity_args": "s text",
        "definition": "CREATE FUNCTION ...",
        "types": [],
    }
    domain = {
        "schema_name": "public",
        "name": "a_email",
        "base_type": "text",
        "functions": [["public", "is_email", "s text"]],
    }
    ops = [
        Operation(
            kind=OpKind.CREATE,
            object_type=ObjectType.DOMAIN,
            schema_name="public",
            name="a_email",
            new=domain,
        ),
        Operation(
            kind=OpKind.CREATE,
            object_type=ObjectType.FUNCTION,
            schema_name="public",
            name="is_email(s text)",
            new=fn,
        ),
    ]
    assert [o.object_type for o in plan(ops)] == [ObjectType.FUNCTION, ObjectType.DOMAIN]
    back = plan([o.reverse() for o in ops])
    assert [o.object_type for o in back] == [ObjectType.DOMAIN, ObjectType.FUNCTION]


def test_function_after_the_domain_of_its_argument() -> None:
    fn = {
        "schema_name": "public",
        "name": "f",
        "identity_args": "d dom",
        "definition": "CREATE FUNCTION ...",
        "types": [["public", "dom"]],
    }
    domain = {"schema_name": "public", "name": "dom", "base_type": "text"}
    ops = [
        Operation(
            kind=OpKind.CREATE,
            object_type=ObjectType.FUNCTION,
            schema_name="public",
            name="f(d dom)",
            new=fn,
        ),
        Operation(
            kind=OpKind.CREATE,
            object_type=ObjectType.DOMAIN,
            schema_name="public",
            name="dom",
            new=domain,
        ),
    ]
    assert [o.object_type for o in plan(ops)] == [ObjectType.DOMAIN, ObjectType.FUNCTION]
    back = plan([o.reverse() for o in ops])
    assert [o.object_type for o in back] == [ObjectType.FUNCTION, ObjectType.DOMAIN]


def test_trusted_catalog_objects_equal_validated_ones() -> None:
    assert Column.trusted(name="a", type="integer") == Column(name="a", type="integer")
    fk = ForeignKey.trusted(name="f", definition="d", ref_schema="s", ref_table="t")
    assert fk == ForeignKey(name="f", definition="d", ref_schema="s", ref_table="t")
    assert fk.kind == "foreign_key" and fk.ref_columns == []
    # Instances share one fields-set; an update through model_copy leaves it alone.
    other = ForeignKey.trusted(name="g", definition="d", ref_schema="s", ref_table="t")
    assert fk.model_fields_set is other.model_fields_set
    renamed = fk.model_copy(update={"name": "h"})
    assert (renamed.name, fk.name) == ("h", "f")
    assert fk.model_fields_set == set(ForeignKey.model_fields)
    with pytest.raises(TypeError, match="no field colour"):
        Column.trusted(name="a", type="integer", colour="red")
    with pytest.raises(TypeError, match=r"Column\.type is required"):
        Column.trusted(name="a")
