"""GRANT/REVOKE on schemas, tables (and views), sequences, functions and columns, from the ACLs.

Compared only when asked to (``diff(..., privileges=True)``); roles are never created. An
object created (or recreated) by the migration starts with PostgreSQL's default ACL, so its
privileges are compared against that default; such operations are marked ``fresh`` so that they
run after the object exists. Without the comparison, objects the migration drops and creates
again keep the privileges they have in the target (:func:`keep_recreated_privileges`).
"""

from __future__ import annotations

from schemashift.schemas.catalog import Catalog, Key, Privilege
from schemashift.schemas.operations import Hints, ObjectType, Operation, OpKind

from .common import Context, op

# What PostgreSQL grants to others than the owner on a new object (see acldefault()).
_DEFAULTS: dict[str, list[tuple[str, str]]] = {"function": [("PUBLIC", "EXECUTE")]}


def _objects(catalog: Catalog) -> set[Key]:
    """(object_type, *target) of every object that can hold privileges."""
    found: set[Key] = {("schema", s) for s in catalog.schemas}
    found |= {("table", *t.key) for t in catalog.tables}
    found |= {("table", *v.key) for v in catalog.views}
    found |= {("sequence", *s.key) for s in catalog.sequences}
    found |= {("function", *f.key) for f in catalog.functions}
    found |= {("column", *t.key, c.name) for t in catalog.tables for c in t.columns}
    return found


def _recreated(ctx: Context) -> set[Key]:
    """Objects on both sides that the migration drops and creates again."""
    found: set[Key] = {("table", *k) for k in ctx.recreated_tables | ctx.rebuilt_views}
    found |= {("function", *k) for k in ctx.rebuilt_functions}
    found |= {("column", *k) for k in ctx.readded}
    found |= {
        ("column", *t.key, c.name)
        for t in ctx.source.tables
        if t.key in ctx.recreated_tables
        for c in t.columns
    }
    return found


def _fresh(ctx: Context) -> set[Key]:
    """Objects of the source that the migration creates or recreates."""
    return (_objects(ctx.source) - _objects(ctx.target)) | _recreated(ctx)


def compare_privileges(ctx: Context) -> list[Operation]:
    """GRANT what the source has and the target lacks, REVOKE the reverse."""
    fresh = _fresh(ctx)
    src: dict[Key, list[Privilege]] = {}
    for p in ctx.source.privileges:
        src.setdefault((p.object_type, *p.target), []).append(p)
    tgt: dict[Key, list[Privilege]] = {}
    for p in ctx.target.privileges:
        tgt.setdefault((p.object_type, *p.target), []).append(p)
    # REVOKE ... ON TABLE takes the same privilege away from every column too: a column
    # privilege kept while its table-level twin changes (either way, for the reverse script)
    # is granted again after the REVOKE.
    changed = {
        (*p.target, p.grantee, p.privilege)
        for mine, theirs in ((ctx.target, src), (ctx.source, tgt))
        for p in mine.privileges
        if p.object_type == "table"
        and ("table", *p.target) not in fresh
        and p not in theirs.get(("table", *p.target), [])
    }
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
        if obj[0] == "column" and obj not in fresh:
            for p in wanted:
                if p in have and (*obj[1:3], p.grantee, p.privilege) in changed:
                    ops.append(_op(OpKind.ALTER, p, False, reason="table-level privilege changes"))
        _diff_acl(ops, have, wanted, obj in fresh)
    return ops


def keep_recreated_privileges(ctx: Context) -> list[Operation]:
    """Privileges left as they are although their object is dropped and created again.

    When privileges are not compared, a view rebuilt around a column change (or a recreated
    table, a re-added column, a rebuilt function) would otherwise come back with PostgreSQL's
    default ACL: grants gone, and a function executable by PUBLIC again. The target's own
    privileges are restored as ALTER operations (applied again, the same both ways, since the
    reverse script recreates the object too).
    """
    return restore_privileges(ctx, _recreated(ctx))


def restore_privileges(ctx: Context, recreated: set[Key]) -> list[Operation]:
    """ALTER operations that give ``recreated`` objects (keys as in :func:`_objects`) the
    privileges they have in the target, after they are created again."""
    if not recreated:
        return []
    held: dict[Key, list[Privilege]] = {}
    for p in ctx.target.privileges:
        held.setdefault((p.object_type, *p.target), []).append(p)
    reason = "object is recreated"
    ops: list[Operation] = []
    for obj in sorted(recreated):
        have = held.get(obj, [])
        for p in have:
            if (p.grantee, p.privilege) not in _DEFAULTS.get(obj[0], []):
                ops.append(_op(OpKind.ALTER, p, True, reason=reason))
        given = {(p.grantee, p.privilege) for p in have}
        for grantee, privilege in _DEFAULTS.get(obj[0], []):
            if (grantee, privilege) not in given:  # the target took a default away
                default = Privilege.model_validate(
                    {
                        "object_type": obj[0],
                        "target": list(obj[1:]),
                        "grantee": grantee,
                        "privilege": privilege,
                    }
                )
                ops.append(_op(OpKind.ALTER, default, True, reason=reason, revoke=True))
    return ops


def _diff_acl(
    ops: list[Operation], have: list[Privilege], wanted: list[Privilege], fresh: bool
) -> None:
    """REVOKE what ``have`` has and ``wanted`` lacks, GRANT the reverse."""
    have_by = {(p.key, p.grantable): p for p in have}
    wanted_by = {(p.key, p.grantable): p for p in wanted}
    for k in sorted(have_by.keys() - wanted_by.keys()):
        ops.append(_op(OpKind.DROP, have_by[k], fresh))
    for k in sorted(wanted_by.keys() - have_by.keys()):
        ops.append(_op(OpKind.CREATE, wanted_by[k], fresh))


def _op(
    kind: OpKind,
    privilege: Privilege,
    fresh: bool,
    reason: str | None = None,
    revoke: bool = False,
) -> Operation:
    """GRANT (CREATE), REVOKE (DROP) or grant again (ALTER, both ways the same; with
    ``revoke``, revoke again)."""
    hints = Hints(fresh=fresh, revoke=revoke)
    schema = privilege.target[0]
    name = ".".join(privilege.target[1:]) or schema
    label = f"{name}:{privilege.privilege}:{privilege.grantee}"
    return op(
        kind,
        ObjectType.PRIVILEGE,
        label,
        schema_name=schema,
        reason=reason,
        **({"new": privilege, "new_hints": hints} if kind is not OpKind.DROP else {}),
        **({"old": privilege, "old_hints": hints} if kind is not OpKind.CREATE else {}),
    )
