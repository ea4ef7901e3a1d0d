"""User-defined types: enums, domains and composite types."""

from __future__ import annotations

import re
from typing import Any

from schemashift.schemas.catalog import Catalog, Column, ForeignKey, Key, Table, labels_only_added
from schemashift.schemas.operations import (
    Direction,
    Hints,
    ObjectType,
    Operation,
    SwappedDomain,
    TypeUser,
)

from .common import Context, Unsupported, alter, by_key, pair
from .tables import index_hints


def enum_swaps(source: Catalog, target: Catalog) -> tuple[set[Key], set[Key]]:
    """The enums whose type the migration swaps (a value removed or reordered), and those only
    its reverse swaps (values added, which undoing removes)."""
    src = by_key(source.enums, lambda e: e.key)
    forward: set[Key] = set()
    reverse: set[Key] = set()
    for t in target.enums:
        s = src.get(t.key)
        if s is None or s.labels == t.labels:
            continue
        (reverse if labels_only_added(t.labels, s.labels) else forward).add(t.key)
    return forward, reverse


def compare_enums(ctx: Context) -> list[Operation]:
    """Values can only be added in place; the renderer handles removal or reordering by a type
    swap, for which the operation carries the columns that use the type (``used_by``) and that
    the swap converts, on both sides (the reverse of an addition is a removal).

    Runs after the tables: the converted columns are those that exist on both sides. When the
    forward script swaps, they are marked retyped, so that the views and foreign keys over
    them are rebuilt around the swap; when only its reverse does, ``reverse_retyped``.
    """
    src = by_key(ctx.source.enums, lambda e: e.key)
    tgt = by_key(ctx.target.enums, lambda e: e.key)
    ops: list[Operation] = []
    # Domains over a swapped enum are swapped with it: dropped and created over the new type,
    # their columns converted through text around that.
    forward, reverse = swapped_types(ctx.source, ctx.target)
    _refuse_swaps_under_types(ctx, forward)
    swapped_domains = {k for k in forward | reverse if k not in src}
    converted = sorted(forward | reverse)
    src_users = _converted_columns(ctx.source, ctx.target, converted, ctx)
    tgt_users = _converted_columns(ctx.target, ctx.source, converted, ctx)
    for key in forward:
        ctx.retyped.update((t.schema_name, t.name, c.name) for t, c in tgt_users.get(key, []))
    # Values added in place: undoing it swaps the type and converts the source's columns.
    for key in reverse:
        ctx.reverse_retyped.update(
            (t.schema_name, t.name, c.name) for t, c in src_users.get(key, [])
        )
    ops += _rebuild_mentions(ctx, forward, direction="both")
    ops += _rebuild_mentions(ctx, reverse, direction="reverse")
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s == t:
            continue
        if s is not None and t is not None:
            ops.append(
                alter(
                    ObjectType.ENUM,
                    t,
                    s,
                    key[1],
                    schema_name=key[0],
                    old_hints=Hints(
                        used_by=_type_users(tgt_users, key),
                        domains=_swapped_domains(ctx.target, key, swapped_domains, tgt_users),
                    ),
                    new_hints=Hints(
                        used_by=_type_users(src_users, key),
                        domains=_swapped_domains(ctx.source, key, swapped_domains, src_users),
                    ),
                )
            )
        else:
            ops += pair(ObjectType.ENUM, t, s, key[1], schema_name=key[0])
    return ops


