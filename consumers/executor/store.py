"""The executor's own state in the metadata database: one row per migration it has seen.

A row holds the generated script until the migration may run (mode apply, or approved), and
the outcome event once it ran, so that a redelivered message re-publishes the same outcome
instead of running anything twice. With the script, the trace context it arrived in (tracing
on): a run after approval continues the migration's trace.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.db import autocommit, metadata
from schemashift.schemas.events import Event

executions = Table(
    "executions",
    metadata,
    Column("migration_id", Uuid, primary_key=True),
    Column("target", String(128), nullable=False),
    Column("script_event", JSONB),
    # The W3C trace-context fields (traceparent, tracestate) of the script's arrival.
    Column("script_trace_context", JSONB),
    Column("approved", Boolean, nullable=False, server_default="false"),
    Column("approval_event", JSONB),
    Column("outcome_event", JSONB),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


# Hot-path statements are built once (see db.py).
_JSON_OR_NULL = JSONB(none_as_null=True)  # None is SQL NULL here, not JSON null


def _remember_statement() -> Any:
    stmt = insert(executions).values(
        migration_id=bindparam("migration_id"),
        target=bindparam("target"),
        script_event=bindparam("script_event", type_=_JSON_OR_NULL),
        script_trace_context=bindparam("script_trace_context", type_=_JSON_OR_NULL),
        approved=bindparam("approved"),
        approval_event=bindparam("approval_event", type_=_JSON_OR_NULL),
    )
    # The first script and the first approval stay; a redelivery changes nothing.
    changes: dict[str, Any] = {
        "updated_at": func.now(),
        "approved": executions.c.approved | stmt.excluded.approved,
        "script_event": func.coalesce(executions.c.script_event, stmt.excluded.script_event),
        "script_trace_context": func.coalesce(
            executions.c.script_trace_context, stmt.excluded.script_trace_context
        ),
        "approval_event": func.coalesce(executions.c.approval_event, stmt.excluded.approval_event),
    }
    return stmt.on_conflict_do_update(
        index_elements=[executions.c.migration_id], set_=changes
    ).returning(executions)


_REMEMBER = _remember_statement()
_SET_OUTCOME = (
    update(executions)
    .where(executions.c.migration_id == bindparam("id"), executions.c.outcome_event.is_(None))
    .values(outcome_event=bindparam("outcome", type_=JSONB), updated_at=func.now())
    .returning(executions.c.outcome_event)
)
_STORED_OUTCOME = select(executions.c.outcome_event).where(
    executions.c.migration_id == bindparam("id")
)


async def remember(
    engine: AsyncEngine,
    event: Event,
    *,
    script: bool = False,
    approval: bool = False,
    trace_context: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Store a script (with the ``trace_context`` it arrived in) or an approval for
    ``event``'s migration; returns the whole row."""
    body = event.model_dump(mode="json")
    values = {
        "migration_id": event.migration_id,
        "target": event.target,
        "script_event": body if script else None,
        "script_trace_context": trace_context if script else None,
        "approved": approval,
        "approval_event": body if approval else None,
    }
    async with autocommit(engine) as conn:
        row = (await conn.execute(_REMEMBER, values)).mappings().one()
    return dict(row)


async def record_outcome(engine: AsyncEngine, migration_id: uuid.UUID, outcome: Event) -> Event:
    """Store the outcome once; returns the stored one (the first, if there was one already)."""
    async with autocommit(engine) as conn:
        stored = (
            await conn.execute(
                _SET_OUTCOME, {"id": migration_id, "outcome": outcome.model_dump(mode="json")}
            )
        ).scalar_one_or_none()
        if stored is None:
            # Set before (a redelivery, or a concurrent executor first): read in a statement
            # of its own, which sees the outcome that stays even if it committed just now.
            stored = (await conn.execute(_STORED_OUTCOME, {"id": migration_id})).scalar_one()
    return Event.model_validate(stored)
