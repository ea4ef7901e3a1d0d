"""The comparator's per-target queue: one migration of a target in flight at a time.

A request is compared only once the previous migration of its target has ended (applied,
failed or rejected), so a plan is never made stale by its own predecessor. Requests wait here,
in arrival order, instead of blocking their Kafka partition (which other targets share).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    String,
    Table,
    Uuid,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemashift.consumers.common.db import autocommit, metadata
from schemashift.schemas.events import Event

QUEUED, ACTIVE, ENDED = "queued", "active", "ended"

comparison_queue = Table(
    "comparison_queue",
    metadata,
    Column("migration_id", Uuid, primary_key=True),
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("target", String(128), nullable=False),
    Column("request", JSONB, nullable=False),
    Column("state", String(16), nullable=False, server_default=QUEUED),
    Column("compared_at", DateTime(timezone=True)),
    Column("enqueued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_comparison_queue_target", "target", "state", "seq"),
)


def _enqueue(event: Event) -> Any:
    # A redelivered request is queued once.
    return (
        insert(comparison_queue)
        .values(
            migration_id=event.migration_id,
            target=event.target,
            request=event.model_dump(mode="json"),
        )
        .on_conflict_do_nothing(index_elements=[comparison_queue.c.migration_id])
    )


def _end(migration_id: uuid.UUID) -> Any:
    return (
        update(comparison_queue)
        .where(comparison_queue.c.migration_id == migration_id)
        .values(state=ENDED)
    )


async def _lock_target(conn: AsyncConnection, target: str) -> None:
    await conn.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended("schemashift.queue:" + target, 0)))
    )


async def next_to_compare(
    engine: AsyncEngine,
    target: str,
    *,
    arrived: Event | None = None,
    ended: uuid.UUID | None = None,
) -> Event | None:
    """The request of ``target`` to compare now, if any.

    That is the active one if its comparison has not been published yet (after a crash), else
    the oldest queued one once nothing is active; None while a migration is in flight. In the
    same transaction, ``arrived`` is queued first and migration ``ended`` ends.
    """
    async with engine.begin() as conn:
        if arrived is not None:
            await conn.execute(_enqueue(arrived))
        await _lock_target(conn, target)
        if ended is not None:
            await conn.execute(_end(ended))
        # The active request if there is one, else the oldest queued (one query for both).
        head = (
            await conn.execute(
                select(
                    comparison_queue.c.migration_id,
                    comparison_queue.c.request,
                    comparison_queue.c.state,
                    comparison_queue.c.compared_at,
                )
                .where(
                    comparison_queue.c.target == target,
                    comparison_queue.c.state.in_((ACTIVE, QUEUED)),
                )
                .order_by(comparison_queue.c.state != ACTIVE, comparison_queue.c.seq)
                .limit(1)
            )
        ).first()
        if head is None:
            return None
        if head.state == ACTIVE:
            return None if head.compared_at else Event.model_validate(head.request)
        await conn.execute(
            update(comparison_queue)
            .where(comparison_queue.c.migration_id == head.migration_id)
            .values(state=ACTIVE)
        )
        return Event.model_validate(head.request)


async def mark_compared(engine: AsyncEngine, migration_id: uuid.UUID) -> None:
    """The comparison of ``migration_id`` is published: wait for its end."""
    async with autocommit(engine) as conn:
        await conn.execute(
            update(comparison_queue)
            .where(comparison_queue.c.migration_id == migration_id)
            .values(compared_at=func.now())
        )
