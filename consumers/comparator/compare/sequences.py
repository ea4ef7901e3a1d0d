"""Stand-alone sequences; ownership (OWNED BY) is split off so that it can be set after its
table exists and released before its owner column goes away."""

from __future__ import annotations

from schemashift.schemas.catalog import Sequence
from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, alter, by_key, pair


def compare_sequences(ctx: Context) -> list[Operation]:
    """CREATE/DROP/ALTER SEQUENCE."""
    src = by_key(ctx.source.sequences, lambda s: s.key)
    tgt = by_key(ctx.target.sequences, lambda s: s.key)
    ops: list[Operation] = []

    def change(old: Sequence, new: Sequence) -> None:
        ops.append(alter(ObjectType.SEQUENCE, old, new, new.name, schema_name=new.schema_name))

    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s == t:
            continue
        s_free = s and s.model_copy(update={"owned_by": None})
        t_free = t and t.model_copy(update={"owned_by": None})
        if (
            t is not None
            and t_free is not None
            and t.owned_by
            and (s is None or s.owned_by != t.owned_by)
        ):
            change(t, t_free)  # disown first: dropping the old owner must not drop the sequence
        if s_free is not None and t_free is not None and s_free != t_free:
            change(t_free, s_free)
        if s_free is None or t_free is None:
            ops += pair(ObjectType.SEQUENCE, t_free, s_free, key[1], schema_name=key[0])
        if (
            s is not None
            and s_free is not None
            and s.owned_by
            and (t is None or s.owned_by != t.owned_by)
        ):
            change(s_free, s)
    return ops
