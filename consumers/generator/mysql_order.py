"""MySQL's ordering rules, on top of the shared ones of :mod:`.order`.

Every in-place change of a table (its options, columns, keys, checks and indexes) goes into one
phase, so that the renderer can merge a table's changes into one ``ALTER TABLE``: MySQL checks
the table only once all of its clauses are applied (an AUTO_INCREMENT column and the key it
needs, a primary key moved to other columns). Foreign keys keep their own phases: they are
dropped before, and added after, every table's changes.

Routines are created and replaced first, with the types of other dialects: the server checks
no routine body when it is created, but a view that calls a function needs it (generated
columns, CHECKs and defaults cannot call stored functions at all). They are dropped last,
after the views and triggers that used them; one the server cannot replace (MySQL) is dropped
right before it is created again. Triggers of one table, timing and event are created in the
order they run, each after the one it follows (:func:`triggers_in_order`). Events go with the
triggers: created and changed once the tables, views and routines their bodies use exist, and
dropped before any of those (the server checks no body, but an enabled event may run as soon
as it exists).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .order import Phase

_IN_PLACE = frozenset({ObjectType.COLUMN, ObjectType.CONSTRAINT, ObjectType.INDEX})
_FOLLOWS = re.compile(r"\bFOR EACH ROW FOLLOWS `((?:[^`]|``)+)`")


class MysqlOrderRules:
    """A table's in-place changes share :attr:`Phase.ALTER_COLUMN`; routines come first and
    go last; events are created last and dropped first, with the triggers."""

    def phase(self, op: Operation) -> Phase | None:
        if op.object_type in _IN_PLACE or (
            op.object_type is ObjectType.TABLE and op.kind is OpKind.ALTER
        ):
            return Phase.ALTER_COLUMN
        if op.object_type is ObjectType.FUNCTION:
            # A recreated one's drop sorts before its create within the phase (see _rank).
            dropped = op.kind is OpKind.DROP and op.reason is None
            return Phase.DROP_TYPE if dropped else Phase.CREATE_TYPE
        if op.object_type is ObjectType.EVENT:
            return Phase.DROP_TRIGGER if op.kind is OpKind.DROP else Phase.CREATE_TRIGGER
        return None


RULES = MysqlOrderRules()


def _created_trigger(op: Operation) -> bool:
    return op.object_type is ObjectType.TRIGGER and op.kind is OpKind.CREATE


def _follows(op: Operation) -> str | None:
    match = _FOLLOWS.search(getattr(op.obj, "definition", ""))
    return match.group(1).replace("``", "`") if match else None


def triggers_in_order(ops: Sequence[Operation]) -> list[Operation]:
    """``ops`` with each run of trigger creations reordered so that a trigger comes after the
    one it FOLLOWS when that one is created in the run too (which the server requires)."""
    out: list[Operation] = []
    run: list[Operation] = []
    for op in [*ops, None]:
        if op is not None and _created_trigger(op):
            run.append(op)
            continue
        out += _chained(run)
        run = []
        if op is not None:
            out.append(op)
    return out


def _chained(run: list[Operation]) -> list[Operation]:
    created = {(op.table, op.name) for op in run}
    done: set[tuple[str | None, str]] = set()
    out: list[Operation] = []
    pending = list(run)
    while pending:
        ready = [
            op
            for op in pending
            if (op.table, _follows(op)) not in created or (op.table, _follows(op)) in done
        ]
        if not ready:  # a cycle: the server refuses it in any order
            ready = pending[:1]
        for op in ready:
            out.append(op)
            done.add((op.table, op.name))
            pending.remove(op)
    return out
