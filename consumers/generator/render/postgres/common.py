"""What every PostgreSQL renderer shares: quoting, literals and the render context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.dialects import postgresql

from schemas.hazards import Hazard
from schemas.operations import ObjectType, Operation, OpKind

_PREPARER = postgresql.dialect().identifier_preparer

H = Hazard
Emit = Callable[..., None]
"""``emit(sql, *hazards, transactional=True)``: add one statement (without the semicolon)."""


def q(name: str) -> str:
    """Quote one identifier (only when PostgreSQL needs it)."""
    return _PREPARER.quote(name)


def qn(schema: str | None, name: str) -> str:
    """Quote a schema-qualified name."""
    return f"{q(schema)}.{q(name)}" if schema else q(name)


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _object_keys(op: Operation) -> list[tuple[str, ...]]:
    """Privilege-style keys (object type, *target) of what ``op`` creates or drops."""
    schema = op.schema_name or ""
    match op.object_type:
        case ObjectType.SCHEMA:
            return [("schema", op.name)]
        case ObjectType.TABLE | ObjectType.VIEW | ObjectType.MATERIALIZED_VIEW:
            return [("table", schema, op.name)]
        case ObjectType.SEQUENCE:
            return [("sequence", schema, op.name)]
        case ObjectType.FUNCTION:
            return [("function", schema, op.obj["name"], op.obj["identity_args"])]
    return []


@dataclass
class RenderContext:
    """What a statement may need to know about the rest of the script, and the options."""

    created_tables: set[tuple[str | None, str]] = field(default_factory=set)
    created: set[tuple[str, ...]] = field(default_factory=set)
    dropped: set[tuple[str, ...]] = field(default_factory=set)
    concurrent_indexes: bool = False

    @classmethod
    def of(cls, ops: list[Operation], *, concurrent_indexes: bool = False) -> RenderContext:
        """The context of a script made of ``ops``."""
        ctx = cls(concurrent_indexes=concurrent_indexes)
        for op in ops:
            if op.object_type is ObjectType.TABLE and op.kind is OpKind.CREATE:
                ctx.created_tables.add((op.schema_name, op.name))
            if op.kind is OpKind.CREATE:
                ctx.created.update(_object_keys(op))
            elif op.kind is OpKind.DROP:
                ctx.dropped.update(_object_keys(op))
        return ctx

    def gone(self, key: tuple[str, ...]) -> bool:
        """Whether the script drops the object ``key`` for good."""
        return key in self.dropped and key not in self.created
