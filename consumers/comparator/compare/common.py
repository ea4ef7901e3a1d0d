"""Helpers shared by the comparators: building operations and the comparison context."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from schemashift.consumers.common.drivers import driver_for_dialect
from schemashift.schemas.catalog import Catalog, CatalogModel, Key
from schemashift.schemas.operations import Hints, ObjectType, Operation, OpKind

T = TypeVar("T")
ColumnKey = tuple[str, str, str]


class Unsupported(ValueError):
    """The engine cannot produce this migration safely; the message says why and what to do."""


class UnsupportedByTarget(Unsupported):
    """The migration would need a feature the target's server version does not have."""


@dataclass
class Context:
    """What earlier comparators learnt that decides which dependents must be rebuilt."""

    source: Catalog
    target: Catalog
    retyped: set[ColumnKey] = field(default_factory=set)  # ALTER COLUMN ... TYPE
    readded: set[ColumnKey] = field(default_factory=set)  # dropped and added again
    dropped: set[ColumnKey] = field(default_factory=set)
    dropped_tables: set[Key] = field(default_factory=set)  # includes recreated ones
    recreated_tables: set[Key] = field(default_factory=set)  # dropped and created again
    rekeyed_tables: set[Key] = field(default_factory=set)  # a PK/unique is dropped or rebuilt
    rebuilt_functions: set[Key] = field(default_factory=set)  # dropped and created again
    rebuilt_views: set[Key] = field(default_factory=set)  # dropped and created again
    # Indexes and non-FK constraints, (schema, table, name), that already have operations.
    changed_indexes: set[tuple[str, str, str]] = field(default_factory=set)
    changed_constraints: set[tuple[str, str, str]] = field(default_factory=set)
    # Columns only the reverse script converts (an enum the migration adds values to), and the
    # functions it rebuilds around that swap.
    reverse_retyped: set[ColumnKey] = field(default_factory=set)
    reverse_rebuilt_functions: set[Key] = field(default_factory=set)

    def quote(self, name: str) -> str:
        """``name`` quoted as the target's server quotes identifiers in the text it prints."""
        return driver_for_dialect(self.target.dialect).quote(name)

    def touched_tables(self) -> set[Key]:
        """Tables with a column that is dropped, re-added or changes type."""
        return {(s, t) for s, t, _ in self.retyped | self.readded | self.dropped}


def by_key(items: Iterable[T], key: Callable[[T], Any]) -> dict[Any, T]:
    """``items`` in a dict by ``key(item)``."""
    return {key(i): i for i in items}


def op(kind: OpKind, object_type: ObjectType, name: str, **fields: Any) -> Operation:
    """One operation."""
    return Operation(kind=kind, object_type=object_type, name=name, **fields)


def alter(
    object_type: ObjectType,
    old: CatalogModel,
    new: CatalogModel,
    name: str,
    *,
    old_hints: Hints | None = None,
    new_hints: Hints | None = None,
    **fields: Any,
) -> Operation:
    """An ALTER operation from ``old`` to ``new``."""
    return op(
        OpKind.ALTER,
        object_type,
        name,
        old=old,
        new=new,
        old_hints=old_hints,
        new_hints=new_hints,
        **fields,
    )


def pair(
    object_type: ObjectType,
    old: CatalogModel | None,
    new: CatalogModel | None,
    name: str,
    *,
    old_hints: Hints | None = None,
    new_hints: Hints | None = None,
    **fields: Any,
) -> list[Operation]:
    """Drop ``old`` and create ``new`` (either may be missing)."""
    ops = []
    if old is not None:
        ops.append(op(OpKind.DROP, object_type, name, old=old, old_hints=old_hints, **fields))
    if new is not None:
        ops.append(op(OpKind.CREATE, object_type, name, new=new, new_hints=new_hints, **fields))
    return ops


def same_but_validity(a: CatalogModel, b: CatalogModel) -> bool:
    """Whether two constraints differ in their NOT VALID state only (ALTER: VALIDATE)."""
    return getattr(a, "valid", True) != getattr(b, "valid", True) and a.model_copy(
        update={"valid": True}
    ) == b.model_copy(update={"valid": True})
