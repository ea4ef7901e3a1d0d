"""Compare two catalogs: which operations make TARGET's schema equal SOURCE's (desired) one.

One small comparator per kind of object, Alembic-style. Operations come out in no particular
order; :func:`consumers.generator.order.plan` orders them. Beyond plain differences, the differ
also *rebuilds* unchanged dependents that a change would otherwise break: foreign keys over a
column whose type changes or over a key that is recreated, indexes and constraints over a column
that must be dropped and re-added, and views over any altered column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql

from schemas.catalog import (
    Catalog,
    CatalogModel,
    Column,
    ExclusionConstraint,
    ForeignKey,
    Key,
    PrimaryKey,
    Sequence,
    Table,
    UniqueConstraint,
    View,
)
from schemas.operations import ObjectType, Operation, OpKind

_quote = postgresql.dialect().identifier_preparer.quote


def q(name: str) -> str:
    """Quote like PostgreSQL's format_type() does (only when needed)."""
    return _quote(name)


T = TypeVar("T")
ColumnKey = tuple[str, str, str]


def diff(source: Catalog, target: Catalog) -> list[Operation]:
    """Operations that turn ``target`` into ``source``; empty when the schemas are equal."""
    ctx = _Context()
    ops: list[Operation] = []
    ops += _diff_schemas(source, target)
    ops += _diff_extensions(source, target)
    ops += _diff_enums(source, target)
    ops += _diff_sequences(source, target)
    ops += _diff_tables(source, target, ctx)
    ops += _diff_foreign_keys(source, target, ctx)
    ops += _diff_views(source, target, ctx)
    ops += _diff_comments(source, target, ops)
    return ops


@dataclass
class _Context:
    """What table comparison learnt that decides which dependents must be rebuilt."""

    retyped: set[ColumnKey] = field(default_factory=set)  # ALTER COLUMN ... TYPE
    readded: set[ColumnKey] = field(default_factory=set)  # dropped and added again
    dropped: set[ColumnKey] = field(default_factory=set)
    dropped_tables: set[Key] = field(default_factory=set)
    rekeyed_tables: set[Key] = field(default_factory=set)  # a PK/unique is dropped or rebuilt


def _by_key(items: Iterable[T], key: Any) -> dict[Any, T]:
    return {key(i): i for i in items}


