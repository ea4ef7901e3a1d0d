"""GRANT/REVOKE on schemas, tables (and views), sequences and functions, from the ACLs.

Compared only when asked to (``diff(..., privileges=True)``); roles are never created. An
object created (or recreated) by the migration starts with PostgreSQL's default ACL, so its
privileges are compared against that default; such operations are marked ``fresh`` so that they
run after the object exists.
"""

from __future__ import annotations

from schemas.catalog import Catalog, Key, Privilege
from schemas.operations import ObjectType, Operation, OpKind

from .common import Context, dump, op

# What PostgreSQL grants to others than the owner on a new object (see acldefault()).
_DEFAULTS: dict[str, list[tuple[str, str]]] = {"function": [("PUBLIC", "EXECUTE")]}


def _objects(catalog: Catalog) -> set[Key]:
    """(object_type, *target) of every object that can hold privileges."""
    found: set[Key] = {("schema", s) for s in catalog.schemas}
    found |= {("table", *t.key) for t in catalog.tables}
    found |= {("table", *v.key) for v in catalog.views}
    found |= {("sequence", *s.key) for s in catalog.sequences}
    found |= {("function", *f.key) for f in catalog.functions}
    return found


def _fresh(ctx: Context) -> set[Key]:
    """Objects of the source that the migration creates or recreates."""
    fresh = _objects(ctx.source) - _objects(ctx.target)
    fresh |= {("table", *k) for k in ctx.recreated_tables | ctx.rebuilt_views}
    fresh |= {("function", *k) for k in ctx.rebuilt_functions}
    return fresh


def compare_privileges(ctx: Context) -> list[Operation]:
    """GRANT what the source has and the target lacks, REVOKE the reverse."""
    fresh = _fresh(ctx)
    src: dict[Key, list[Privilege]] = {}
    for p in ctx.source.privileges:
        src.setdefault((p.object_type, *p.target), []).append(p)
    tgt: dict[Key, list[Privilege]] = {}
    for p in ctx.target.privileges:
        tgt.setdefault((p.object_type, *p.target), []).append(p)
    ops: list[Operation] = []
    for obj in sorted(_objects(ctx.source)):
        wanted = src.get(obj, [])
        if obj in fresh:
            have = [
                Privilege.model_validate(
                    {"object_type": obj[0], "target": list(obj[1:]), "grantee": g, "privilege": p}
                )
                for g, p in _DEFAULTS.get(obj[0], [])
            ]
        else:
            have = tgt.get(obj, [])
        is_fresh = obj in fresh
        have_by = {(p.key, p.grantable): p for p in have}
        wanted_by = {(p.key, p.grantable): p for p in wanted}
        for k in sorted(have_by.keys() - wanted_by.keys()):
            ops.append(_op(OpKind.DROP, have_by[k], is_fresh))
        for k in sorted(wanted_by.keys() - have_by.keys()):
            ops.append(_op(OpKind.CREATE, wanted_by[k], is_fresh))
    return ops


def _op(kind: OpKind, privilege: Privilege, fresh: bool) -> Operation:
    data = {**dump(privilege), "fresh": fresh}
    schema = privilege.target[0]
    name = ".".join(privilege.target[1:]) or schema
    label = f"{name}:{privilege.privilege}:{privilege.grantee}"
    return op(
        kind,
        ObjectType.PRIVILEGE,
        label,
        schema_name=schema,
        **({"new": data} if kind is OpKind.CREATE else {"old": data}),
    )
