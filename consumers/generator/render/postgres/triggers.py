"""Triggers."""

from __future__ import annotations

from schemashift.schemas.catalog import Trigger
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, RenderContext, q, qn

_ENABLE = {"O": "ENABLE", "D": "DISABLE", "R": "ENABLE REPLICA", "A": "ENABLE ALWAYS"}


def render_trigger(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE TRIGGER (pg_get_triggerdef() text), DROP TRIGGER, ENABLE/DISABLE TRIGGER."""
    table = qn(op.schema_name, op.table or "")
    trigger = op.obj_as(Trigger)
    if op.kind is OpKind.DROP:
        emit(f"DROP TRIGGER {q(op.name)} ON {table}")
        return
    if op.kind is OpKind.CREATE:
        emit(trigger.definition)
    old_state = op.old_as(Trigger).enabled if op.kind is OpKind.ALTER else "O"
    if trigger.enabled != old_state:
        emit(f"ALTER TABLE {table} {_ENABLE[trigger.enabled]} TRIGGER {q(op.name)}")
