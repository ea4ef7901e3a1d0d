"""Schemas and extensions."""

from __future__ import annotations

from schemashift.schemas.catalog import Extension
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, H, RenderContext, literal, q


def render_schema(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    if op.kind is OpKind.CREATE:
        emit(f"CREATE SCHEMA {q(op.name)}")
    else:
        emit(f"DROP SCHEMA {q(op.name)}", H.DATA_LOSS)


def render_extension(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    ext = op.obj_as(Extension)
    if op.kind is OpKind.CREATE:
        version = f" VERSION {literal(ext.version)}" if ext.version else ""
        emit(
            f"CREATE EXTENSION IF NOT EXISTS {q(op.name)} WITH SCHEMA {q(ext.schema_name)}{version}"
        )
    elif op.kind is OpKind.DROP:
        emit(f"DROP EXTENSION {q(op.name)}", H.DATA_LOSS)
    else:
        assert ext.version is not None, "the differ alters an extension's version only"
        emit(f"ALTER EXTENSION {q(op.name)} UPDATE TO {literal(ext.version)}")
