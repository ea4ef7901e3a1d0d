"""What every SQLite renderer shares: quoting, literals, emitting statements, the context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemashift.consumers.common.drivers.sqlite import DRIVER
from schemashift.consumers.common.drivers.sqlite_sql import is_literal
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import ObjectType, Operation, OpKind

H = Hazard


class Emit(Protocol):
    """``emit(sql, *hazards, transactional=True)``: add one statement (without the semicolon)."""

    def __call__(self, sql: str, *hazards: Hazard, transactional: bool = True) -> None: ...


q = DRIVER.quote
"""Quote one identifier (only when SQLite needs it)."""


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def default_sql(default: str) -> str:
    """A default as DEFAULT and expressions take it: PRAGMA table_xinfo gives an expression
    default without the parentheses that CREATE TABLE needs around it."""
    return default if is_literal(default) else f"({default})"


@dataclass
class RenderContext:
    """What a statement may need to know about the rest of the script."""

    created_tables: set[str] = field(default_factory=set)  # lower-cased names

    @classmethod
    def of(cls, ops: list[Operation]) -> RenderContext:
        """The context of a script made of ``ops``."""
        created = {
            o.name.lower()
            for o in ops
            if o.object_type is ObjectType.TABLE and o.kind is OpKind.CREATE
        }
        return cls(created_tables=created)
