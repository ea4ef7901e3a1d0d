"""COMMENT ON."""

from __future__ import annotations

from schemashift.schemas.catalog import Comment
from schemashift.schemas.operations import Operation

from .common import Emit, RenderContext, literal, q, qn


def _target(object_type: str, target: list[str]) -> str:
    match object_type:
        case "function":
            return f"ROUTINE {qn(target[0], target[1])}({target[2]})"
        case "constraint" | "trigger" | "policy":
            return f"{object_type.upper()} {q(target[2])} ON {qn(target[0], target[1])}"
    return f"{object_type.upper()} " + ".".join(q(p) for p in target)


def render_comment(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """COMMENT ON ... IS 'text' (or IS NULL to remove it)."""
    comment = op.obj_as(Comment)
    text = literal(comment.text) if op.new is not None else "NULL"
    emit(f"COMMENT ON {_target(comment.object_type, comment.target)} IS {text}")
