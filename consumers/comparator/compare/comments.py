"""COMMENT ON, for every kind of object that has comments in the catalog."""

from __future__ import annotations

from schemashift.schemas.catalog import Function, Key
from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .common import Context, alter, by_key, pair

# Object types whose comment key is (comment type, schema, name).
_NAMED = {
    ObjectType.TABLE: "table",
    ObjectType.VIEW: "view",
    ObjectType.MATERIALIZED_VIEW: "materialized view",
    ObjectType.INDEX: "index",
    ObjectType.SEQUENCE: "sequence",
    ObjectType.ENUM: "type",
    ObjectType.COMPOSITE_TYPE: "type",
    ObjectType.RANGE_TYPE: "type",
    ObjectType.DOMAIN: "domain",
}
# Object types whose comment key is (comment type, schema, table, name).
_ON_TABLE = {
    ObjectType.CONSTRAINT: "constraint",
    ObjectType.FOREIGN_KEY: "constraint",
    ObjectType.TRIGGER: "trigger",
    ObjectType.POLICY: "policy",
    ObjectType.COLUMN: "column",
}
_RELATIONS = {ObjectType.TABLE, ObjectType.VIEW, ObjectType.MATERIALIZED_VIEW}


def _dropped_comment_keys(ops: list[Operation]) -> set[Key]:
    """Comment keys of objects the operations drop (and maybe recreate); ("relation", schema,
    name) stands for everything on a dropped relation (columns, constraints, ...)."""
    keys: set[Key] = set()
    for o in ops:
        if o.kind is not OpKind.DROP or not o.forward:
            continue
        schema = o.schema_name or ""
        if o.object_type is ObjectType.SCHEMA:
            keys.add(("schema", o.name))
        elif o.object_type is ObjectType.FUNCTION:
            old = o.old_as(Function)
            keys.add(("function", schema, old.name, old.identity_args))
        elif o.object_type in _ON_TABLE:
            keys.add((_ON_TABLE[o.object_type], schema, o.table or "", o.name))
        elif o.object_type in _NAMED:
            keys.add((_NAMED[o.object_type], schema, o.name))
            if o.object_type in _RELATIONS:
                keys.add(("relation", schema, o.name))
    return keys


def compare_comments(ctx: Context, ops: list[Operation]) -> list[Operation]:
    """COMMENT ON changes. Comments of dropped objects are cleared before the drop (so the
    reverse can set them again), and set again on recreated objects."""
    src = by_key(ctx.source.comments, lambda c: c.key)
    tgt = by_key(ctx.target.comments, lambda c: c.key)
    dropped = _dropped_comment_keys(ops)
    out: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        name = ".".join(key[1:])
        if len(key) == 4 and key[0] != "function" and ("relation", *key[1:3]) in dropped:
            dropped.add(key)
        if s is not None and t is not None and key not in dropped:
            if s != t:
                out.append(alter(ObjectType.COMMENT, t, s, name))
            continue
        if s == t and key not in dropped:
            continue
        out += pair(ObjectType.COMMENT, t, s, name)
    return out
