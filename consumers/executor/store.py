"""The executor's own state in the metadata database: one row per migration it has seen.

A row holds the generated script until the migration may run (mode apply, or approved), and
the outcome event once it ran, so that a redelivered message re-publishes the same outcome
instead of running anything twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, String, Table, Uuid, func, select, update
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
    Column("approved", Boolean, nullable=False, server_default="false"),
    Column("approval_event", JSONB),
    Column("outcome_event", JSONB),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


async def remember(
    engine: AsyncEngine, event: Event, *, script: bool = False, approval: bool = False
) -> dict[str, Any]:
    """Store a script or an approval for ``event``'s migration; returns the whole row."""
    values: dict[str, Any] = {"migration_id": event.migration_id, "target": event.target}
    body = event.model_dump(mode="json")
    if script:
        values["script_event"] = body
    if approval:
        values.update(approved=True, approval_event=body)
    stmt = insert(executions).values(**values)
    # The first script and the first approval stay; a redelivery changes nothing.
    changes: dict[str, Any] = {
        "updated_at": func.now(),
        "approved": executions.c.approved | stmt.excluded.approved,
        "script_event": func.coalesce(executions.c.script_event, stmt.excluded.script_event),
        "approval_event": func.coalesce(executions.c.approval_event, stmt.excluded.approval_event),
    }
    stmt = stmt.on_conflict_do_update(index_elements=[executions.c.migration_id], set_=changes)
    async with autocommit(engine) as conn:
        row = (await conn.execute(stmt.returning(executions))).mappings().one()
    return dict(row)


async def record_outcome(engine: AsyncEngine, migration_id: uuid.UUID, outcome: Event) -> Event:
    """Store the outcome once; returns the stored one (the first, if there was one already)."""
    async with engine.begin() as conn:
        await conn.execute(
            update(executions)
            .where(executions.c.migration_id == migration_id)
            .where(executions.c.outcome_event.is_(None))
            .values(outcome_event=outcome.model_dump(mode="json"), updated_at=func.now())
        )
        stored = (
            await conn.execute(
                select(executions.c.outcome_event).where(executions.c.migration_id == migration_id)
            )
        ).scalar_one()
    return Event.model_validate(stored)
