"""The per-table pass a dialect's renderer may take, and the renderer registry."""

from __future__ import annotations

import pytest

from schemashift.consumers.generator.render import UnsupportedDialect, generate, renderer_for
from schemashift.consumers.generator.render.base import table_runs
from schemashift.schemas.catalog import (
    CatalogModel,
    Column,
    ForeignKey,
    Index,
    Sequence,
    Table,
    View,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import ObjectType, Operation, OpKind


def _object(object_type: ObjectType, name: str) -> CatalogModel:
    match object_type:
        case ObjectType.SEQUENCE:
            return Sequence(schema_name="s", name=name)
        case ObjectType.COLUMN:
            return Column(name=name, type="integer")
        case ObjectType.INDEX:
            return Index(name=name, definition=f"CREATE INDEX {name} ON s.t (a)")
        case ObjectType.VIEW:
            return View(schema_name="s", name=name, definition="SELECT 1")
        case ObjectType.TABLE:
            return Table(schema_name="s", name=name)
        case ObjectType.FOREIGN_KEY:
            return ForeignKey(name=name, definition="", ref_schema="s", ref_table="t")
    raise AssertionError(object_type)


def _op(object_type: ObjectType, name: str, table: str | None = None) -> Operation:
    return Operation(
        kind=OpKind.CREATE,
        object_type=object_type,
        schema_name="s",
        name=name,
        table=table,
        new=_object(object_type, name),
    )


def test_neighbouring_changes_of_one_table_form_one_unit():
    ops = [
        _op(ObjectType.SEQUENCE, "seq"),
        _op(ObjectType.COLUMN, "a", "t"),
        _op(ObjectType.INDEX, "t_a", "t"),
        _op(ObjectType.COLUMN, "b", "u"),
        _op(ObjectType.VIEW, "v"),
        _op(ObjectType.COLUMN, "c", "t"),
    ]
    units = [[op.name for op in unit] for unit in table_runs(ops)]
    # t's last column comes after the view: grouping it with the first two would reorder them.
    assert units == [["seq"], ["a", "t_a"], ["b"], ["v"], ["c"]]


def test_a_table_and_its_parts_group_together():
    ops = [_op(ObjectType.TABLE, "t"), _op(ObjectType.FOREIGN_KEY, "t_fk", "t")]
    assert [len(unit) for unit in table_runs(ops)] == [2]


def test_renderers_are_registered_by_dialect():
    assert renderer_for("postgresql").dialect is Dialect.POSTGRESQL
    with pytest.raises(UnsupportedDialect, match="oracle"):
        generate([], "oracle")