def _rebuild_mentions(ctx: Context, types: set[Key], direction: Direction) -> list[Operation]:
    """Indexes and constraints whose definitions hold a value of a swapped type (a partial
    index ``WHERE status = 'active'``, a check): they depend on the old type, so they are
    dropped before the swap and created after it. Those the migration changes anyway, or
    whose table it drops, already are. With ``direction="reverse"``, only the reverse script
    (which swaps a type the migration adds values to) rebuilds them."""
    if not types:
        return []
    spellings = (re.escape(s) for key in types for s in _spellings(key, ctx))
    mention = re.compile("::(?:" + "|".join(spellings) + r")(?![\w$])")
    reason = "enum type swap" + (" of the reverse script" if direction == "reverse" else "")
    src = ctx.source.tables_by_key
    ops: list[Operation] = []
    for t in ctx.target.tables:
        found = [i for i in t.indexes if mention.search(i.definition)]
        constraints = [
            c
            for c in t.constraints
            if not isinstance(c, ForeignKey) and mention.search(c.definition)
        ]
        s = src.get(t.key)
        if not (found or constraints) or s is None or t.key in ctx.dropped_tables:
            continue
        where: dict[str, Any] = {"schema_name": t.schema_name, "table": t.name}
        where |= {"reason": reason, "direction": direction, "dependent": True}
        s_idx = {i.name: i for i in s.indexes}
        for index in found:
            key = (t.schema_name, t.name, index.name)
            if key in ctx.changed_indexes or s_idx.get(index.name) != index:
                continue
            hints = index_hints(t)
            ops += pair(
                ObjectType.INDEX,
                index,
                index,
                index.name,
                old_hints=hints,
                new_hints=hints,
                **where,
            )
            if index.unique and direction == "both":
                ctx.rekeyed_tables.add(t.key)
        s_cons = {c.name: c for c in s.constraints}
        for constraint in constraints:
            key = (t.schema_name, t.name, constraint.name)
            if key in ctx.changed_constraints or s_cons.get(constraint.name) != constraint:
                continue
            ops += pair(ObjectType.CONSTRAINT, constraint, constraint, constraint.name, **where)
            if constraint.kind != "check" and direction == "both":
                ctx.rekeyed_tables.add(t.key)
    return ops


def swapped_types(source: Catalog, target: Catalog) -> tuple[set[Key], set[Key]]:
    """:func:`enum_swaps` with the domains over those enums, which are swapped with them."""
    forward, reverse = enum_swaps(source, target)
    return (
        forward | _domains_over(source, target, forward),
        reverse | _domains_over(source, target, reverse),
    )


def _domains_over(source: Catalog, target: Catalog, enums: set[Key]) -> set[Key]:
    """Domains whose base type is one of ``enums`` (or an array of it) on both sides."""
    if not enums:
        return set()
    src = by_key(source.domains, lambda d: d.key)
    return {
        d.key
        for d in target.domains
        if enums & {tuple(t) for t in d.types}
        and d.key in src
        and src[d.key].base_type == d.base_type
    }


def _swapped_domains(
    catalog: Catalog, enum: Key, domains: set[Key], users: _Users
) -> list[SwappedDomain]:
    """For the swap of ``enum``: each domain over it, as ``catalog`` has it, with its comment
    and the columns of its type that the swap converts."""
    over = [d for d in catalog.domains if d.key in domains and enum in {tuple(t) for t in d.types}]
    if not over:
        return []
    comments = {tuple(c.target): c.text for c in catalog.comments if c.object_type == "domain"}
    return [
        SwappedDomain(domain=d, comment=comments.get(d.key), used_by=_type_users(users, d.key))
        for d in over
    ]


def _refuse_swaps_under_types(ctx: Context, swapped: set[Key]) -> None:
    """A swap (of the enums and domains ``swapped``) converts columns and rebuilds the
    functions and domains over the enum, but cannot retype a composite type's attribute, nor
    rebuild a domain that another type uses or that the migration creates, drops or re-bases:
    PostgreSQL would refuse to drop the old type at the end."""
    for catalog in (ctx.target, ctx.source):
        users: list[tuple[str, Any]] = [("composite type", c) for c in catalog.composite_types]
        users += [("domain", d) for d in catalog.domains if d.key not in swapped]
        for kind, user in users:
            for key in swapped & {tuple(t) for t in user.types}:
                name = f"{user.schema_name}.{user.name}"
                raise Unsupported(
                    f"cannot remove or reorder enum values under {'.'.join(key)}: {kind} "
                    f"{name} uses it, and the type swap this needs cannot convert it; migrate "
                    f"in two steps (first drop or change {name})"
                )


