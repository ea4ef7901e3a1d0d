"""What every PostgreSQL renderer shares: quoting, literals and the render context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from schemashift.consumers.common.drivers.postgres import DRIVER
from schemashift.schemas.catalog import Function
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import ObjectType, Operation, OpKind

H = Hazard


class Emit(Protocol):
    """``emit(sql, *hazards, transactional=True)``: add one statement (without the semicolon)."""

    def __call__(self, sql: str, *hazards: Hazard, transactional: bool = True) -> None: ...


q = DRIVER.quote
"""Quote one identifier (only when PostgreSQL needs it)."""


def qn(schema: str | None, name: str) -> str:
    """Quote a schema-qualified name."""
    return f"{q(schema)}.{q(name)}" if schema else q(name)


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _skip_quoted(text: str, i: int) -> int:
    """If a literal, quoted identifier or dollar-quoted string starts at ``text[i]``, the
    index just past its end; else ``i``. Unterminated ones run to the end of ``text``."""
    ch = text[i]
    if ch == "'":
        # E'...' strings may escape a quote with a backslash; standard ones only with ''.
        escapes = i > 0 and text[i - 1] in "eE" and (i < 2 or not text[i - 2].isalnum())
        j = i + 1
        while j < len(text):
            if escapes and text[j] == "\\":
                j += 2
                continue
            if text[j] == "'":
                if text[j + 1 : j + 2] == "'":
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(text)
    if ch == '"':
        j = i + 1
        while j < len(text):
            if text[j] == '"':
                if text[j + 1 : j + 2] == '"':
                    j += 2
                    continue
                return j + 1
            j += 1
        return len(text)
    if ch == "$" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
        end = text.find("$", i + 1)
        tag = text[i : end + 1] if end > 0 else ""
        if tag and all(c.isalnum() or c == "_" for c in tag[1:-1]) and not tag[1:2].isdigit():
            close = text.find(tag, end + 1)
            return len(text) if close < 0 else close + len(tag)
    return i


def paren_depths(text: str) -> list[int]:
    """The parenthesis depth after each character of SQL ``text`` (quote-aware: parentheses
    inside string literals, quoted identifiers and dollar-quoted strings do not count)."""
    depths: list[int] = []
    depth = 0
    i = 0
    while i < len(text):
        end = _skip_quoted(text, i)
        if end > i:
            depths += [depth] * (end - i)
            i = end
            continue
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
        depths.append(depth)
        i += 1
    return depths


def strip_outer_parens(expr: str) -> str:
    """``expr`` without one pair of parentheses around all of it, if it has such a pair."""
    text = expr.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return expr
    depths = paren_depths(text)
    # The opening parenthesis must close at the very last character, not before.
    if depths[-1] != 0 or any(d == 0 for d in depths[:-1]):
        return expr
    return text[1:-1]


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
            function = op.obj_as(Function)
            return [("function", schema, function.name, function.identity_args)]
        case ObjectType.COLUMN:
            return [("column", schema, op.table or "", op.name)]
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
