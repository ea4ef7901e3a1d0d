"""MySQL's statements for scheduled events.

An event's catalog definition is its runnable ``CREATE EVENT`` text (without DEFINER: the
event belongs to whoever runs the script). A change is one ``ALTER EVENT`` of the clauses that
differ, in the grammar's order, on both flavours: every clause of an event can be altered, and
what is not named stays as it is (a schedule left alone keeps its start, which a drop and a
create or MariaDB's ``CREATE OR REPLACE`` would move to the time the script runs).
"""

from __future__ import annotations

from schemashift.consumers.common.drivers.mysql import literal
from schemashift.schemas.catalog import ScheduledEvent
from schemashift.schemas.operations import Operation, OpKind

from .tables import q


def alter_clauses(old: ScheduledEvent, new: ScheduledEvent) -> list[str]:
    """The ``ALTER EVENT`` clauses that take ``old`` to ``new`` (a removed comment is ``''``)."""
    clauses = []
    if old.schedule != new.schedule:
        clauses.append(f"ON SCHEDULE {new.schedule}")
    if old.preserve != new.preserve:
        clauses.append(f"ON COMPLETION {'PRESERVE' if new.preserve else 'NOT PRESERVE'}")
    if old.status != new.status:
        clauses.append(new.status)
    if old.comment != new.comment:
        clauses.append(f"COMMENT {literal(new.comment or '')}")
    if old.body != new.body:
        clauses.append(f"DO {new.body}")
    return clauses


def event_sql(op: Operation) -> str | None:
    """The CREATE, ALTER or DROP statement of an event operation (no ``;``); None for a change
    that alters no clause."""
    event = op.obj_as(ScheduledEvent)
    if op.kind is OpKind.DROP:
        return f"DROP EVENT {q(event.name)}"
    if op.kind is OpKind.CREATE:
        return event.definition
    clauses = alter_clauses(op.old_as(ScheduledEvent), event)
    if not clauses:
        return None
    return f"ALTER EVENT {q(event.name)}\n    " + "\n    ".join(clauses)
