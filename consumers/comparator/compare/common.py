"""Helpers shared by the comparators: building operations and the comparison context."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql

from schemashift.schemas.catalog import Catalog, CatalogModel, Key
from schemashift.schemas.operations import ObjectType, Operation, OpKind

# SQLAlchemy leaves the psycopg dialect's __init__(**kwargs) unannotated.
_quote = postgresql.dialect().identifier_preparer.quote  # type: ignore[no-untyped-call]

T = TypeVar("T")
ColumnKey = tuple[str, str, str]


def q(name: str) -> str:
    """Quote like PostgreSQL's format_type() does (only when needed)."""
    return _quote(name)


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

    def touched_tables(self) -> set[Key]:
        """Tables with a column that is dropped, re-added or changes type."""
        return {(s, t) for s, t, _ in self.retyped | self.readded | self.dropped}


def by_key(items: Iterable[T], key: Callable[[T], Any]) -> dict[Any, T]:
    """``items`` in a dict by ``key(item)``."""
    return {key(i): i for i in items}


def dump(model: CatalogModel) -> dict[str, Any]:
    """A catalog object as an operation's ``old``/``new`` dict."""
    return model.model_dump(mode="json")


def op(kind: OpKind, object_type: ObjectType, name: str, **fields: Any) -> Operation:
    """One operation."""
    return Operation(kind=kind, object_type=object_type, name=name, **fields)


def alter(
    object_type: ObjectType,
    old: CatalogModel | dict[str, Any],
    new: CatalogModel | dict[str, Any],
    name: str,
    **fields: Any,
) -> Operation:
    """An ALTER operation from ``old`` to ``new``."""
    return op(OpKind.ALTER, object_type, name, old=as_dict(old), new=as_dict(new), **fields)


def pair(
    object_type: ObjectType,
    old: CatalogModel | dict[str, Any] | None,
    new: CatalogModel | dict[str, Any] | None,
    name: str,
    **fields: Any,
) -> list[Operation]:
    """Drop ``old`` and create ``new`` (either may be missing)."""
    ops = []
    if old is not None:
        ops.append(op(OpKind.DROP, object_type, name, old=as_dict(old), **fields))
    if new is not None:
        ops.append(op(OpKind.CREATE, object_type, name, new=as_dict(new), **fields))
    return ops


def same_but_validity(a: CatalogModel, b: CatalogModel) -> bool:
    """Whether two constraints differ in their NOT VALID state only (ALTER: VALIDATE)."""
    return getattr(a, "valid", True) != getattr(b, "valid", True) and a.model_copy(
        update={"valid": True}
    ) == b.model_copy(update={"valid": True})


def as_dict(obj: CatalogModel | dict[str, Any]) -> dict[str, Any]:
    """``obj`` as a dict (catalog models are dumped)."""
    return obj if isinstance(obj, dict) else dump(obj)