def _dump(model: CatalogModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _op(kind: OpKind, object_type: ObjectType, name: str, **fields: Any) -> Operation:
    return Operation(kind=kind, object_type=object_type, name=name, **fields)


def _pair(
    object_type: ObjectType,
    old: CatalogModel | dict[str, Any] | None,
    new: CatalogModel | dict[str, Any] | None,
    name: str,
    **fields: Any,
) -> list[Operation]:
    """Drop ``old`` and create ``new`` (either may be missing)."""
    ops = []
    if old is not None:
        ops.append(_op(OpKind.DROP, object_type, name, old=_as_dict(old), **fields))
    if new is not None:
        ops.append(_op(OpKind.CREATE, object_type, name, new=_as_dict(new), **fields))
    return ops


def _as_dict(obj: CatalogModel | dict[str, Any]) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else _dump(obj)


# --- schemas, extensions, enums, sequences -------------------------------------------------


def _diff_schemas(source: Catalog, target: Catalog) -> list[Operation]:
    src, tgt = set(source.schemas), set(target.schemas)
    ops = [_op(OpKind.CREATE, ObjectType.SCHEMA, s, new={"name": s}) for s in sorted(src - tgt)]
    ops += [_op(OpKind.DROP, ObjectType.SCHEMA, s, old={"name": s}) for s in sorted(tgt - src)]
    return ops


def _diff_extensions(source: Catalog, target: Catalog) -> list[Operation]:
    src = _by_key(source.extensions, lambda e: e.name)
    tgt = _by_key(target.extensions, lambda e: e.name)
    ops: list[Operation] = []
    for name in sorted(src.keys() | tgt.keys()):
        s, t = src.get(name), tgt.get(name)
        if s == t:
            continue
        if s is not None and t is not None and s.schema_name == t.schema_name:
            ops.append(_op(OpKind.ALTER, ObjectType.EXTENSION, name, old=_dump(t), new=_dump(s)))
        else:
            ops += _pair(ObjectType.EXTENSION, t, s, name)
    return ops


def _diff_enums(source: Catalog, target: Catalog) -> list[Operation]:
    src = _by_key(source.enums, lambda e: e.key)
    tgt = _by_key(target.enums, lambda e: e.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s == t:
            continue
        if s is not None and t is not None:
            # Values can only be added in place; the renderer handles removal by a type swap.
            ops.append(
                _op(
                    OpKind.ALTER,
                    ObjectType.ENUM,
                    key[1],
                    schema_name=key[0],
                    old={**_dump(t), "used_by": _enum_users(target, key)},
                    new={**_dump(s), "used_by": _enum_users(source, key)},
                )
            )
        else:
            ops += _pair(ObjectType.ENUM, t, s, key[1], schema_name=key[0])
    return ops


def _enum_users(catalog: Catalog, key: Key) -> list[dict[str, Any]]:
    """Columns of type ``key`` (or an array of it): a value removal must convert them."""
    names = {f"{q(key[0])}.{q(key[1])}", q(key[1])}
    return [
        {
            "schema_name": t.schema_name,
            "table": t.name,
            "column": c.name,
            "type": c.type,
            "default": c.default,
        }
        for t in catalog.tables
        for c in t.columns
        if c.type.removesuffix("[]") in names
    ]


def _diff_sequences(source: Catalog, target: Catalog) -> list[Operation]:
    """Ownership (OWNED BY) is split off so that it can be set after its table exists."""
    src = _by_key(source.sequences, lambda s: s.key)
    tgt = _by_key(target.sequences, lambda s: s.key)
    ops: list[Operation] = []

    def alter(old: Sequence, new: Sequence) -> None:
        ops.append(
            _op(
                OpKind.ALTER,
                ObjectType.SEQUENCE,
                new.name,
                schema_name=new.schema_name,
                old=_dump(old),
                new=_dump(new),
            )
        )

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
            alter(t, t_free)  # disown first: dropping the old owner must not drop the sequence
        if s_free is not None and t_free is not None and s_free != t_free:
            alter(t_free, s_free)
        if s_free is None or t_free is None:
            ops += _pair(
                ObjectType.SEQUENCE,
                t_free,
                s_free,
                key[1],
                schema_name=key[0],
            )
        if (
            s is not None
            and s_free is not None
            and s.owned_by
            and (t is None or s.owned_by != t.owned_by)
        ):
            alter(s_free, s)
    return ops


# --- tables, columns, constraints, indexes ---------------------------------------------------


def _table_body(table: Table) -> dict[str, Any]:
    """A table as CREATE TABLE renders it: foreign keys travel as separate operations."""
    data = _dump(table)
    data["constraints"] = [
        c.model_dump(mode="json") for c in table.constraints if not isinstance(c, ForeignKey)
    ]
    return data


def _needs_readd(old: Column, new: Column) -> bool:
    """Changes ALTER COLUMN cannot make (PostgreSQL 15): adding/changing a generation expr."""
    return new.generated is not None and old.generated != new.generated


def _diff_tables(source: Catalog, target: Catalog, ctx: _Context) -> list[Operation]:
    src, tgt = source.tables_by_key, target.tables_by_key
    ops: list[Operation] = []
    for key in sorted(src.keys() - tgt.keys()):
        ops.append(
            _op(
                OpKind.CREATE,
                ObjectType.TABLE,
                key[1],
                schema_name=key[0],
                new=_table_body(src[key]),
            )
        )
    for key in sorted(tgt.keys() - src.keys()):
        ctx.dropped_tables.add(key)
        ops.append(
            _op(
                OpKind.DROP, ObjectType.TABLE, key[1], schema_name=key[0], old=_table_body(tgt[key])
            )
        )
    for key in sorted(src.keys() & tgt.keys()):
        ops += _diff_table(src[key], tgt[key], ctx)
    return ops


def _diff_table(s: Table, t: Table, ctx: _Context) -> list[Operation]:
    schema, table = s.key
    where = {"schema_name": schema, "table": table}
    ops: list[Operation] = []
    if s.unlogged != t.unlogged:
        ops.append(
            _op(
                OpKind.ALTER,
                ObjectType.TABLE,
                table,
                schema_name=schema,
                old={"unlogged": t.unlogged},
                new={"unlogged": s.unlogged},
            )
        )

    # Columns, in the source's order so that added columns keep their relative position.
    t_cols = _by_key(t.columns, lambda c: c.name)
    s_names = {c.name for c in s.columns}
    for col in t.columns:
        if col.name not in s_names:
            ctx.dropped.add((schema, table, col.name))
            ops.append(_op(OpKind.DROP, ObjectType.COLUMN, col.name, old=_dump(col), **where))
    for col in s.columns:
        old = t_cols.get(col.name)
        if old is None:
            ops.append(_op(OpKind.CREATE, ObjectType.COLUMN, col.name, new=_dump(col), **where))
        elif old != col:
            if _needs_readd(old, col):
                ctx.readded.add((schema, table, col.name))
                ops += _pair(
                    ObjectType.COLUMN,
                    _dump(old),
                    _dump(col),
                    col.name,
                    reason="generation expression changed",
                    **where,
                )
            else:
                if (old.type, old.collation) != (col.type, col.collation):
                    ctx.retyped.add((schema, table, col.name))
                ops.append(
                    _op(
                        OpKind.ALTER,
                        ObjectType.COLUMN,
                        col.name,
                        old=_dump(old),
                        new=_dump(col),
                        **where,
                    )
                )

    readded = {c for (sc, tb, c) in ctx.readded if (sc, tb) == s.key}

    # Non-FK constraints by name; a changed definition means drop and add.
    s_cons = {c.name: c for c in s.constraints if not isinstance(c, ForeignKey)}
    t_cons = {c.name: c for c in t.constraints if not isinstance(c, ForeignKey)}
    for name in sorted(s_cons.keys() | t_cons.keys()):
        sc, tc = s_cons.get(name), t_cons.get(name)
        rebuild = sc is not None and tc is not None and bool(readded & set(tc.columns))
        if sc == tc and not rebuild:
            continue
        if isinstance(tc, PrimaryKey | UniqueConstraint | ExclusionConstraint):
            ctx.rekeyed_tables.add(s.key)
        ops += _pair(
            ObjectType.CONSTRAINT,
            tc,
            sc,
            name,
            reason="column re-added" if sc == tc else None,
            **where,
        )

    s_idx = _by_key(s.indexes, lambda i: i.name)
    t_idx = _by_key(t.indexes, lambda i: i.name)
    for name in sorted(s_idx.keys() | t_idx.keys()):
        si, ti = s_idx.get(name), t_idx.get(name)
        rebuild = si is not None and ti is not None and bool(readded & set(ti.columns))
        if si == ti and not rebuild:
            continue
        if ti is not None and ti.unique:
            ctx.rekeyed_tables.add(s.key)
        ops += _pair(
            ObjectType.INDEX,
            ti,
            si,
            name,
            reason="column re-added" if si == ti else None,
            **where,
        )
    return ops


def _diff_foreign_keys(source: Catalog, target: Catalog, ctx: _Context) -> list[Operation]:
    """FKs of every table; runs after tables so that it knows which keys/columns change."""
    moved = ctx.retyped | ctx.readded

    def fks(catalog: Catalog) -> dict[tuple[str, str, str], ForeignKey]:
        return {
            (t.schema_name, t.name, fk.name): fk for t in catalog.tables for fk in t.foreign_keys
        }

    src, tgt = fks(source), fks(target)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        reason = None
        if s is not None and s == t:
            local = {(key[0], key[1], c) for c in s.columns}
            remote = {(s.ref_schema, s.ref_table, c) for c in s.ref_columns}
            if (local | remote) & moved:
                reason = "column type changes"
            elif s.ref_key in ctx.rekeyed_tables:
                reason = "referenced key is rebuilt"
            else:
                continue
        ops += _pair(
            ObjectType.FOREIGN_KEY,
            t,
            s,
            key[2],
            schema_name=key[0],
            table=key[1],
            reason=reason,
        )
    return ops


# --- views -------------------------------------------------------------------------------


def _diff_views(source: Catalog, target: Catalog, ctx: _Context) -> list[Operation]:
    """Views are replaced by drop and create; views over altered columns are rebuilt."""
    src = _by_key(source.views, lambda v: v.key)
    tgt = _by_key(target.views, lambda v: v.key)
    touched_cols = ctx.retyped | ctx.readded | ctx.dropped
    rebuilt: set[Key] = set()

    def depends_on_touched(view: View) -> bool:
        for schema, rel, col in (tuple(d) for d in view.depends_on):
            if (schema, rel) in ctx.dropped_tables or (schema, rel, col) in touched_cols:
                return True
            if (schema, rel) in rebuilt:
                return True
        return False

    changed = {k for k in src.keys() | tgt.keys() if src.get(k) != tgt.get(k)}
    rebuilt |= changed
    # Transitively: a view over a rebuilt view is rebuilt too.
    grew = True
    while grew:
        grew = False
        for key in src.keys() & tgt.keys():
            if key not in rebuilt and depends_on_touched(tgt[key]):
                rebuilt.add(key)
                grew = True

    ops: list[Operation] = []
    for key in sorted(rebuilt):
        s, t = src.get(key), tgt.get(key)
        reason = "dependency changes" if s == t else None
        if t is not None:
            ops.append(
                _op(
                    OpKind.DROP,
                    _view_type(t),
                    key[1],
                    schema_name=key[0],
                    old=_dump(t),
                    reason=reason,
                )
            )
        if s is not None:
            ops.append(
                _op(
                    OpKind.CREATE,
                    _view_type(s),
                    key[1],
                    schema_name=key[0],
                    new=_dump(s),
                    reason=reason,
                )
            )
    return ops


def _view_type(view: View) -> ObjectType:
    return ObjectType.MATERIALIZED_VIEW if view.materialized else ObjectType.VIEW


# --- comments ----------------------------------------------------------------------------

_COMMENTED = {
    ObjectType.SCHEMA: "schema",
    ObjectType.TABLE: "table",
    ObjectType.VIEW: "view",
    ObjectType.MATERIALIZED_VIEW: "materialized view",
    ObjectType.INDEX: "index",
}


def _dropped_comment_keys(ops: list[Operation]) -> set[Key]:
    """Comment keys of objects the operations drop (and maybe recreate)."""
    keys: set[Key] = set()
    for op in ops:
        if op.kind is not OpKind.DROP:
            continue
        if op.object_type is ObjectType.COLUMN:
            keys.add(("column", op.schema_name or "", op.table or "", op.name))
        elif op.object_type is ObjectType.SCHEMA:
            keys.add(("schema", op.name))
        elif op.object_type in _COMMENTED:
            keys.add((_COMMENTED[op.object_type], op.schema_name or "", op.name))
            # the relation's column comments go with it
            keys.add(("relation", op.schema_name or "", op.name))
    return keys


def _diff_comments(source: Catalog, target: Catalog, ops: list[Operation]) -> list[Operation]:
    """COMMENT ON changes. Comments of dropped objects are cleared before the drop (so the
    reverse can set them again), and set again on recreated objects."""
    src = _by_key(source.comments, lambda c: c.key)
    tgt = _by_key(target.comments, lambda c: c.key)
    dropped = _dropped_comment_keys(ops)
    out: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        name = ".".join(key[1:])
        if key[0] == "column" and ("relation", *key[1:3]) in dropped:
            dropped.add(key)
        if s is not None and t is not None and key not in dropped:
            if s != t:
                out.append(_op(OpKind.ALTER, ObjectType.COMMENT, name, old=_dump(t), new=_dump(s)))
            continue
        if s == t and key not in dropped:
            continue
        out += _pair(ObjectType.COMMENT, t, s, name)
    return out
