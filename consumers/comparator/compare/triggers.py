"""Triggers: dropped before and created after their table, view and function."""

from __future__ import annotations

from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, alter, by_key, pair


def compare_triggers(ctx: Context) -> list[Operation]:
    """CREATE/DROP TRIGGER; ALTER TABLE ENABLE/DISABLE TRIGGER when only that changes.
    Triggers on recreated tables or views and over rebuilt functions are rebuilt."""
    src = by_key(ctx.source.triggers, lambda t: t.key)
    tgt = by_key(ctx.target.triggers, lambda t: t.key)
    gone = ctx.dropped_tables | ctx.rebuilt_views
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        where = {"schema_name": key[0], "table": key[1]}
        reason = None
        if s is not None and s == t:
            if key[:2] in gone:
                reason = "its relation is recreated"
            elif tuple(s.function) in ctx.rebuilt_functions:
                reason = "its function is recreated"
            else:
                continue
        elif (
            s is not None
            and t is not None
            and s.definition == t.definition
            and key[:2] not in gone
            and tuple(s.function) not in ctx.rebuilt_functions
        ):
            ops.append(alter(ObjectType.TRIGGER, t, s, key[2], **where))  # enabled state only
            continue
        dependent = reason is not None
        ops += pair(ObjectType.TRIGGER, t, s, key[2], reason=reason, dependent=dependent, **where)
    return ops
