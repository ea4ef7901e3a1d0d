"""Collations (CREATE COLLATION): they cannot be altered, so a changed one is dropped and
created again (which PostgreSQL refuses while columns use it)."""

from __future__ import annotations

from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, by_key, pair


def compare_collations(ctx: Context) -> list[Operation]:
    """CREATE/DROP COLLATION (drop and create when its definition changes)."""
    src = by_key(ctx.source.collations, lambda c: c.key)
    tgt = by_key(ctx.target.collations, lambda c: c.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s != t:
            reason = "definition changes" if s is not None and t is not None else None
            ops += pair(ObjectType.COLLATION, t, s, key[1], schema_name=key[0], reason=reason)
    return ops
