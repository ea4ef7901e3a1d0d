"""Constraints (including foreign keys) and indexes."""

from __future__ import annotations

from schemashift.schemas.catalog import CheckConstraint, ForeignKey, Index, TableConstraint
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, H, RenderContext, q, qn
from .tables import alter_table


def render_constraint(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """ADD/DROP CONSTRAINT; ALTER: VALIDATE CONSTRAINT, or drop and add it NOT VALID again.
    A constraint that is NOT VALID in the desired schema is added NOT VALID and left so."""
    table = alter_table(op)
    name = q(op.name)
    if op.kind is OpKind.DROP:
        emit(f"{table} DROP CONSTRAINT {name}")
        return
    con = op.obj_as(TableConstraint)
    if op.kind is OpKind.ALTER:
        if con.valid:
            emit(f"{table} VALIDATE CONSTRAINT {name}", H.NEEDS_VALIDATION)
        else:
            emit(f"{table} DROP CONSTRAINT {name}")
            emit(f"{table} ADD CONSTRAINT {name} {con.definition} NOT VALID")
        return
    fresh = (op.schema_name, op.table) in ctx.created_tables
    if not con.valid:
        emit(f"{table} ADD CONSTRAINT {name} {con.definition} NOT VALID")
    elif fresh:
        emit(f"{table} ADD CONSTRAINT {name} {con.definition}")
    elif isinstance(con, CheckConstraint | ForeignKey):
        # Add without scanning under the exclusive lock, then validate under a weaker one.
        emit(f"{table} ADD CONSTRAINT {name} {con.definition} NOT VALID")
        emit(f"{table} VALIDATE CONSTRAINT {name}", H.NEEDS_VALIDATION)
    else:
        emit(
            f"{table} ADD CONSTRAINT {name} {con.definition}",
            H.INDEX_BUILD,
            H.LONG_LOCK,
            H.NEEDS_VALIDATION,
        )


def render_index(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE/DROP INDEX; CONCURRENTLY (on its own, outside the transaction) when asked to,
    except on tables the script creates and on partitioned tables, which cannot."""
    fresh = (op.schema_name, op.table) in ctx.created_tables
    concurrent = ctx.concurrent_indexes and not fresh and not op.hints.partitioned
    if op.kind is OpKind.DROP:
        name = qn(op.schema_name, op.name)
        if concurrent:
            emit(f"DROP INDEX CONCURRENTLY {name}", H.NOT_TRANSACTIONAL, transactional=False)
        else:
            emit(f"DROP INDEX {name}")
        return
    index = op.obj_as(Index)
    unique = index.unique
    definition = index.definition
    if concurrent:
        definition = definition.replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
        hazards = [H.NOT_TRANSACTIONAL, *([H.NEEDS_VALIDATION] if unique else [])]
        emit(definition, *hazards, transactional=False)
        return
    hazards = [] if fresh else [H.INDEX_BUILD]
    if unique and not fresh:
        hazards.append(H.NEEDS_VALIDATION)
    emit(definition, *hazards)
