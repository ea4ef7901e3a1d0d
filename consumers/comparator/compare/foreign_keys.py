"""Foreign keys: separate operations, added after every table and key exists."""

from __future__ import annotations

from typing import Any

from schemashift.schemas.catalog import Catalog, ForeignKey
from schemashift.schemas.operations import ObjectType, Operation

from .common import Context, alter, pair, same_but_validity


def compare_foreign_keys(ctx: Context) -> list[Operation]:
    """FKs of every table; runs after tables so that it knows which keys/columns change and
    rebuilds the FKs over them."""
    moved = ctx.retyped | ctx.readded
    src, tgt = _fks(ctx.source), _fks(ctx.target)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        reason = None
        if s is not None and t is not None and (s == t or same_but_validity(s, t)):
            local = {(key[0], key[1], c) for c in s.columns}
            remote = {(s.ref_schema, s.ref_table, c) for c in s.ref_columns}
            if (local | remote) & moved:
                reason = "column type changes"
            elif s.ref_key in ctx.rekeyed_tables:
                reason = "referenced key is rebuilt"
            elif {(key[0], key[1]), s.ref_key} & ctx.recreated_tables:
                reason = "table is recreated"
            elif s != t:  # VALIDATE, or back to NOT VALID
                where: dict[str, Any] = {"schema_name": key[0], "table": key[1]}
                ops.append(alter(ObjectType.FOREIGN_KEY, t, s, key[2], **where))
                continue
            else:
                continue
        ops += pair(
            ObjectType.FOREIGN_KEY,
            t,
            s,
            key[2],
            schema_name=key[0],
            table=key[1],
            reason=reason,
            dependent=reason is not None and s == t,
        )
    return ops


def _fks(catalog: Catalog) -> dict[tuple[str, str, str], ForeignKey]:
    return {(t.schema_name, t.name, fk.name): fk for t in catalog.tables for fk in t.foreign_keys}
