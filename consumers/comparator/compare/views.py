"""Views and materialized views (replaced by drop and create), and the indexes of
materialized views."""

from __future__ import annotations

from typing import Any

from schemashift.schemas.catalog import Key, View
from schemashift.schemas.operations import Hints, ObjectType, Operation, OpKind

from .common import Context, alter, by_key, op, pair
from .privileges import restore_privileges


def view_type(view: View) -> ObjectType:
    """VIEW or MATERIALIZED_VIEW."""
    return ObjectType.MATERIALIZED_VIEW if view.materialized else ObjectType.VIEW


def _shape(view: View | None) -> View | None:
    """The view without its indexes: index changes alone do not rebuild it."""
    return view and view.model_copy(update={"indexes": []})


def compare_views(ctx: Context) -> list[Operation]:
    """Changed views are dropped and created; so are the views over altered columns, dropped
    tables, rebuilt functions and (transitively) rebuilt views."""
    src = by_key(ctx.source.views, lambda v: v.key)
    tgt = by_key(ctx.target.views, lambda v: v.key)
    touched_cols = ctx.retyped | ctx.readded | ctx.dropped
    rebuilt: set[Key] = set()

    def depends_on_touched(view: View) -> bool:
        if any(tuple(f) in ctx.rebuilt_functions for f in view.functions):
            return True
        for schema, rel, col in (tuple(d) for d in view.depends_on):
            if (schema, rel) in ctx.dropped_tables or (schema, rel, col) in touched_cols:
                return True
            if (schema, rel) in rebuilt:
                return True
        return False

    rebuilt |= {k for k in src.keys() | tgt.keys() if _shape(src.get(k)) != _shape(tgt.get(k))}
    grew = True
    while grew:  # a view over a rebuilt view is rebuilt too
        grew = False
        for key in src.keys() & tgt.keys():
            if key not in rebuilt and depends_on_touched(tgt[key]):
                rebuilt.add(key)
                grew = True

    ops: list[Operation] = []
    for key in sorted(rebuilt):
        s, t = src.get(key), tgt.get(key)
        reason = "dependency changes" if s == t else None
        where: dict[str, Any] = {"schema_name": key[0], "reason": reason, "dependent": s == t}
        if t is not None:
            ops.append(op(OpKind.DROP, view_type(t), key[1], old=t, **where))
        if s is not None:
            ops.append(op(OpKind.CREATE, view_type(s), key[1], new=s, **where))
    ctx.rebuilt_views = rebuilt & src.keys() & tgt.keys()
    for key in sorted(src.keys() & tgt.keys() - rebuilt):
        ops += _compare_view_indexes(src[key], tgt[key])
    return ops


_ON_VIEW = Hints(on_view=True)


def _compare_view_indexes(s: View, t: View) -> list[Operation]:
    s_idx = by_key(s.indexes, lambda i: i.name)
    t_idx = by_key(t.indexes, lambda i: i.name)
    ops: list[Operation] = []
    for name in sorted(s_idx.keys() | t_idx.keys()):
        si, ti = s_idx.get(name), t_idx.get(name)
        if si == ti:
            continue
        ops += pair(
            ObjectType.INDEX,
            ti,
            si,
            name,
            old_hints=_ON_VIEW,
            new_hints=_ON_VIEW,
            schema_name=s.schema_name,
            table=s.name,
        )
    return ops


def rebuild_for_reverse_swaps(ctx: Context) -> list[Operation]:
    """Views that only the reverse script rebuilds, around an enum type swap.

    A migration that adds enum values does it in place, but the script undoing it swaps the
    type and converts the columns of that type, which PostgreSQL refuses while a view reads
    them. The views over those columns (and the views over them), with their comments,
    triggers and privileges, are dropped and created again in the reverse script only: these
    operations carry ``direction="reverse"``. Runs after the other comparators.
    """
    if not ctx.reverse_retyped and not ctx.reverse_rebuilt_functions:
        return []
    src = by_key(ctx.source.views, lambda v: v.key)
    tgt = by_key(ctx.target.views, lambda v: v.key)
    # Views on both sides that the migration leaves alone are the same on both sides.
    kept = {k: v for k, v in src.items() if k in tgt and k not in ctx.rebuilt_views}
    hit: set[Key] = set()
    grew = True
    while grew:  # a view over a rebuilt view is rebuilt too
        grew = False
        for key, view in kept.items():
            if key not in hit and (
                any(
                    (d[0], d[1], d[2]) in ctx.reverse_retyped or (d[0], d[1]) in hit
                    for d in view.depends_on
                )
                or any(tuple(f) in ctx.reverse_rebuilt_functions for f in view.functions)
            ):
                hit.add(key)
                grew = True
    ops: list[Operation] = []
    where: dict[str, Any] = {
        "reason": "enum type swap of the reverse script",
        "direction": "reverse",
    }
    rebuilt: dict[str, Any] = {**where, "dependent": True}
    for key in sorted(hit):
        data, kind = src[key], view_type(src[key])
        # A drop and a create, reversed, are a create and a drop: the reverse rebuilds it.
        ops.append(op(OpKind.DROP, kind, key[1], old=data, schema_name=key[0], **rebuilt))
        ops.append(op(OpKind.CREATE, kind, key[1], new=data, schema_name=key[0], **rebuilt))
    for comment in ctx.target.comments:
        on_view = comment.object_type in ("view", "materialized view", "column")
        if on_view and tuple(comment.target[:2]) in hit:
            name = ".".join(comment.target)
            ops.append(alter(ObjectType.COMMENT, comment, comment, name, **where))
    for trigger in ctx.target.triggers:
        if (trigger.schema_name, trigger.table) in hit:
            ops += pair(
                ObjectType.TRIGGER,
                trigger,
                trigger,
                trigger.name,
                schema_name=trigger.schema_name,
                table=trigger.table,
                **rebuilt,
            )
    recreated = {("table", *k) for k in hit}
    recreated |= {("function", *k) for k in ctx.reverse_rebuilt_functions}
    restored = restore_privileges(ctx, recreated)
    ops += [o.model_copy(update={"direction": "reverse"}) for o in restored]
    return ops