_Users = dict[Key, list[tuple[Table, Column]]]


def _converted_columns(catalog: Catalog, other: Catalog, types: list[Key], ctx: Context) -> _Users:
    """The columns of ``catalog`` (in catalog order) of each of ``types`` (or an array of it)
    that a type swap converts: those the migration neither drops nor creates (the table and
    the column are on both sides, the table is not recreated) and that are not inherited
    (ALTER on the parent converts them)."""
    if not types:
        return {}
    spellings = {spelling: key for key in types for spelling in _spellings(key, ctx)}
    found: _Users = {}
    for t in catalog.tables:
        for c in t.columns:
            key = spellings.get(c.type.removesuffix("[]"))
            if key is None or t.key in ctx.recreated_tables:
                continue
            twin = other.table(t.schema_name, t.name)
            if twin is None or twin.column(c.name) is None or _inherited(catalog, t, c.name):
                continue
            found.setdefault(key, []).append((t, c))
    return found


def _spellings(key: Key, ctx: Context) -> tuple[str, str]:
    """How format_type() names a type: qualified, or not when its schema is on the search_path."""
    q = ctx.quote
    return f"{q(key[0])}.{q(key[1])}", q(key[1])


def _inherited(catalog: Catalog, table: Table, column: str) -> bool:
    parents = (catalog.table(*p) for p in table.parents)
    return any(p is not None and p.column(column) is not None for p in parents)


def _type_users(columns: _Users, key: Key) -> list[TypeUser]:
    """Columns of type ``key`` (or an array of it): a value removal must convert them."""
    return [
        TypeUser(
            schema_name=t.schema_name, table=t.name, column=c.name, type=c.type, default=c.default
        )
        for t, c in columns.get(key, [])
    ]


def compare_domains(ctx: Context) -> list[Operation]:
    """ALTER DOMAIN for defaults, NOT NULL and constraints; a new base type or collation means
    drop and create."""
    src = by_key(ctx.source.domains, lambda d: d.key)
    tgt = by_key(ctx.target.domains, lambda d: d.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s == t:
            continue
        where = {"schema_name": key[0]}
        if (
            s is not None
            and t is not None
            and (s.base_type, s.collation) == (t.base_type, t.collation)
        ):
            ops.append(alter(ObjectType.DOMAIN, t, s, key[1], **where))
        else:
            ops += pair(ObjectType.DOMAIN, t, s, key[1], **where)
    return ops


def compare_range_types(ctx: Context) -> list[Operation]:
    """CREATE/DROP TYPE ... AS RANGE; a range type cannot be altered, so a changed one is
    dropped and created again."""
    src = by_key(ctx.source.range_types, lambda r: r.key)
    tgt = by_key(ctx.target.range_types, lambda r: r.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        if s != t:
            ops += pair(ObjectType.RANGE_TYPE, t, s, key[1], schema_name=key[0])
    return ops


def compare_composite_types(ctx: Context) -> list[Operation]:
    """ALTER TYPE ADD/DROP/ALTER ATTRIBUTE. Like table columns, attribute order is not a
    difference (the fingerprint ignores it too)."""
    src = by_key(ctx.source.composite_types, lambda c: c.key)
    tgt = by_key(ctx.target.composite_types, lambda c: c.key)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        where = {"schema_name": key[0]}
        if s is not None and t is not None:
            if {a.name: a for a in s.attributes} == {a.name: a for a in t.attributes}:
                continue
            ops.append(alter(ObjectType.COMPOSITE_TYPE, t, s, key[1], **where))
        else:
            ops += pair(ObjectType.COMPOSITE_TYPE, t, s, key[1], **where)
    return ops
