"""The console's pages under ``/ui``: sign-in, connections, migrations, one migration (live),
a target; and the actions, which call the REST API's own functions.

Every page needs a signed-in session whose token is still valid and has the ``read`` scope;
every request that changes something also needs the session's CSRF token (form field or
header) and, when the browser sends one, an Origin of this server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schemashift.consumers.common import connections as registry
from schemashift.consumers.common.secrets import derive_key
from schemashift.consumers.common.settings import Settings
from schemashift.consumers.tracker import store
from schemashift.gateway import tokens
from schemashift.gateway.api import comparisons as comparisons_api
from schemashift.gateway.api import connections as connections_api
from schemashift.gateway.api import migrations as migrations_api
from schemashift.gateway.api.deps import Broker, Engine, Notified, authorize
from schemashift.gateway.api.live import follow_tracked
from schemashift.gateway.api.models import (
    ApprovalIn,
    ComparisonIn,
    ConnectionIn,
    RejectionIn,
    RollbackIn,
)
from schemashift.gateway.console import render as views
from schemashift.gateway.console.schema import read_listing
from schemashift.gateway.console.session import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    CsrfRefused,
    Session,
    SessionCodec,
    check_csrf,
)
from schemashift.gateway.tokens import Principal, Scope
from schemashift.schemas.events import MigrationStatus
from schemashift.schemas.hazards import Hazard

_Form = TypeVar("_Form", ApprovalIn, RejectionIn, RollbackIn, ComparisonIn)

PREFIX = "/ui"
PAGE_SIZE = 25

router = APIRouter(prefix=PREFIX, include_in_schema=False)

# Why the sign-in page is shown, by the code in its URL (never text from the request).
SIGN_IN_REASONS = {
    "expired": "Your session expired. Sign in again.",
    "revoked": "The token of your session is no longer valid (revoked?). Sign in again.",
    "signed-out": "You are signed out.",
}
# What a redirect after an action says, by its code.
NOTICES = {
    "approved": "Approved: the executor applies it next.",
    "rejected": "Rejected: the target's queue moves on.",
    "rollback": "Roll-back requested: this is the new migration that undoes the original.",
    "requested": "Comparison requested: the plan appears here as the pipeline makes it.",
    "registered": "Connection registered.",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class Console:
    """The console's per-app state: its settings and the session codec (whose keys are derived
    on first use, once the secret key exists)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def codec(self) -> SessionCodec:
        return SessionCodec(
            signing_key=derive_key("console-session-signing"),
            encryption_key=derive_key("console-session-token"),
            max_age_s=int(self.settings.console_session_hours * 3600),
        )


def mount(app: FastAPI, settings: Settings) -> None:
    """Serve the console under ``/ui`` of ``app``, with its static files.

    Mount it after the app's own exception handlers: on console pages their answers (the
    status and the reason they chose) are shown as a page instead of JSON.
    """
    app.state.console = Console(settings)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=views.STATIC), name="console-static")
    app.add_exception_handler(SignInRequired, _sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, _csrf_refused)  # type: ignore[arg-type]
    handlers: dict[Any, Any] = {StarletteHTTPException: http_exception_handler}
    handlers |= app.exception_handlers
    for kind, handler in handlers.items():
        if kind not in (SignInRequired, CsrfRefused) and not isinstance(kind, int):
            app.add_exception_handler(kind, _as_page(handler))


# --- who is looking ---------------------------------------------------------------------


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page (``reason``: a code)."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Viewer:
    """A signed-in browser: the token's principal and the session."""

    who: Principal
    session: Session

    @property
    def csrf(self) -> str:
        return self.session.csrf


def _console(request: Request) -> Console:
    return request.app.state.console


async def _viewer(request: Request, engine: Engine) -> Viewer:
    cookie = request.cookies.get(COOKIE)
    session = _console(request).codec.decode(cookie)
    if session is None:
        raise SignInRequired("expired" if cookie else None)
    who = await tokens.authenticate(engine, session.token)
    if who is None:
        raise SignInRequired("revoked")
    authorize(who, Scope.READ)
    # Kept for the error pages, which then still show who is signed in.
    request.state.viewer = Viewer(who, session)
    return request.state.viewer


Viewing = Annotated[Viewer, Depends(_viewer)]


