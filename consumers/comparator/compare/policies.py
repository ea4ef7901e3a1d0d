"""Row-level security policies (the ENABLE/FORCE flags are table attributes)."""

from __future__ import annotations

from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, alter, by_key, pair


def compare_policies(ctx: Context) -> list[Operation]:
    """CREATE/DROP POLICY, or ALTER POLICY when the command and permissiveness stay. Policies
    of recreated tables and of tables whose columns are dropped or change type are rebuilt
    (they may use those columns, which PostgreSQL then refuses to change)."""
    src = by_key(ctx.source.policies, lambda p: p.key)
    tgt = by_key(ctx.target.policies, lambda p: p.key)
    rebuild = ctx.dropped_tables | ctx.touched_tables()
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        where = {"schema_name": key[0], "table": key[1]}
        if s == t and (s is None or key[:2] not in rebuild):
            continue
        if (
            s is not None
            and t is not None
            and s != t
            and key[:2] not in rebuild
            and (s.permissive, s.command) == (t.permissive, t.command)
        ):
            ops.append(alter(ObjectType.POLICY, t, s, key[2], **where))
            continue
        reason = "table changes" if s == t else None
        dependent = s == t
        ops += pair(ObjectType.POLICY, t, s, key[2], reason=reason, dependent=dependent, **where)
    return ops
