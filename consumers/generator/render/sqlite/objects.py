"""Indexes, views and triggers: created from their stored text, dropped by name."""

from __future__ import annotations

from schemashift.schemas.catalog import Index, Trigger, View
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, H, RenderContext, q


def create_index(index: Index) -> str:
    """CREATE [UNIQUE] INDEX from the index's stored text after its name."""
    unique = "UNIQUE " if index.unique else ""
    return f"CREATE {unique}INDEX {q(index.name)} {index.definition}"


def render_index(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    if op.kind is OpKind.DROP:
        emit(f"DROP INDEX {q(op.name)}")
        return
    index = op.obj_as(Index)
    if (op.table or "").lower() in ctx.created_tables:
        emit(create_index(index))
        return
    emit(create_index(index), H.INDEX_BUILD, *([H.NEEDS_VALIDATION] if index.unique else []))


def render_view(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    if op.kind is OpKind.DROP:
        emit(f"DROP VIEW {q(op.name)}")
    else:
        emit(f"CREATE VIEW {q(op.name)} {op.obj_as(View).definition}")


def render_trigger(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    if op.kind is OpKind.DROP:
        emit(f"DROP TRIGGER {q(op.name)}")
    elif op.kind is OpKind.CREATE:
        emit(f"CREATE TRIGGER {q(op.name)} {op.obj_as(Trigger).definition}")
    else:
        raise ValueError(f"SQLite triggers cannot be disabled: {op.qualified_name}")
