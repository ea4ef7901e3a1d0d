"""Functions and procedures."""

from __future__ import annotations

from schemashift.schemas.catalog import Function
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, RenderContext, qn


def signature(function: Function) -> str:
    """``schema.name(identity args)``, as DROP, COMMENT and GRANT take it."""
    return f"{qn(function.schema_name, function.name)}({function.identity_args})"


def render_function(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE OR REPLACE (pg_get_functiondef() text as is) or DROP FUNCTION/PROCEDURE."""
    function = op.obj_as(Function)
    if op.kind is OpKind.DROP:
        what = {"procedure": "PROCEDURE", "aggregate": "AGGREGATE"}.get(function.kind, "FUNCTION")
        emit(f"DROP {what} {signature(function)}")
    else:
        emit(function.definition.rstrip())
