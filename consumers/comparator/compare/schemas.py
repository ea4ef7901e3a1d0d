"""Schemas and extensions."""

from __future__ import annotations

from schemashift.schemas.catalog import Catalog, Extension, Schema
from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .common import Context, alter, by_key, op, pair


def compare_schemas(ctx: Context) -> list[Operation]:
    """CREATE/DROP SCHEMA."""
    src, tgt = set(ctx.source.schemas), set(ctx.target.schemas)
    ops = [op(OpKind.CREATE, ObjectType.SCHEMA, s, new=Schema(name=s)) for s in sorted(src - tgt)]
    ops += [op(OpKind.DROP, ObjectType.SCHEMA, s, old=Schema(name=s)) for s in sorted(tgt - src)]
    return ops


def compare_extensions(ctx: Context) -> list[Operation]:
    """CREATE/DROP EXTENSION, or ALTER EXTENSION UPDATE when only the version differs."""
    src = _extensions(ctx.source)
    tgt = _extensions(ctx.target)
    ops: list[Operation] = []
    for name in sorted(src.keys() | tgt.keys()):
        s, t = src.get(name), tgt.get(name)
        if s == t:
            continue
        if s is not None and t is not None and s.schema_name == t.schema_name:
            ops.append(alter(ObjectType.EXTENSION, t, s, name))
        else:
            ops += pair(ObjectType.EXTENSION, t, s, name)
    return ops


def _extensions(catalog: Catalog) -> dict[str, Extension]:
    return by_key(catalog.extensions, lambda e: e.name)
