"""Dependency ordering of diff operations: a sequence that always applies.

Operations are put into phases (see ``_phase``) that follow PostgreSQL's dependency rules:
whatever depends on an object is dropped before it and created after it. Foreign keys are always
separate operations added after every table and key exists, which also breaks FK cycles. Within
a phase the order is deterministic (by name); views are sorted by their mutual dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from schemas.operations import ObjectType, Operation, OpKind


class Phase(IntEnum):
    CREATE_SCHEMA = 0
    CREATE_EXTENSION = 1
    CREATE_ENUM = 2
    CREATE_SEQUENCE = 3
    ALTER_SEQUENCE = 4  # options, and OWNED BY NONE before an owner column goes away
    DROP_COMMENT = 5  # while the commented object still exists
    DROP_VIEW = 6
    DROP_FOREIGN_KEY = 7
    DROP_CONSTRAINT = 8
    DROP_INDEX = 9
    DROP_TABLE = 10
    DROP_COLUMN = 11
    ALTER_TABLE = 12
    ADD_COLUMN = 13
    ALTER_COLUMN = 14
    CREATE_TABLE = 15
    DROP_SEQUENCE = 16  # after the columns whose defaults used them are gone
    ADD_CONSTRAINT = 17
    CREATE_INDEX = 18
    ADD_FOREIGN_KEY = 19  # every referenced key exists by now
    OWN_SEQUENCE = 20  # OWNED BY needs the owner column
    CREATE_VIEW = 21
    DROP_ENUM = 22
    ALTER_EXTENSION = 23
    DROP_EXTENSION = 24
    DROP_SCHEMA = 25
    COMMENT = 26


_CREATE_DROP: dict[ObjectType, tuple[Phase, Phase]] = {
    ObjectType.SCHEMA: (Phase.CREATE_SCHEMA, Phase.DROP_SCHEMA),
    ObjectType.EXTENSION: (Phase.CREATE_EXTENSION, Phase.DROP_EXTENSION),
    ObjectType.ENUM: (Phase.CREATE_ENUM, Phase.DROP_ENUM),
    ObjectType.SEQUENCE: (Phase.CREATE_SEQUENCE, Phase.DROP_SEQUENCE),
    ObjectType.TABLE: (Phase.CREATE_TABLE, Phase.DROP_TABLE),
    ObjectType.COLUMN: (Phase.ADD_COLUMN, Phase.DROP_COLUMN),
    ObjectType.CONSTRAINT: (Phase.ADD_CONSTRAINT, Phase.DROP_CONSTRAINT),
    ObjectType.FOREIGN_KEY: (Phase.ADD_FOREIGN_KEY, Phase.DROP_FOREIGN_KEY),
    ObjectType.INDEX: (Phase.CREATE_INDEX, Phase.DROP_INDEX),
    ObjectType.VIEW: (Phase.CREATE_VIEW, Phase.DROP_VIEW),
    ObjectType.MATERIALIZED_VIEW: (Phase.CREATE_VIEW, Phase.DROP_VIEW),
    ObjectType.COMMENT: (Phase.COMMENT, Phase.DROP_COMMENT),
}

_ALTER: dict[ObjectType, Phase] = {
    ObjectType.EXTENSION: Phase.ALTER_EXTENSION,
    ObjectType.ENUM: Phase.CREATE_ENUM,
    ObjectType.TABLE: Phase.ALTER_TABLE,
    ObjectType.COLUMN: Phase.ALTER_COLUMN,
    ObjectType.COMMENT: Phase.COMMENT,
}


def _phase(op: Operation) -> Phase:
    if op.kind is OpKind.ALTER:
        if op.object_type is ObjectType.SEQUENCE:
            new_owner = (op.new or {}).get("owned_by")
            gains_owner = new_owner is not None and new_owner != (op.old or {}).get("owned_by")
            return Phase.OWN_SEQUENCE if gains_owner else Phase.ALTER_SEQUENCE
        return _ALTER[op.object_type]
    create, drop = _CREATE_DROP[op.object_type]
    return create if op.kind is OpKind.CREATE else drop


def plan(ops: list[Operation]) -> list[Operation]:
    """``ops`` in an order in which each one's dependencies exist when it runs."""
    indexed = list(enumerate(ops))

    def sort_key(item: tuple[int, Operation]) -> tuple[int, str, str, str, int]:
        position, op = item
        # Added columns keep the differ's (source) order; everything else goes by name.
        name = "" if op.object_type is ObjectType.COLUMN and op.kind is OpKind.CREATE else op.name
        return (_phase(op), op.schema_name or "", op.table or "", name, position)

    ordered = [op for _, op in sorted(indexed, key=sort_key)]
    return _sort_views(ordered)


def _sort_views(ops: list[Operation]) -> list[Operation]:
    """Create views after the views they read; drop them before."""
    result = list(ops)
    for phase, reverse in ((Phase.CREATE_VIEW, False), (Phase.DROP_VIEW, True)):
        slots = [i for i, op in enumerate(result) if _phase(op) is phase]
        views = [result[i] for i in slots]
        for i, op in zip(slots, _topological(views, reverse), strict=True):
            result[i] = op
    return result


def _topological(views: list[Operation], reverse: bool) -> list[Operation]:
    by_key = {(v.schema_name, v.name): v for v in views}

    def deps(v: Operation) -> list[tuple[str | None, str]]:
        found = {(d[0], d[1]) for d in v.obj.get("depends_on", [])}
        return sorted(k for k in found if k in by_key and k != (v.schema_name, v.name))

    out: list[Operation] = []
    state: dict[tuple[str | None, str], bool] = {}

    def visit(key: tuple[str | None, str], emit: Callable[[Operation], None]) -> None:
        if key in state:
            return  # visited (a cycle between views cannot exist in PostgreSQL)
        state[key] = False
        for dep in deps(by_key[key]):
            visit(dep, emit)
        state[key] = True
        emit(by_key[key])

    for v in views:
        visit((v.schema_name, v.name), out.append)
    return out[::-1] if reverse else out
