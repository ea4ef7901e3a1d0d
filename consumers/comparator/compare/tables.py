"""Tables: columns, non-FK constraints, indexes, partitioning, inheritance and RLS flags.

What a child table inherits (partitions from their parent, INHERITS children from their parents)
is the parent's: columns both sides inherit are left to the parent, and the introspector already
leaves out inherited constraints, indexes and triggers. A table whose partitioning (PARTITION BY)
changes cannot be altered: it is dropped and created again, together with its partitions.
"""

from __future__ import annotations

from typing import Any

from schemashift.schemas.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Constraint,
    ExclusionConstraint,
    ForeignKey,
    InheritanceLink,
    Key,
    PrimaryKey,
    Table,
    UniqueConstraint,
)
from schemashift.schemas.operations import Hints, ObjectType, Operation, OpKind

from .common import Context, alter, by_key, op, pair, same_but_validity

_FLAGS = ("unlogged", "rls_enabled", "rls_forced", "options")
_PARTS: dict[str, list[Any]] = {"columns": [], "constraints": [], "indexes": []}


def table_body(table: Table, catalog: Catalog) -> Table:
    """A table as CREATE TABLE renders it: foreign keys travel as separate operations, and
    columns that come from a parent are the parent's."""
    inherited = parent_columns(table, catalog)
    columns = table.columns
    if inherited:
        columns = [c for c in columns if c.name not in inherited]
    constraints = _later_checks(table, inline=True)
    if len(columns) == len(table.columns) and len(constraints) == len(table.constraints):
        return table  # most tables: no copy
    return table.model_copy(update={"columns": columns, "constraints": constraints})


def index_hints(table: Table) -> Hints:
    """What an index operation needs to know about its table."""
    return _PARTITIONED if table.partition_by is not None else _PLAIN


_PARTITIONED, _PLAIN = Hints(partitioned=True), Hints()


def _later_checks(table: Table, *, inline: bool = False) -> list[Constraint]:
    """The table's NOT VALID checks, added after CREATE TABLE (which would validate them);
    with ``inline``, the non-FK constraints CREATE TABLE has instead."""
    return [c for c in table.constraints if not isinstance(c, ForeignKey) and c.valid is inline]


def parent_columns(table: Table, catalog: Catalog) -> set[str]:
    """Names of the columns ``table`` gets from its parents."""
    return _columns_of(table.parents, catalog)


def _columns_of(tables: list[Key], catalog: Catalog) -> set[str]:
    names: set[str] = set()
    for key in tables:
        parent = catalog.tables_by_key.get(key)
        if parent is not None:
            names |= {c.name for c in parent.columns}
    return names


def _needs_readd(old: Column, new: Column) -> bool:
    """Changes ALTER COLUMN cannot make on every version: adding or changing a generation
    expression, switching between stored and virtual, making a virtual column a plain one."""
    if new.generated is not None:
        return (old.generated, old.virtual) != (new.generated, new.virtual)
    return old.virtual


def _recreated(source: Catalog, target: Catalog) -> set[Key]:
    """Tables on both sides whose partitioning changes: they are dropped and created again
    (their partitions are detached before and attached again after)."""
    src, tgt = source.tables_by_key, target.tables_by_key
    return {k for k in src.keys() & tgt.keys() if src[k].partition_by != tgt[k].partition_by}


