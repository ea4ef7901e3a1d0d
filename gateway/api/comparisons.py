"""/api/v1/comparisons: ask for a target to be made to match a source."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Response, status

from schemashift.consumers.common import connections as registry
from schemashift.consumers.common.kafka import publish_event
from schemashift.gateway.api.deps import Broker, Engine, Trigger
from schemashift.gateway.api.models import ComparisonAccepted, ComparisonIn, Links, Problem
from schemashift.schemas.events import ComparisonRequested, Event, EventType, MigrationStatus

router = APIRouter(prefix="/comparisons", tags=["comparisons"])


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
    if body.source == body.target:
        raise HTTPException(400, "source and target must be different connections")
    for name in (body.source, body.target):
        if not await registry.exists(engine, name):
            raise HTTPException(404, f"no connection named {name!r} is registered")
    return await publish_request(
        broker,
        response,
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
    broker: Broker, response: Response, request: ComparisonRequested
) -> ComparisonAccepted:
    """Publish ``request`` as a new migration; the 202 answer with its links."""
    event = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target=request.target,
        producer="gateway",
        payload=request,
    )
    await publish_event(broker, event)
    accepted = ComparisonAccepted(
        migration_id=event.migration_id,
        status=MigrationStatus.REQUESTED,
        links=links(event.migration_id),
    )
    response.headers["Location"] = accepted.links.self
    return accepted
