"""/api/v1/migrations: history, one migration's detail, approval, and its events (live)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import StreamingResponse
from faststream.kafka import KafkaBroker
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.kafka import publish_event
from schemashift.consumers.tracker import store
from schemashift.gateway.api.comparisons import publish_request
from schemashift.gateway.api.deps import Approver, Broker, Engine, Notified, Reader
from schemashift.gateway.api.live import Followed, follow_tracked
from schemashift.gateway.api.models import (
    ApprovalIn,
    ComparisonAccepted,
    MigrationOut,
    MigrationPage,
    Problem,
    RejectionIn,
    RollbackIn,
)
from schemashift.gateway.tokens import Principal
from schemashift.schemas.events import (
    ComparisonRequested,
    Event,
    EventType,
    MigrationApproved,
    MigrationRejected,
    MigrationStatus,
)
from schemashift.schemas.operations import Operation

router = APIRouter(prefix="/migrations", tags=["migrations"], responses={404: {"model": Problem}})
# FastAPI's own type for ``responses``: dicts are invariant, so the inferred one would not fit.
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "Not in a state that allows it."}
}


async def require_migration(
    engine: AsyncEngine, migration_id: uuid.UUID, *, grace_s: float = 0.0
) -> dict[str, Any]:
    """The migration's row; 404 when it is not tracked within ``grace_s`` seconds."""
    row = await store.get_migration(engine, migration_id)
    deadline = asyncio.get_running_loop().time() + grace_s
    while row is None and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        row = await store.get_migration(engine, migration_id)
    if row is None:
        raise not_tracked(migration_id)
    return row


def not_tracked(migration_id: uuid.UUID) -> HTTPException:
    """The 404 of a migration the tracker does not know (yet)."""
    return HTTPException(404, f"no migration {migration_id} (yet: it appears once tracked)")


