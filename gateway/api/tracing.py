"""The gateway's SERVER spans: each HTTP request starts a trace, or continues the caller's.

The spans themselves are made by :mod:`schemashift.consumers.common.tracing`; this middleware
only tells it what request is being answered. A comparison's events are published inside the
span, so the whole migration belongs to the trace of the call that asked for it.
"""

from __future__ import annotations

from typing import Any

from schemashift.consumers.common import tracing

Receive = Any
Send = Any

# Probes and scrapes come every few seconds and say nothing about a migration.
UNTRACED_PATHS = frozenset({"/healthz", "/metrics"})


class ServerSpans:
    """ASGI middleware: a SERVER span around every HTTP request while tracing is on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        with tracing.serving(scope["method"], scope["path"], scope.get("headers") or []) as span:

            async def answered(message: dict[str, Any]) -> None:
                if span is not None and message["type"] == "http.response.start":
                    span.responded(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, answered)
            finally:
                route = route_template(scope)
                if span is not None and route is not None:
                    span.routed(route)


def route_template(scope: dict[str, Any]) -> str | None:
    """The path template of the route that answered, e.g. ``/api/v1/migrations/{migration_id}``.

    The router sets the route on the scope (this one, as it was passed down). Depending on
    FastAPI's version, its path is the whole template or the part below the including router's
    prefix: that prefix is then the part of the request's path its pattern does not match.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    pattern = getattr(route, "path_regex", None)
    path = scope["path"]
    if pattern is not None:
        for at, char in enumerate(path):
            if char == "/" and pattern.match(path[at:]):
                return path[:at] + template
    return template
