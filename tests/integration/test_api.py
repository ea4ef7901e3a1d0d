"""The REST API's contract at its edges: validation, masking, documents."""

from __future__ import annotations

import uuid

import pytest

from schemas.events import ALL_TOPICS
from tests.integration.conftest import register

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
        ({"name": "x", "url": "mysql://a:b@h/d"}, 422, "unsupported URL scheme"),
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


@pytest.mark.parametrize(
    "body",
    [
        {"source": "a", "target": "a"},
        {"source": "a", "target": "b", "mode": "yolo"},
        {"source": "a", "target": "b", "allow_hazards": ["everything"]},
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


async def test_history_filters(api):
    page = await api.get("/api/v1/migrations", params={"status": "applied", "limit": 5})
    assert page.status_code == 200
    assert all(m["status"] == "applied" for m in page.json()["items"])
    assert (await api.get("/api/v1/migrations", params={"status": "bogus"})).status_code == 422
    assert (await api.get("/api/v1/migrations", params={"limit": 0})).status_code == 422


async def test_replay_validation(api):
    assert (await api.post("/api/v1/replays", json={"topic": "no such topic"})).status_code == 422
    missing = await api.post("/api/v1/replays", json={"topic": "schemashift-missing-topic"})
    assert missing.status_code == 400 and "does not exist" in missing.text
    backwards = await api.post(
        "/api/v1/replays",
        json={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    )
    assert backwards.status_code == 422


async def test_documents(api):
    openapi = (await api.get("/openapi.json")).json()
    assert "/api/v1/comparisons" in openapi["paths"]
    asyncapi = await api.get("/asyncapi.json")
    assert asyncapi.status_code == 200
    text = asyncapi.text
    for topic in ALL_TOPICS:
        if topic != "schemashift.replay":
            assert topic in text, f"{topic} missing from the AsyncAPI document"
    assert (await api.get("/healthz")).json() == {"status": "ok"}
