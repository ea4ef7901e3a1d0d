"""Extended statistics."""

from __future__ import annotations

from schemashift.schemas.catalog import Statistics
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, RenderContext, qn


def render_statistics(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE STATISTICS (pg_get_statisticsobjdef() text), DROP STATISTICS, or ALTER
    STATISTICS ... SET STATISTICS for its sampling target."""
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP STATISTICS {name}")
        return
    new = op.obj_as(Statistics)
    if op.kind is OpKind.CREATE:
        emit(new.definition)
    if op.kind is OpKind.ALTER or new.target is not None:
        target = -1 if new.target is None else new.target
        emit(f"ALTER STATISTICS {name} SET STATISTICS {target}")