def compare_tables(ctx: Context) -> list[Operation]:
    """Tables that are created, dropped, recreated or altered."""
    source, target = ctx.source, ctx.target
    src, tgt = source.tables_by_key, target.tables_by_key
    ctx.recreated_tables = _recreated(source, target)
    ops: list[Operation] = []
    for key in sorted(src.keys() - tgt.keys() | ctx.recreated_tables):
        reason = "partitioning changes" if key in ctx.recreated_tables else None
        body = table_body(src[key], source)
        ops.append(
            op(OpKind.CREATE, ObjectType.TABLE, key[1], schema_name=key[0], new=body, reason=reason)
        )
        for check in _later_checks(src[key]):
            ops.append(
                op(
                    OpKind.CREATE,
                    ObjectType.CONSTRAINT,
                    check.name,
                    new=check,
                    schema_name=key[0],
                    table=key[1],
                )
            )
    for key in sorted(tgt.keys() - src.keys() | ctx.recreated_tables):
        ctx.dropped_tables.add(key)
        reason = "partitioning changes" if key in ctx.recreated_tables else None
        body = table_body(tgt[key], target)
        ops.append(
            op(OpKind.DROP, ObjectType.TABLE, key[1], schema_name=key[0], old=body, reason=reason)
        )
        for check in _later_checks(tgt[key]):  # so that the reverse adds them again
            ops.append(
                op(
                    OpKind.DROP,
                    ObjectType.CONSTRAINT,
                    check.name,
                    old=check,
                    schema_name=key[0],
                    table=key[1],
                )
            )
    for key in sorted(src.keys() & tgt.keys() - ctx.recreated_tables):
        s, t = src[key], tgt[key]
        # Most tables of a large schema are equal; only a recreated parent touches those.
        if s == t and ctx.recreated_tables.isdisjoint(s.parents):
            continue
        ops += _compare_table(s, t, ctx)
    return ops


def _compare_table(s: Table, t: Table, ctx: Context) -> list[Operation]:
    schema, table = s.key
    where: dict[str, Any] = {"schema_name": schema, "table": table}
    ops: list[Operation] = []
    # ALTERs of the table itself carry it without its parts, which have operations of their own.
    # Two steps, target to flags changed to source: the replica identity alone, since it may
    # name an index made later.
    changed = {f: getattr(s, f) for f in _FLAGS if getattr(s, f) != getattr(t, f)}
    was = t.model_copy(update=_PARTS)
    if changed:
        now = was.model_copy(update=changed)
        ops.append(alter(ObjectType.TABLE, was, now, table, schema_name=schema))
        was = now
    if s.replica_identity != t.replica_identity:
        now = was.model_copy(update={"replica_identity": s.replica_identity})
        ops.append(alter(ObjectType.TABLE, was, now, table, schema_name=schema))
    ops += _compare_parents(s, t, ctx)

    # Columns, in the source's order so that added columns keep their relative position.
    # Columns a parent (linked on both sides) has in the source are the parent's business;
    # those only its target version has go away with the parent's DROP COLUMN.
    common = [p for p in s.parents if p in t.parents and not _relinked(s, t, p, ctx)]
    src_inherited = _columns_of(common, ctx.source)
    gone_with_parent = _columns_of(common, ctx.target) - src_inherited
    t_cols = {c.name: c for c in t.columns if c.name not in gone_with_parent}
    s_names = {c.name for c in s.columns}
    for col in t_cols.values():
        if col.name not in s_names and col.name not in src_inherited:
            ctx.dropped.add((schema, table, col.name))
            ops.append(op(OpKind.DROP, ObjectType.COLUMN, col.name, old=col, **where))
    for col in s.columns:
        old = t_cols.get(col.name)
        if col.name in src_inherited:
            continue
        if old is None:
            ops.append(op(OpKind.CREATE, ObjectType.COLUMN, col.name, new=col, **where))
        elif old != col:
            if _needs_readd(old, col):
                ctx.readded.add((schema, table, col.name))
                ops += pair(
                    ObjectType.COLUMN,
                    old,
                    col,
                    col.name,
                    reason="generation expression changed",
                    **where,
                )
            else:
                if (old.type, old.collation) != (col.type, col.collation):
                    ctx.retyped.add((schema, table, col.name))
                ops.append(alter(ObjectType.COLUMN, old, col, col.name, **where))

    readded = {c for (sc, tb, c) in ctx.readded if (sc, tb) == s.key}
    ops += _compare_constraints(s, t, readded, ctx)
    ops += _compare_indexes(s, t, readded, ctx)
    return ops


def _relinked(s: Table, t: Table, parent: Key, ctx: Context) -> bool:
    """Whether the link to ``parent`` is detached and attached again."""
    bound = s.partition_bound if s.partition_of else None
    old_bound = t.partition_bound if t.partition_of else None
    return parent in ctx.recreated_tables or bound != old_bound


