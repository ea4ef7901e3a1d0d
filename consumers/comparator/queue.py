"""The comparator's per-target queue: one migration of a target in flight at a time.

A request is compared only once the previous migration of its target has ended (applied,
failed or rejected), so a plan is never made stale by its own predecessor. Requests wait here,
in arrival order, instead of blocking their Kafka partition (which other targets share).
Each keeps the trace context it arrived in (when tracing is on), so that its comparison, made
later on behalf of another migration's outcome, continues its own trace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    String,
    Table,
    Uuid,
    bindparam,
    column,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.db import autocommit, metadata
from schemashift.schemas.events import Event

# A request's state: queued, then active (compared, or being compared) until its migration
# ends; migration 0005's function moves it on.
QUEUED = "queued"

comparison_queue = Table(
    "comparison_queue",
    metadata,
    Column("migration_id", Uuid, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("target", String(128), nullable=False),
    Column("request", JSONB, nullable=False),
    # The W3C trace-context fields (traceparent, tracestate) of the request's arrival.
    Column("trace_context", JSONB),
    Column("state", String(16), nullable=False, server_default=QUEUED),
    Column("compared_at", DateTime(timezone=True)),
    Column("enqueued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_comparison_queue_target", "target", "state", "seq"),
)


# One round trip: migration 0005's function queues the arrival, takes the target's lock
# (pg_advisory_xact_lock: comparators of one target take turns), ends the migration that
# ended, and returns the head to compare (activating it), in one transaction.
_STEP = select(column("request", JSONB), column("trace_context", JSONB)).select_from(
    func.comparison_queue_step(
        bindparam("target", type_=String),
        bindparam("arrived", type_=Uuid),
        bindparam("request", type_=JSONB(none_as_null=True)),
        bindparam("trace_context", type_=JSONB(none_as_null=True)),
        bindparam("ended", type_=Uuid),
    )
)
_COMPARED = (
    update(comparison_queue)
    .where(comparison_queue.c.migration_id == bindparam("id"))
    .values(compared_at=func.now())
)


@dataclass(frozen=True)
class Queued:
    """A request taken from the queue, with the trace context it arrived in (None untraced)."""

    request: Event
    trace_context: dict[str, str] | None = None


async def next_to_compare(
    engine: AsyncEngine,
    target: str,
    *,
    arrived: Event | None = None,
    trace_context: dict[str, str] | None = None,
    ended: uuid.UUID | None = None,
) -> Queued | None:
    """The request of ``target`` to compare now, if any.

    That is the active one if its comparison has not been published yet (after a crash), else
    the oldest queued one once nothing is active; None while a migration is in flight. In the
    same transaction, ``arrived`` is queued first (with ``trace_context``) and migration
    ``ended`` ends.
    """
    async with autocommit(engine) as conn:
        head = (
            await conn.execute(
                _STEP,
                {
                    "target": target,
                    "arrived": arrived.migration_id if arrived else None,
                    "request": arrived.model_dump(mode="json") if arrived else None,
                    "trace_context": trace_context,
                    "ended": ended,
                },
            )
        ).first()
    if head is None:
        return None
    return Queued(Event.model_validate(head.request), head.trace_context)


async def mark_compared(engine: AsyncEngine, migration_id: uuid.UUID) -> None:
    """The comparison of ``migration_id`` is published: wait for its end."""
    async with autocommit(engine) as conn:
        await conn.execute(_COMPARED, {"id": migration_id})
