"""/asyncapi: the AsyncAPI document of every topic, built from the table in schemas/topics.py.

FastStream writes the document from a broker's declared subscribers and publishers. The broker
here is only declared, never connected: one publisher per (topic, publishing role) and one
subscriber per (topic, subscribing role), straight from the table, so the gateway does not import
the roles (nor build their brokers and pools) to describe them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html
from pydantic import BaseModel

from schemashift.consumers.common.kafka import make_broker
from schemashift.gateway.api.deps import Reader
from schemashift.schemas.topics import TOPICS

router = APIRouter(tags=["asyncapi"])


def _receives(model: type[BaseModel]) -> Callable[..., Awaitable[None]]:
    """A handler that is never called; its signature gives the subscriber its message schema."""

    async def declared(message: Any) -> None:  # pragma: no cover - never consumed
        return None

    declared.__annotations__ = {"message": model, "return": None}
    return declared


def declared_broker() -> KafkaBroker:
    """A broker with the table's subscribers and publishers (servers as the roles see them)."""
    broker = make_broker("asyncapi")
    for topic in TOPICS:
        description = f"{topic.description} Keyed by {topic.key}."
        for role in topic.publishers:
            broker.publisher(
                topic.name,
                schema=topic.message,
                title=f"{topic.name}:Publish:{role}",
                description=description,
            )
        for role in topic.subscribers:
            broker.subscriber(
                topic.name,
                group_id=f"schemashift-{role}",
                title=f"{topic.name}:Subscribe:{role}",
                description=description,
            )(_receives(topic.message))
    return broker


@lru_cache
def specification() -> Any:
    """The AsyncAPI document of schemas/topics.py."""
    return AsyncAPI(
        declared_broker(),
        title="Schemashift events",
        version="1.0.0",
        description="Every topic of the migration pipeline, keyed by target connection name.",
    ).to_specification()


@router.get("/asyncapi", response_class=HTMLResponse, include_in_schema=False)
async def asyncapi_html(_: Reader) -> str:
    """The AsyncAPI document, rendered."""
    return get_asyncapi_html(specification(), try_it_out_path=None)


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json(_: Reader) -> JSONResponse:
    """The AsyncAPI document as JSON."""
    return JSONResponse(specification().to_jsonable())
