"""Scheduled events (MySQL and MariaDB): created, dropped, or altered in place.

An event is known by its name. Any change (schedule, completion, state, comment, body) is one
``ALTER EVENT`` of the clauses that differ, which keeps what the others leave alone (the start
of a schedule that does not change). Nothing is rebuilt around an event: the server resolves
the names in its body each time it runs, and keeps no dependency on them.
"""

from __future__ import annotations

from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, alter, by_key, pair


def compare_events(ctx: Context) -> list[Operation]:
    """CREATE / ALTER / DROP EVENT."""
    src = by_key(ctx.source.scheduled_events, lambda e: e.key)
    tgt = by_key(ctx.target.scheduled_events, lambda e: e.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s == t:
            continue
        if s is not None and t is not None:
            ops.append(alter(ObjectType.EVENT, t, s, key[1], schema_name=key[0]))
        else:
            ops += pair(ObjectType.EVENT, t, s, key[1], schema_name=key[0])
    return ops