def _compare_parents(s: Table, t: Table, ctx: Context) -> list[Operation]:
    """ATTACH/DETACH PARTITION and INHERIT/NO INHERIT, as INHERITANCE operations (CREATE
    attaches, DROP detaches; a changed bound is a detach and an attach, and so is the link to a
    parent that is recreated). A link also names the parent's inheritable CHECK constraints,
    which the table must have before it is attached."""
    schema, table = s.key

    def links(x: Table) -> dict[Key, InheritanceLink]:
        found = {tuple(p): InheritanceLink(parent=list(p)) for p in x.inherits}
        if x.partition_of:
            found[tuple(x.partition_of)] = InheritanceLink(
                parent=list(x.partition_of), bound=x.partition_bound
            )
        return found

    def checks(link: InheritanceLink | None, catalog: Catalog) -> Hints | None:
        parent = catalog.tables_by_key.get(tuple(link.parent)) if link else None
        if parent is None:
            return None
        inheritable = [
            c.name
            for c in parent.constraints
            if isinstance(c, CheckConstraint) and not c.no_inherit
        ]
        return Hints(parent_checks=inheritable)

    src, tgt = links(s), links(t)
    ops: list[Operation] = []
    for parent in sorted(src.keys() | tgt.keys()):
        a, b = src.get(parent), tgt.get(parent)
        if a == b and parent not in ctx.recreated_tables:
            continue
        ops += pair(
            ObjectType.INHERITANCE,
            b,
            a,
            ".".join(parent),
            old_hints=checks(b, ctx.target),
            new_hints=checks(a, ctx.source),
            schema_name=schema,
            table=table,
            dependent=a == b,  # detached and attached again around a recreated parent
        )
    return ops


def _compare_constraints(s: Table, t: Table, readded: set[str], ctx: Context) -> list[Operation]:
    """Non-FK constraints by name; a changed definition means drop and add."""
    where: dict[str, Any] = {"schema_name": s.schema_name, "table": s.name}
    s_cons = {c.name: c for c in s.constraints if not isinstance(c, ForeignKey)}
    t_cons = {c.name: c for c in t.constraints if not isinstance(c, ForeignKey)}
    ops: list[Operation] = []
    for name in sorted(s_cons.keys() | t_cons.keys()):
        sc, tc = s_cons.get(name), t_cons.get(name)
        rebuild = sc is not None and tc is not None and bool(readded & set(tc.columns))
        if sc == tc and not rebuild:
            continue
        ctx.changed_constraints.add((s.schema_name, s.name, name))
        if not rebuild and sc is not None and tc is not None and same_but_validity(sc, tc):
            ops.append(alter(ObjectType.CONSTRAINT, tc, sc, name, **where))
            continue
        if isinstance(tc, PrimaryKey | UniqueConstraint | ExclusionConstraint):
            ctx.rekeyed_tables.add(s.key)
        ops += pair(
            ObjectType.CONSTRAINT,
            tc,
            sc,
            name,
            reason="column re-added" if sc == tc else None,
            dependent=sc == tc,
            **where,
        )
    return ops


def _compare_indexes(s: Table, t: Table, readded: set[str], ctx: Context) -> list[Operation]:
    where: dict[str, Any] = {"schema_name": s.schema_name, "table": s.name}
    s_idx = by_key(s.indexes, lambda i: i.name)
    t_idx = by_key(t.indexes, lambda i: i.name)
    ops: list[Operation] = []
    for name in sorted(s_idx.keys() | t_idx.keys()):
        si, ti = s_idx.get(name), t_idx.get(name)
        rebuild = si is not None and ti is not None and bool(readded & set(ti.columns))
        if si == ti and not rebuild:
            continue
        ctx.changed_indexes.add((s.schema_name, s.name, name))
        if ti is not None and ti.unique:
            ctx.rekeyed_tables.add(s.key)
        ops += pair(
            ObjectType.INDEX,
            ti,
            si,
            name,
            old_hints=index_hints(t),
            new_hints=index_hints(s),
            reason="column re-added" if si == ti else None,
            dependent=si == ti,
            **where,
        )
    return ops
