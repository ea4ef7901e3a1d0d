"""A small typed client of the gateway's REST API: one method per call, and its live stream.

Answers are the API's JSON as it is (``dict``): the command line prints it unchanged with
``--json``. Every failure is a :class:`GatewayError`: the gateway could not be reached
(:class:`GatewayUnreachable`), it refused the token (:class:`TokenRefused`), or it refused the
request with a reason (:class:`ApiError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

Json = dict[str, Any]

API = "/api/v1"


class GatewayError(Exception):
    """Base of every error of :class:`GatewayClient`; its text is one line for the user."""


class GatewayUnreachable(GatewayError):
    """No answer from the gateway: nothing listens there, or the connection broke."""


class ApiError(GatewayError):
    """The gateway answered with an error status; ``reason`` is its problem's detail."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{reason} ({status})")
        self.status = status
        self.reason = reason


class TokenRefused(ApiError):
    """401 (no valid token) or 403 (the token lacks the scope)."""


@dataclass(frozen=True)
class ServerSentEvent:
    """One message of a ``text/event-stream``."""

    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        """``data`` decoded as JSON."""
        return json.loads(self.data)


def parse_sse(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """The messages of an event stream, from its lines (the WHATWG rules the gateway needs:
    ``event``, ``data`` and ``id`` fields, ``:`` comments, a blank line ends a message)."""
    event, last_id = "", None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):  # a comment: the gateway's keep-alive
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            last_id = value
    if data:  # a stream cut after its last field still delivers what it holds
        yield ServerSentEvent(event or "message", "\n".join(data), last_id)


def problem_reason(response: httpx.Response) -> str:
    """The one-line reason of an error answer: its problem's ``detail``.

    A validation error's detail is a list; each entry gives where and what, never the value
    that was refused (it may be a URL with a password).
    """
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for error in detail:
            if isinstance(error, dict):
                where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
                parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else "invalid")
        if parts:
            return "; ".join(parts)
    return response.reason_phrase or f"HTTP {response.status_code}"


class GatewayClient:
    """The gateway's REST API at ``url``, called with the bearer ``token``.

    ``transport`` replaces the network (tests pass an ``httpx.MockTransport``).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "schemashift-cli"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def link(self, path: str) -> str:
        """The absolute address of an API path (the API's links are paths)."""
        return self.url + path

    # --- connections ---------------------------------------------------------------------

    def list_connections(self) -> list[Json]:
        """Every registered connection, passwords masked by the gateway."""
        answer: list[Json] = self._call("GET", f"{API}/connections")
        return answer

    def add_connection(self, name: str, url: str) -> Json:
        """Register (or replace) ``name``; the answer shows the URL with its password masked."""
        answer: Json = self._call("POST", f"{API}/connections", json={"name": name, "url": url})
        return answer

    # --- migrations ----------------------------------------------------------------------

    def request_comparison(
        self,
        source: str,
        target: str,
        *,
        mode: str,
        allow_hazards: Iterable[str] = (),
        options: Json | None = None,
    ) -> Json:
        """Ask for a migration of ``target`` to ``source``'s schema; the 202 answer (its id and
        links)."""
        body: Json = {
            "source": source,
            "target": target,
            "mode": mode,
            "allow_hazards": list(allow_hazards),
        }
        if options:
            body["options"] = options
        answer: Json = self._call("POST", f"{API}/comparisons", json=body)
        return answer

    def list_migrations(
        self,
        *,
        target: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """A page of the history, newest first: ``{"items", "limit", "offset"}``.

        ``since``/``until`` bound the time of request; a naive time is the local one.
        """
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if target:
            params["target"] = target
        if status:
            params["status"] = status
        for name, when in (("since", since), ("until", until)):
            if when is not None:
                aware = when if when.tzinfo is not None else when.astimezone()
                params[name] = aware.isoformat()
        answer: Json = self._call("GET", f"{API}/migrations", params=params)
        return answer

    def get_migration(self, migration_id: str) -> Json:
        """One migration: status, summary, statements with hazards, progress, error."""
        answer: Json = self._call("GET", f"{API}/migrations/{migration_id}")
        return answer

    def approve(self, migration_id: str, comment: str | None = None) -> Json:
        """Approve a migration that awaits approval."""
        return self._decide(migration_id, "approve", comment)

    def reject(self, migration_id: str, comment: str | None = None) -> Json:
        """Turn down a migration that awaits approval."""
        return self._decide(migration_id, "reject", comment)

    def rollback(
        self,
        migration_id: str,
        *,
        mode: str,
        allow_hazards: Iterable[str] = (),
        options: Json | None = None,
        comment: str | None = None,
    ) -> Json:
        """Undo an applied migration; the 202 answer of the new migration that does it."""
        body: Json = {"mode": mode, "allow_hazards": list(allow_hazards)}
        if comment is not None:
            body["comment"] = comment
        if options:
            body["options"] = options
        answer: Json = self._call("POST", f"{API}/migrations/{migration_id}/rollback", json=body)
        return answer

    def events(self, migration_id: str) -> list[Json]:
        """The migration's events so far, in the order they happened."""
        answer: list[Json] = self._call("GET", f"{API}/migrations/{migration_id}/events")
        return answer

    @contextmanager
    def event_stream(self, migration_id: str) -> Iterator[Iterator[ServerSentEvent]]:
        """The migration's live stream: every event so far, then each as it happens, then an
        ``end`` message once the migration has ended. Closed when the block exits."""
        # The gateway sends a keep-alive every 15 s, so a read waits longer than that, not as
        # long as a migration takes.
        timeout = httpx.Timeout(self._http.timeout.connect, read=60.0)
        try:
            with self._http.stream(
                "GET",
                f"{API}/migrations/{migration_id}/events",
                headers={"Accept": "text/event-stream"},
                timeout=timeout,
            ) as response:
                if response.is_error:
                    response.read()
                    self._raise_for(response)
                yield parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    # --- plumbing ------------------------------------------------------------------------

    def _decide(self, migration_id: str, action: str, comment: str | None) -> Json:
        body = {"comment": comment} if comment is not None else {}
        answer: Json = self._call("POST", f"{API}/migrations/{migration_id}/{action}", json=body)
        return answer

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.is_error:
            self._raise_for(response)
        return response.json()

    def _unreachable(self, exc: httpx.TransportError) -> GatewayUnreachable:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return GatewayUnreachable(f"cannot reach the gateway at {self.url}: {reason}")
        return GatewayUnreachable(f"the connection to the gateway at {self.url} broke: {reason}")

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        reason = problem_reason(response)
        if response.status_code in (401, 403):
            raise TokenRefused(response.status_code, f"the gateway refused the token: {reason}")
        raise ApiError(response.status_code, reason)
