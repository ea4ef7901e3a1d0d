"""/api/v1/replays: re-publish stored events onto a replay topic."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from schemashift.gateway.api.deps import Admin, AppSettings, Broker, Engine
from schemashift.gateway.api.models import Problem, ReplayIn, ReplayOut
from schemashift.gateway.replay import ReplayRefused, replay

router = APIRouter(prefix="/replays", tags=["replays"])


@router.post("", status_code=status.HTTP_200_OK, responses={400: {"model": Problem}})
async def request_replay(
    body: ReplayIn, engine: Engine, broker: Broker, settings: AppSettings, _: Admin
) -> ReplayOut:
    """Publish the matching events, each migration's in the order they happened, as replayed."""
    if body.since and body.until and body.since >= body.until:
        raise HTTPException(400, "since must be before until")
    if not (body.migration_id or body.target or body.since or body.until):
        # The whole log in one request is an operator's job: `schemashift replay`.
        raise HTTPException(400, "name a migration, a target or a time range to replay")
    try:
        topic, published = await replay(
            engine,
            broker,
            settings.kafka_bootstrap,
            migration_id=body.migration_id,
            target=body.target,
            since=body.since,
            until=body.until,
            topic=body.topic,
        )
    except ReplayRefused as exc:
        raise HTTPException(400, str(exc)) from None
    return ReplayOut(topic=topic, published=published)
