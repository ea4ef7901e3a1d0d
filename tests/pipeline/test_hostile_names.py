"""Hostile identifiers through the service: connection names, comparison fields and history
filters are refused or matched safely, and a hostile schema migrates end to end (the engine's
own tests of the same names are in tests/engine/postgres/test_hostile_names.py)."""

from __future__ import annotations

import uuid

import pytest

from schemashift.consumers.comparator.introspect import introspect
from tests.support.engine import assert_no_difference
from tests.support.hostile import SOURCE, TARGET
from tests.support.schema_snapshot import assert_same_schema
from tests.support.service import ALL_HAZARDS, register, wait_for_status

pytestmark = pytest.mark.integration


async def test_service_migrates_hostile_names(api, new_database) -> None:
    source_url = await new_database(SOURCE)
    target_url = await new_database(TARGET)
    source = await register(api, source_url, "hostile-src")
    target = await register(api, target_url, "hostile-tgt")
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    migration = await wait_for_status(api, response.json()["migration_id"], {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    assert migration["statements"]
    await assert_same_schema(source_url, target_url)
    assert_no_difference(await introspect(source_url), await introspect(target_url))


# --------------------------------------------------------------------------------------------
# Connection names are a closed alphabet: the API refuses anything else


HOSTILE_CONNECTION_NAMES = [
    "with space",
    'quo"te',
    "it's",
    "semi;colon",
    "x" * 200,
    "x" * 129,
    "",
    "-leading-dash",
    ".hidden",
    "trailing-newline\n",
    "tab\tinside",
    "日本",
    "émoji-🚀",
    "slash/inside",
    "back\\slash",
    "percent%20",
    "nul\x00byte",
    "drop;--",
    "' OR '1'='1",
]


@pytest.mark.parametrize("name", HOSTILE_CONNECTION_NAMES, ids=repr)
async def test_hostile_connection_names_are_refused(api, database_url, name) -> None:
    response = await api.post("/api/v1/connections", json={"name": name, "url": database_url})
    assert response.status_code == 422, response.text
    listed = await api.get("/api/v1/connections")
    assert name not in {c["name"] for c in listed.json()}


async def test_longest_allowed_connection_name_is_accepted(api, database_url) -> None:
    name = ("n" + uuid.uuid4().hex) * 4  # 132 characters: over the limit
    too_long = await api.post("/api/v1/connections", json={"name": name, "url": database_url})
    assert too_long.status_code == 422, too_long.text
    name = name[:128]
    response = await api.post("/api/v1/connections", json={"name": name, "url": database_url})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


@pytest.mark.parametrize("field", ["source", "target"])
async def test_hostile_names_in_a_comparison_are_refused(api, field) -> None:
    for name in ('quo"te', "semi;colon", "with space", "x" * 200):
        body = {"source": "valid-a", "target": "valid-b", "mode": "plan"} | {field: name}
        response = await api.post("/api/v1/comparisons", json=body)
        assert response.status_code == 422, (name, response.text)


async def test_a_hostile_history_filter_matches_nothing(api) -> None:
    """The target filter is a value, never SQL: an injection matches no migration."""
    everything = (await api.get("/api/v1/migrations", params={"limit": 1})).json()["items"]
    for target in ("' OR '1'='1", "x' OR 1=1 --", '" OR ""="', "%", "_", "*"):
        response = await api.get("/api/v1/migrations", params={"target": target, "limit": 5})
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [], (target, everything[:1])
