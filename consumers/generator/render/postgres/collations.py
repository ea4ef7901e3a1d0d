"""Collations."""

from __future__ import annotations

from schemashift.schemas.catalog import Collation
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, RenderContext, literal, qn


def render_collation(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE COLLATION (provider, locale or LC_COLLATE/LC_CTYPE, deterministic) or DROP."""
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP COLLATION {name}")
        return
    coll = op.obj_as(Collation)
    options = [f"provider = {coll.provider}"]
    if coll.locale is not None:
        options.append(f"locale = {literal(coll.locale)}")
    if coll.lc_collate is not None and coll.lc_collate == coll.lc_ctype:
        options.append(f"locale = {literal(coll.lc_collate)}")
    else:
        if coll.lc_collate is not None:
            options.append(f"lc_collate = {literal(coll.lc_collate)}")
        if coll.lc_ctype is not None:
            options.append(f"lc_ctype = {literal(coll.lc_ctype)}")
    if not coll.deterministic:
        options.append("deterministic = false")
    emit(f"CREATE COLLATION {name} ({', '.join(options)})")
