"""/asyncapi: FastStream's AsyncAPI document of every topic the roles use."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html

from schemashift.gateway.api.deps import Reader

router = APIRouter(tags=["asyncapi"])


@lru_cache
def specification() -> Any:
    """The AsyncAPI document built from the roles' own subscribers and publishers."""
    from schemashift.consumers.comparator.app import role as comparator
    from schemashift.consumers.executor.app import role as executor
    from schemashift.consumers.generator.app import role as generator
    from schemashift.consumers.tracker.app import role as tracker

    return AsyncAPI(
        *(r.broker for r in (comparator, generator, executor, tracker)),
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
