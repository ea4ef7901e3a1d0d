"""Views and materialized views."""

from __future__ import annotations

from schemashift.schemas.catalog import View
from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .common import Emit, H, RenderContext, qn


def render_view(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE/DROP [MATERIALIZED] VIEW (a materialized view with its indexes)."""
    materialized = op.object_type is ObjectType.MATERIALIZED_VIEW
    what = "MATERIALIZED VIEW" if materialized else "VIEW"
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP {what} {name}", *([H.DATA_LOSS] if materialized else []))
    else:
        view = op.obj_as(View)
        body = view.definition.strip().rstrip(";")
        with_options = f" WITH ({', '.join(view.options)})" if view.options else ""
        emit(f"CREATE {what} {name}{with_options} AS\n{body}")
        for index in view.indexes:
            emit(index.definition)
