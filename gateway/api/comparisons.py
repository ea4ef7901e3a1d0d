"""/api/v1/comparisons: ask for a target to be made to match a source."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, HTTPException, Response, status
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common import connections as registry
from schemashift.consumers.common.kafka import publish_event
from schemashift.consumers.tracker import store
from schemashift.gateway.api.deps import Broker, Engine, Trigger
from schemashift.gateway.api.models import ComparisonAccepted, ComparisonIn, Links, Problem
from schemashift.gateway.tokens import Principal
from schemashift.schemas.events import ComparisonRequested, Event, EventType, MigrationStatus

router = APIRouter(prefix="/comparisons", tags=["comparisons"])
log = logging.getLogger("schemashift.gateway")


def links(migration_id: uuid.UUID) -> Links:
    """Where to follow a migration."""
    base = f"/api/v1/migrations/{migration_id}"
    return Links(
        self=base,
        events=f"{base}/events",
        approve=f"{base}/approve",
        reject=f"{base}/reject",
        rollback=f"{base}/rollback",
    )


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={400: {"model": Problem}, 404: {"model": Problem}},
)
async def request_comparison(
    body: ComparisonIn, engine: Engine, broker: Broker, response: Response, who: Trigger
) -> ComparisonAccepted:
    """Publish comparison.requested; the migration proceeds asynchronously."""
    accepted = await request_migration(engine, broker, who, body)
    response.headers["Location"] = accepted.links.self
    return accepted


async def request_migration(
    engine: AsyncEngine, broker: KafkaBroker, who: Principal, body: ComparisonIn
) -> ComparisonAccepted:
    """Ask for ``body``'s target to be made to match its source (the caller has checked the
    trigger scope); HTTPException 400 or 404 for connections that cannot be compared."""
    if body.source == body.target:
        raise HTTPException(400, "source and target must be different connections")
    for name in await registry.missing(engine, [body.source, body.target]):
        raise HTTPException(404, f"no connection named {name!r} is registered")
    return await publish_request(
        broker,
        engine,
        ComparisonRequested(
            source=body.source,
            target=body.target,
            mode=body.mode,
            allow_hazards=body.allow_hazards,
            requested_by=who.name,
            options=body.options,
        ),
    )


async def publish_request(
    broker: KafkaBroker, engine: AsyncEngine, request: ComparisonRequested
) -> ComparisonAccepted:
    """Publish ``request`` as a new migration and record it; the 202 answer with its links.

    The event is stored as the tracker stores it (the tracker's copy is then a redelivery and
    changes nothing), so the migration's link answers from the moment the 202 is sent.
    """
    event = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target=request.target,
        producer="gateway",
        payload=request,
    )
    await publish_event(broker, event)
    try:
        await store.record(engine, event)
    except Exception:  # the migration goes on; it is visible once the tracker stores it
        log.exception("migration %s: recording the request failed", event.migration_id)
    return ComparisonAccepted(
        migration_id=event.migration_id,
        status=MigrationStatus.REQUESTED,
        links=links(event.migration_id),
    )
