"""The REST API's contract at its edges: validation, masking, documents."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from schemashift.schemas.events import ALL_TOPICS
from tests.support.infra import REPO_ROOT
from tests.support.service import create_token, register, registered_pair, wait_for_status

pytestmark = pytest.mark.integration


async def test_connection_password_is_masked_in_every_response(api):
    name = f"masked-{uuid.uuid4().hex[:8]}"
    url = "postgresql://app:Very$ecret1@127.0.0.1:5432/app"
    created = await api.post("/api/v1/connections", json={"name": name, "url": url})
    assert created.status_code == 201
    assert created.json()["url"] == "postgresql://app:***@127.0.0.1:5432/app"
    listed = await api.get("/api/v1/connections")
    assert "Very$ecret1" not in listed.text
    assert any(c["name"] == name for c in listed.json())


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"name": "x", "url": "oracle://a:b@h/d"}, 422, "unsupported URL scheme"),
        ({"name": "x", "url": "sqlite:///:memory:"}, 422, "in-memory database"),
        ({"name": "has space", "url": "postgresql://h/d"}, 422, "name"),
        ({"name": "x", "url": "postgresql://h/d", "extra": 1}, 422, "extra"),
        ({"name": "x"}, 422, "url"),
    ],
)
async def test_invalid_connections_are_refused_with_a_reason(api, body, status, fragment):
    response = await api.post("/api/v1/connections", json=body)
    assert response.status_code == status
    assert fragment in response.text


async def test_comparison_with_unknown_connection_is_404(api, new_database):
    known = await register(api, await new_database(), "known")
    response = await api.post(
        "/api/v1/comparisons", json={"source": known, "target": "no-such-db", "mode": "apply"}
    )
    assert response.status_code == 404
    assert "no-such-db" in response.json()["detail"]


async def test_same_source_and_target_is_400(api):
    response = await api.post("/api/v1/comparisons", json={"source": "a", "target": "a"})
    assert response.status_code == 400
    assert "different" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"source": "a", "target": "b", "mode": "yolo"},
        {"source": "a", "target": "b", "allow_hazards": ["everything"]},
        {"source": "a", "target": "b", "options": {"concurrently": True}},
        {"source": "a"},
    ],
)
async def test_invalid_comparisons_are_422(api, body):
    response = await api.post("/api/v1/comparisons", json=body)
    assert response.status_code == 422, response.text


async def test_unknown_migration_is_404(api):
    missing = uuid.uuid4()
    assert (await api.get(f"/api/v1/migrations/{missing}")).status_code == 404
    assert (await api.post(f"/api/v1/migrations/{missing}/approve", json={})).status_code == 404
    assert (await api.get("/api/v1/migrations/not-a-uuid")).status_code == 422
    # Its events, listed or followed live, after the grace a just-requested migration has.
    started = time.monotonic()
    events = f"/api/v1/migrations/{missing}/events"
    assert (await api.get(events)).status_code == 404
    live = await api.get(events, headers={"Accept": "text/event-stream"})
    assert live.status_code == 404 and "once tracked" in live.json()["detail"]
    assert time.monotonic() - started >= 2 * 5.0


async def test_history_filters(api):
    page = await api.get("/api/v1/migrations", params={"status": "applied", "limit": 5})
    assert page.status_code == 200
    assert all(m["status"] == "applied" for m in page.json()["items"])
    assert (await api.get("/api/v1/migrations", params={"status": "bogus"})).status_code == 422
    assert (await api.get("/api/v1/migrations", params={"limit": 0})).status_code == 422


async def test_history_filters_by_time_of_request(api, new_database):
    _, _, source, target = await registered_pair(api, new_database, None, None)
    accepted = await api.post("/api/v1/comparisons", json={"source": source, "target": target})
    assert accepted.status_code == 202, accepted.text
    migration_id = accepted.json()["migration_id"]
    await wait_for_status(api, migration_id, {"applied", "failed"})
    created = (await api.get(f"/api/v1/migrations/{migration_id}")).json()["created_at"]

    async def ids(**params: str) -> list[str]:
        page = await api.get("/api/v1/migrations", params={"limit": 500, **params})
        assert page.status_code == 200, page.text
        return [m["id"] for m in page.json()["items"]]

    assert migration_id in await ids(since=created, target=target)
    assert migration_id not in await ids(until=created, target=target)
    assert await ids(since="2999-01-01T00:00:00+00:00") == []
    naive = await api.get("/api/v1/migrations", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and "timezone" in naive.text
    backwards = await api.get(
        "/api/v1/migrations",
        params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 400 and "before" in backwards.text


async def test_replay_validation(api):
    assert (await api.post("/api/v1/replays", json={"topic": "no such topic"})).status_code == 422
    missing = await api.post(
        "/api/v1/replays", json={"topic": "schemashift-missing-topic", "target": "any"}
    )
    assert missing.status_code == 400 and "does not exist" in missing.text
    backwards = await api.post(
        "/api/v1/replays",
        json={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 400
    everything = await api.post("/api/v1/replays", json={})
    assert everything.status_code == 400 and "name a migration" in everything.text


async def test_documents(api):
    openapi = (await api.get("/openapi.json")).json()
    assert "/api/v1/comparisons" in openapi["paths"]
    asyncapi = await api.get("/asyncapi.json")
    assert asyncapi.status_code == 200
    text = asyncapi.text
    for topic in ALL_TOPICS:
        assert topic in text, f"{topic} missing from the AsyncAPI document"
    assert (await api.get("/healthz")).json() == {"status": "ok"}


ROUTES = [
    ("GET", "/api/v1/connections"),
    ("POST", "/api/v1/connections"),
    ("POST", "/api/v1/comparisons"),
    ("GET", "/api/v1/migrations"),
    ("GET", f"/api/v1/migrations/{uuid.UUID(int=1)}"),
    ("POST", f"/api/v1/migrations/{uuid.UUID(int=1)}/approve"),
    ("POST", f"/api/v1/migrations/{uuid.UUID(int=1)}/reject"),
    ("POST", f"/api/v1/migrations/{uuid.UUID(int=1)}/rollback"),
    ("GET", f"/api/v1/migrations/{uuid.UUID(int=1)}/events"),
    ("POST", "/api/v1/replays"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/asyncapi"),
    ("GET", "/asyncapi.json"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_but_healthz_needs_a_token(service, method, path):
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as anonymous:
        response = await anonymous.request(method, path, json={})
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        forged = await anonymous.request(
            method, path, json={}, headers={"Authorization": "Bearer ss_0000_not-a-token"}
        )
        assert forged.status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("scopes", "method", "path", "allowed"),
    [
        ("read", "GET", "/api/v1/migrations", True),
        ("read", "POST", "/api/v1/comparisons", False),
        ("read", "POST", f"/api/v1/migrations/{uuid.UUID(int=1)}/approve", False),
        ("trigger", "GET", "/api/v1/migrations", False),
        ("trigger", "POST", "/api/v1/connections", False),
        ("approve", "POST", "/api/v1/replays", False),
        ("read,trigger", "GET", "/api/v1/connections", True),
    ],
)
async def test_scopes_are_enforced(service, scopes, method, path, allowed):
    token = create_token(service, scopes)
    async with httpx.AsyncClient(
        base_url=service.base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        response = await client.request(method, path, json={} if method == "POST" else None)
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403, response.text
        assert "scope" in response.json()["detail"]


async def test_revoked_token_stops_working_at_once(service):
    name = f"short-lived-{uuid.uuid4().hex[:6]}"
    token = create_token(service, "read", name)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30, headers=headers) as client:
        assert (await client.get("/api/v1/migrations")).status_code == 200
        revoked = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "schemashift.gateway.cli", "token", "revoke", "--name", name],
            cwd=REPO_ROOT,
            env=service.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoked.returncode == 0, revoked.stderr
        assert (await client.get("/api/v1/migrations")).status_code == 401


async def test_oversized_body_is_413(api):
    response = await api.post(
        "/api/v1/connections",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
