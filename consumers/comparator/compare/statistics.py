"""Extended statistics (CREATE STATISTICS) on tables."""

from __future__ import annotations

from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, alter, by_key, pair


def compare_statistics(ctx: Context) -> list[Operation]:
    """CREATE/DROP STATISTICS; a changed definition means drop and create, a changed target
    alone an ALTER. Those on recreated tables are created again."""
    src = by_key(ctx.source.statistics, lambda s: s.key)
    tgt = by_key(ctx.target.statistics, lambda s: s.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        where = {"schema_name": key[0]}
        recreated = t is not None and tuple(t.table) in ctx.dropped_tables
        if s == t and not recreated:
            continue
        if s is not None and t is not None and not recreated and s.definition == t.definition:
            ops.append(alter(ObjectType.STATISTICS, t, s, key[1], **where))
            continue
        reason = "its table is recreated" if s == t else None
        ops += pair(ObjectType.STATISTICS, t, s, key[1], reason=reason, dependent=s == t, **where)
    return ops