@router.get("")
async def list_migrations(
    engine: Engine,
    _: Reader,
    target: Annotated[str | None, Query(max_length=128)] = None,
    status: MigrationStatus | None = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Requested at or after (ISO 8601, with offset).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Requested before (ISO 8601, with offset).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> MigrationPage:
    """The history, newest first; filter by target, status and time of request."""
    if since and until and since >= until:
        raise HTTPException(400, "since must be before until")
    rows = await store.list_migrations(
        engine,
        target=target,
        status=status.value if status else None,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return MigrationPage(
        items=[MigrationOut.model_validate(r) for r in rows], limit=limit, offset=offset
    )


@router.get("/{migration_id}")
async def get_migration(migration_id: uuid.UUID, engine: Engine, _: Reader) -> MigrationOut:
    """Status, diff summary, SQL statements, error and timestamps of one migration."""
    return MigrationOut.model_validate(await require_migration(engine, migration_id))


@router.post("/{migration_id}/approve", status_code=status.HTTP_202_ACCEPTED, responses=_CONFLICT)
async def approve(
    migration_id: uuid.UUID,
    engine: Engine,
    broker: Broker,
    who: Approver,
    body: ApprovalIn | None = None,
) -> MigrationOut:
    """Approve a planned migration that awaits approval; the executor then runs it."""
    return await approve_migration(engine, broker, who, migration_id, body or ApprovalIn())


@router.post("/{migration_id}/reject", status_code=status.HTTP_202_ACCEPTED, responses=_CONFLICT)
async def reject(
    migration_id: uuid.UUID,
    engine: Engine,
    broker: Broker,
    who: Approver,
    body: RejectionIn | None = None,
) -> MigrationOut:
    """Turn down a migration that awaits approval; it ends and the target's queue moves on."""
    return await reject_migration(engine, broker, who, migration_id, body or RejectionIn())


@router.post("/{migration_id}/rollback", status_code=status.HTTP_202_ACCEPTED, responses=_CONFLICT)
async def rollback(
    migration_id: uuid.UUID,
    engine: Engine,
    broker: Broker,
    response: Response,
    who: Approver,
    body: RollbackIn | None = None,
) -> ComparisonAccepted:
    """Undo an applied migration: a new migration, linked to it, through the same pipeline.

    It runs the original's operations reversed, and only on a target whose schema is still
    the one the original migration produced.
    """
    accepted = await rollback_migration(engine, broker, who, migration_id, body or RollbackIn())
    response.headers["Location"] = accepted.links.self
    return accepted


# The actions themselves, shared by the endpoints above and the console: the caller has
# checked the scope (``who`` is the approver); they raise HTTPException 404 or 409.


async def approve_migration(
    engine: AsyncEngine,
    broker: KafkaBroker,
    who: Principal,
    migration_id: uuid.UUID,
    body: ApprovalIn,
) -> MigrationOut:
    """Publish the approval of a migration that awaits it; the migration as approved."""
    row = await require_migration(engine, migration_id)
    if row["status"] != MigrationStatus.AWAITING_APPROVAL.value:
        raise HTTPException(409, f"migration is {row['status']}, not awaiting_approval")
    event = Event(
        type=EventType.MIGRATION_APPROVED,
        migration_id=migration_id,
        target=row["target"],
        producer="gateway",
        payload=MigrationApproved(approved_by=who.name, comment=body.comment),
    )
    await publish_event(broker, event)
    return MigrationOut.model_validate(row | {"status": MigrationStatus.APPROVED.value})


async def reject_migration(
    engine: AsyncEngine,
    broker: KafkaBroker,
    who: Principal,
    migration_id: uuid.UUID,
    body: RejectionIn,
) -> MigrationOut:
    """Publish the rejection of a migration that awaits approval; the migration as rejected."""
    row = await require_migration(engine, migration_id)
    if row["status"] != MigrationStatus.AWAITING_APPROVAL.value:
        raise HTTPException(409, f"migration is {row['status']}, not awaiting_approval")
    await publish_event(
        broker,
        Event(
            type=EventType.MIGRATION_REJECTED,
            migration_id=migration_id,
            target=row["target"],
            producer="gateway",
            payload=MigrationRejected(rejected_by=who.name, comment=body.comment),
        ),
    )
    return MigrationOut.model_validate(row | {"status": MigrationStatus.REJECTED.value})


async def rollback_migration(
    engine: AsyncEngine,
    broker: KafkaBroker,
    who: Principal,
    migration_id: uuid.UUID,
    body: RollbackIn,
) -> ComparisonAccepted:
    """Request the undoing of an applied migration (see :func:`rollback`); the new one's id."""
    row = await require_migration(engine, migration_id)
    if row["status"] != MigrationStatus.APPLIED.value:
        raise HTTPException(409, f"migration is {row['status']}: only applied ones roll back")
    if not row["operations"]:
        raise HTTPException(409, "the migration changed nothing: there is nothing to undo")
    original = [Operation.model_validate(op) for op in row["operations"]]
    return await publish_request(
        broker,
        engine,
        ComparisonRequested(
            source=row["target"],
            target=row["target"],
            mode=body.mode,
            allow_hazards=body.allow_hazards,
            rollback_of=migration_id,
            requested_by=who.name,
            comment=body.comment,
            operations=[op.reverse() for op in reversed(original)],
            expected_fingerprint=row["source_fingerprint"],
            options=body.options,
        ),
    )


@router.get(
    "/{migration_id}/events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON list, or SSE"}},
)
async def migration_events(
    migration_id: uuid.UUID,
    engine: Engine,
    notifications: Notified,
    _: Reader,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """The migration's events in the order they happened; live (SSE) until it ends with
    ``Accept: text/event-stream``."""
    # A client that follows a migration right after requesting it may be ahead of the tracker.
    if accept and "text/event-stream" in accept:
        followed = await follow_tracked(engine, notifications, migration_id, grace_s=5.0)
        if followed is None:
            raise not_tracked(migration_id)
        return StreamingResponse(
            _live(followed), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )
    await require_migration(engine, migration_id, grace_s=5.0)
    return [
        event.model_dump(mode="json") for _, event in await store.list_events(engine, migration_id)
    ]


async def _live(followed: Followed) -> AsyncIterator[str]:
    """Server-sent events: each stored event once, in causal order, as JSON."""
    async for update in followed:
        if update is None:
            yield ": keep-alive\n\n"
            continue
        for seq, event in update.released:
            data = event.model_dump_json()
            yield f"id: {seq}\nevent: {event.type.value}\ndata: {data}\n\n"
        if update.ended and update.row is not None:
            yield f"event: end\ndata: {json.dumps({'status': update.row['status']})}\n\n"