async def _form(request: Request, viewer: Viewer | None) -> dict[str, list[str]]:
    """The urlencoded form of a request that changes something, once its origin and (with a
    session) its CSRF token are checked."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise CsrfRefused(f"the request comes from another site ({origin})")
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        form = parse_qs(body, keep_blank_values=True, max_num_fields=100)
    except ValueError:
        raise HTTPException(400, "The form has too many fields.") from None
    if viewer is not None:
        submitted = request.headers.get(CSRF_HEADER) or _field(form, CSRF_FIELD)
        check_csrf(viewer.session, submitted)
    return form


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _page(template: str, request: Request, status_code: int = 200, **context: Any) -> Response:
    viewer = context.pop("viewer", None)
    values = {
        "request": request,
        "who": viewer.who if viewer else None,
        "csrf": viewer.csrf if viewer else "",
        "prefix": PREFIX,
        "nav": "",
    }
    html = views.render(template, **(values | context))
    return HTMLResponse(html, status_code, headers=SECURITY_HEADERS)


def _error(
    request: Request, status_code: int, message: str, viewer: Viewer | None = None
) -> Response:
    return _page(
        "error.html", request, status_code, viewer=viewer, code=status_code, message=message
    )


async def _sign_in_required(request: Request, exc: SignInRequired) -> Response:
    query = {"next": _safe_next(request.url.path)}
    if exc.reason:
        query["reason"] = exc.reason
    location = f"{PREFIX}/sign-in?{urlencode(query)}"
    response: Response
    if "text/event-stream" in request.headers.get("accept", ""):
        # A live stream's EventSource stops on 204 (it would retry a redirect for ever).
        response = Response(status_code=204)
    elif request.headers.get("hx-request"):
        response = Response(status_code=401, headers={"HX-Redirect": location})
    else:
        response = RedirectResponse(location, 303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


async def _csrf_refused(request: Request, exc: CsrfRefused) -> Response:
    return _error(request, 403, f"Refused: {exc.reason}.", getattr(request.state, "viewer", None))


def _as_page(handler: Any) -> Any:
    """``handler``'s answer, on a console page as an error page with its status and reason."""

    async def on_page(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        path = request.url.path
        if not path.startswith(PREFIX + "/") or path.startswith(f"{PREFIX}/static/"):
            return response
        if isinstance(response, JSONResponse) and response.status_code >= 400:
            detail = json.loads(bytes(response.body)).get("detail")
            if isinstance(detail, list):  # a validation error: where, and what is wrong
                detail = "The request is not valid: " + "; ".join(
                    f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in detail
                )
            viewer = getattr(request.state, "viewer", None)
            return _error(request, response.status_code, str(detail), viewer)
        return response

    return on_page


def _safe_next(path: str | None) -> str:
    """A place in the console to go to after signing in (never another site)."""
    if not path or not path.startswith(PREFIX + "/") or path.startswith("//"):
        return f"{PREFIX}/migrations"
    if path.startswith((f"{PREFIX}/sign-", f"{PREFIX}/static")) or "/live" in path:
        return f"{PREFIX}/migrations"
    return path


# --- sign-in ----------------------------------------------------------------------------


@router.get("")
@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/migrations", 303)


@router.get("/sign-in")
async def sign_in_page(
    request: Request, reason: str | None = None, next: str | None = None
) -> Response:
    return _page(
        "sign_in.html",
        request,
        notice=SIGN_IN_REASONS.get(reason or ""),
        error=None,
        next=_safe_next(next),
    )


@router.post("/sign-in")
async def sign_in(request: Request, engine: Engine) -> Response:
    """Check the token and keep it in the session cookie."""
    form = await _form(request, None)
    token = (_field(form, "token") or "").strip()
    target = _safe_next(_field(form, "next"))
    who = await tokens.authenticate(engine, token) if token else None
    if who is None or not who.allows(Scope.READ):
        error = (
            "That token is not valid: it may be mistyped, revoked or unknown to this server."
            if who is None
            else f"The token {who.name!r} lacks the 'read' scope the console needs."
        )
        return _page(
            "sign_in.html",
            request,
            401 if who is None else 403,
            notice=None,
            error=error,
            next=target,
        )
    codec = _console(request).codec
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE,
        codec.encode(codec.new(token)),
        max_age=codec.max_age_s,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out")
async def sign_out(request: Request, viewer: Viewing) -> Response:
    await _form(request, viewer)
    response = RedirectResponse(f"{PREFIX}/sign-in?reason=signed-out", 303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


# --- migrations -------------------------------------------------------------------------


def _parse_local(value: str | None, tz_minutes: int) -> datetime | None:
    """A ``datetime-local`` value in the viewer's zone (``getTimezoneOffset`` minutes) as UTC."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"not a date and time: {value!r}") from None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return (naive + timedelta(minutes=tz_minutes)).replace(tzinfo=UTC)


@router.get("/migrations")
async def migrations_page(
    request: Request,
    engine: Engine,
    viewer: Viewing,
    target: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    tz: int = 0,
    page: int = 1,
) -> Response:
    """The history, newest first, filtered and paged."""
    if status and status not in {s.value for s in MigrationStatus}:
        raise HTTPException(400, f"unknown status {status!r}")
    if not -1440 <= tz <= 1440:
        raise HTTPException(400, "the time zone offset is out of range")
    page = max(page, 1)
    rows = await store.list_migrations(
        engine,
        target=target or None,
        status=status or None,
        since=_parse_local(since, tz),
        until=_parse_local(until, tz),
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    filters = {
        k: v
        for k, v in {"target": target, "status": status, "since": since, "until": until}.items()
        if v
    }
    if filters.get("since") or filters.get("until"):
        filters["tz"] = str(tz)
    return _page(
        "migrations.html",
        request,
        viewer=viewer,
        nav="migrations",
        rows=rows[:PAGE_SIZE],
        page=page,
        has_next=len(rows) > PAGE_SIZE,
        filters=filters,
        query=lambda **changes: urlencode({**filters, **changes}),
        targets=[c["name"] for c in await registry.list_all(engine)],
        statuses=list(MigrationStatus),
    )


@router.get("/migrations/{migration_id}")
async def migration_page(
    request: Request,
    migration_id: uuid.UUID,
    engine: Engine,
    viewer: Viewing,
    done: str | None = None,
) -> Response:
    """One migration: the live panel (status, actions, diff, SQL, error, timeline)."""
    row = await migrations_api.require_migration(engine, migration_id)
    events = await store.list_events(engine, migration_id)
    return _page(
        "migration.html",
        request,
        viewer=viewer,
        nav="migrations",
        notice=NOTICES.get(done or ""),
        **views.migration_context(row, events, viewer.who, viewer.csrf),
    )


def _sse(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


@router.get("/migrations/{migration_id}/live")
async def migration_live(
    migration_id: uuid.UUID,
    engine: Engine,
    notifications: Notified,
    viewer: Viewing,
    seen: int = 0,
) -> StreamingResponse:
    """The live panel again (an ``update`` event) whenever more events are shown than the
    page had (``seen``), and a last one once the migration has ended (marked settled), then an
    ``end`` event."""
    followed = await follow_tracked(engine, notifications, migration_id, grace_s=0)
    if followed is None:
        raise migrations_api.not_tracked(migration_id)

    async def stream() -> AsyncIterator[str]:
        shown = []
        rendered = seen
        async for update in followed:
            if update is None:
                yield ": keep-alive\n\n"
                continue
            shown.extend(update.released)
            # The end is rendered too: its panel is the one marked settled.
            if update.row is not None and (len(shown) > rendered or update.ended):
                context = views.migration_context(
                    update.row, shown, viewer.who, viewer.csrf, settled=update.ended
                )
                yield _sse("update", views.render("_live.html", prefix=PREFIX, **context))
                rendered = len(shown)
            if update.ended:
                yield _sse("end", update.row["status"] if update.row else "")

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _comment(form: dict[str, list[str]]) -> str | None:
    return (_field(form, "comment") or "").strip() or None


def _done(migration_id: uuid.UUID | str, code: str) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/migrations/{migration_id}?done={code}", 303)


@router.post("/migrations/{migration_id}/approve")
async def approve(
    request: Request, migration_id: uuid.UUID, engine: Engine, broker: Broker, viewer: Viewing
) -> Response:
    form = await _form(request, viewer)
    who = authorize(viewer.who, Scope.APPROVE)
    body = _model(ApprovalIn, comment=_comment(form))
    await migrations_api.approve_migration(engine, broker, who, migration_id, body)
    return _done(migration_id, "approved")


@router.post("/migrations/{migration_id}/reject")
async def reject(
    request: Request, migration_id: uuid.UUID, engine: Engine, broker: Broker, viewer: Viewing
) -> Response:
    form = await _form(request, viewer)
    who = authorize(viewer.who, Scope.APPROVE)
    body = _model(RejectionIn, comment=_comment(form))
    await migrations_api.reject_migration(engine, broker, who, migration_id, body)
    return _done(migration_id, "rejected")


@router.post("/migrations/{migration_id}/rollback")
async def rollback(
    request: Request, migration_id: uuid.UUID, engine: Engine, broker: Broker, viewer: Viewing
) -> Response:
    form = await _form(request, viewer)
    who = authorize(viewer.who, Scope.APPROVE)
    body = _model(
        RollbackIn,
        comment=_comment(form),
        mode=_field(form, "mode") or "plan",
        allow_hazards=form.get("allow", []),
    )
    accepted = await migrations_api.rollback_migration(engine, broker, who, migration_id, body)
    return _done(accepted.migration_id, "rollback")


def _model(model: type[_Form], **values: Any) -> _Form:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise HTTPException(400, f"The form is not valid: {problems}.") from None


# --- connections and targets ------------------------------------------------------------


async def _connections_page(
    request: Request,
    engine: Engine,
    viewer: Viewer,
    *,
    status_code: int = 200,
    error: str | None = None,
    name: str = "",
    notice: str | None = None,
) -> Response:
    rows = await registry.list_all(engine)
    latest = await store.latest_by_target(engine, [str(r["name"]) for r in rows])
    return _page(
        "connections.html",
        request,
        status_code,
        viewer=viewer,
        nav="connections",
        rows=rows,
        latest=latest,
        error=error,
        name=name,
        notice=notice,
    )


@router.get("/connections")
async def connections_page(
    request: Request, engine: Engine, viewer: Viewing, done: str | None = None
) -> Response:
    """Every connection: engine, host, database (never a password), its last migration."""
    return await _connections_page(request, engine, viewer, notice=NOTICES.get(done or ""))


@router.post("/connections")
async def register_connection(request: Request, engine: Engine, viewer: Viewing) -> Response:
    """Register a connection (admin scope, as the REST API demands)."""
    form = await _form(request, viewer)
    authorize(viewer.who, Scope.ADMIN)
    name = (_field(form, "name") or "").strip()
    try:
        body = ConnectionIn(name=name, url=(_field(form, "url") or "").strip())
    except ValidationError as exc:
        # The messages without their input: a refused URL must not come back with its password.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return await _connections_page(
            request, engine, viewer, status_code=400, error=problems, name=name
        )
    await connections_api.register(engine, body)
    return RedirectResponse(f"{PREFIX}/connections?done=registered", 303)


@router.get("/targets/{name}")
async def target_page(
    request: Request, name: str, engine: Engine, viewer: Viewing, page: int = 1
) -> Response:
    """A target: its migrations, newest first, and (loaded after) its current schema."""
    connections = await registry.list_all(engine)
    connection = next((c for c in connections if c["name"] == name), None)
    if connection is None:
        raise HTTPException(404, f"No connection named {name!r} is registered.")
    page = max(page, 1)
    rows = await store.list_migrations(
        engine, target=name, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
    )
    return _page(
        "target.html",
        request,
        viewer=viewer,
        nav="connections",
        connection=connection,
        rows=rows[:PAGE_SIZE],
        page=page,
        has_next=len(rows) > PAGE_SIZE,
        query=lambda **changes: urlencode(changes),
        sources=[c["name"] for c in connections if c["name"] != name],
        hazards=[h.value for h in Hazard],
    )


@router.post("/targets/{name}/compare")
async def compare(
    request: Request, name: str, engine: Engine, broker: Broker, viewer: Viewing
) -> Response:
    """Ask for the target ``name`` to be made to match a source (trigger scope, as the REST
    API demands); the new migration's page."""
    form = await _form(request, viewer)
    who = authorize(viewer.who, Scope.TRIGGER)
    body = _model(
        ComparisonIn,
        source=_field(form, "source") or "",
        target=name,
        mode=_field(form, "mode") or "plan",
        allow_hazards=form.get("allow", []),
    )
    accepted = await comparisons_api.request_migration(engine, broker, who, body)
    return _done(accepted.migration_id, "requested")


@router.get("/targets/{name}/schema")
async def target_schema(request: Request, name: str, engine: Engine, viewer: Viewing) -> Response:
    """The target's current schema as a list of objects (a fragment of the target page)."""
    listing = await read_listing(engine, name)
    return _page("_schema.html", request, viewer=viewer, listing=listing, name=name)
