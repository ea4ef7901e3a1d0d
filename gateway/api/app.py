"""The gateway: FastAPI app with the REST API, the AsyncAPI document, the web console (``/ui``)
and a Kafka publisher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from schemashift.consumers.common import metrics, tracing
from schemashift.consumers.common.db import autocommit, create_engine
from schemashift.consumers.common.kafka import make_broker
from schemashift.consumers.common.settings import Settings, get_settings
from schemashift.consumers.tracker import store
from schemashift.gateway.api import asyncapi, comparisons, connections, migrations, replays
from schemashift.gateway.api.deps import Reader
from schemashift.gateway.api.limits import BodySizeLimit
from schemashift.gateway.api.models import Problem
from schemashift.gateway.api.notifications import Notifications
from schemashift.gateway.api.tracing import ServerSpans
from schemashift.gateway.console import routes as console
from schemashift.infra.migrate import upgrade_async


def create_app(settings: Settings | None = None) -> FastAPI:
    """The gateway application; the broker and the DB engine live as long as it does."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing.setup("gateway", settings)
        await upgrade_async(settings.database_url)
        app.state.settings = settings
        app.state.engine = create_engine(settings.database_url, pool_size=10)
        app.state.notifications = Notifications(settings.database_url, store.NOTIFY_CHANNEL)
        # A plain broker in the lifespan (the FastAPI plugin is deprecated): the gateway
        # only publishes.
        app.state.broker = make_broker("gateway", settings)
        await app.state.broker.start()
        try:
            yield
        finally:
            await app.state.broker.stop()
            await app.state.notifications.close()
            await app.state.engine.dispose()
            await tracing.shutdown()

    app = FastAPI(
        title="Schemashift",
        responses={
            401: {"model": Problem, "description": "No valid bearer token."},
            403: {"model": Problem, "description": "The token lacks the scope."},
            413: {"model": Problem, "description": "The request body is too large."},
            503: {"model": Problem, "description": "The broker or the database is away."},
        },
        version="0.1.0",
        description="Compare a source database schema with a target, generate the migration, "
        "run it, and keep an auditable history.",
        lifespan=lifespan,
        # The documents are served below, behind the read scope like every endpoint.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    if settings.tracing != "off":
        # Outermost: the span also covers requests the size limit refuses.
        app.add_middleware(ServerSpans)
    for module in (connections, comparisons, migrations, replays):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(asyncapi.router)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: Reader) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(_: Reader) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Schemashift API")

    @app.exception_handler(KafkaError)
    async def broker_unavailable(request: Request, exc: KafkaError) -> JSONResponse:
        # Nothing was published: the caller may retry once the broker is back.
        return JSONResponse({"detail": "the event broker is unavailable; retry later"}, 503)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(OSError)
    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not (
            exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
        ):
            # A statement the database refused: a fault of ours, not an outage.
            return JSONResponse({"detail": "internal error"}, 500)
        return JSONResponse({"detail": "the metadata database is unavailable; retry later"}, 503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The errors without their "input": a refused URL must not be echoed with its password.
        errors = [
            {k: v for k, v in error.items() if k not in ("input", "ctx", "url")}
            for error in exc.errors()
        ]
        return JSONResponse({"detail": jsonable_encoder(errors)}, 422)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        """Liveness and readiness: the metadata database answers."""
        from sqlalchemy import text

        try:
            async with autocommit(request.app.state.engine) as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "degraded", "database": "unavailable"}, 503)
        return JSONResponse({"status": "ok"})

    metrics.describe_process("gateway")

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """The gateway's metrics in the Prometheus text format.

        No token, as Prometheus scrapes: the metrics are counts and durations by topic,
        outcome, status and dialect, never a name, an id, a URL or a token.
        """
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    # Last: its pages show the errors that the handlers above answer.
    console.mount(app, settings)
    return app
