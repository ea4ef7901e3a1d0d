"""Safe execution on the real parts: hazard policy, approvals and rejections, stale plans,
the per-target queue, rollbacks and transient errors."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.support.schema_snapshot import assert_same_schema, snapshot
from tests.support.service import (
    ALL_HAZARDS,
    create_token,
    registered_pair,
    settled_events,
    wait_for_status,
)

pytestmark = pytest.mark.integration

TARGET = "CREATE TABLE t (id integer PRIMARY KEY, a text); CREATE TABLE old (id integer);"
SOURCE = "CREATE TABLE t (id integer PRIMARY KEY, a text, b integer); CREATE INDEX t_a ON t (a);"
SAFE = "CREATE TABLE t (id integer PRIMARY KEY, a text); CREATE TABLE old (id integer, c text);"
# What SOURCE's migration risks: an index build, and dropping table "old" loses its rows for
# good (the reverse script recreates it empty); its rollback drops column b and the index.
DROP_AND_INDEX = ["index_build", "data_loss", "irreversible"]


async def _setup(api, new_database, source_sql=SOURCE, target_sql=TARGET):
    return await registered_pair(api, new_database, source_sql, target_sql)


async def _request(api, source, target, mode="apply", allow=(), **extra):
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": mode, "allow_hazards": list(allow)}
        | extra,
    )
    assert response.status_code == 202, response.text
    return response.json()["migration_id"]


async def test_hazard_not_allowed_waits_for_approval(api, service, new_database):
    source_url, target_url, source, target = await _setup(api, new_database)
    before = await snapshot(target_url)
    # Dropping table "old" loses data; only index builds are allowed.
    migration_id = await _request(api, source, target, allow=["index_build"])
    migration = await wait_for_status(api, migration_id, {"awaiting_approval", "applied"})
    assert migration["status"] == "awaiting_approval"
    assert "data_loss" in migration["hazards"]
    await asyncio.sleep(0.5)
    assert await snapshot(target_url) == before
    oncall = f"oncall-dba-{uuid.uuid4().hex[:6]}"
    approved = await api.post(
        f"/api/v1/migrations/{migration_id}/approve",
        json={},
        headers={"Authorization": f"Bearer {create_token(service, 'approve', oncall)}"},
    )
    assert approved.status_code == 202
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied" and migration["approved_by"] == oncall
    events = await settled_events(api, migration_id)
    approval = next(e for e in events if e["type"] == "migration.approved")
    assert approval["payload"]["approved_by"] == oncall and approval["occurred_at"]
    await assert_same_schema(source_url, target_url)


async def test_allowed_hazards_apply_at_once(api, new_database):
    source_url, target_url, source, target = await _setup(api, new_database)
    migration_id = await _request(api, source, target, allow=DROP_AND_INDEX)
    migration = await wait_for_status(api, migration_id, {"applied", "failed", "awaiting_approval"})
    assert migration["status"] == "applied", migration
    await assert_same_schema(source_url, target_url)


async def test_rejected_plan_ends_and_the_next_request_runs(api, service, new_database):
    source_url, target_url, source, target = await _setup(api, new_database)
    first = await _request(api, source, target, mode="plan")
    second = await _request(api, source, target, allow=DROP_AND_INDEX)
    await wait_for_status(api, first, {"awaiting_approval"})
    # One migration of a target in flight at a time: the second waits in the queue.
    await asyncio.sleep(0.5)
    queued = (await api.get(f"/api/v1/migrations/{second}")).json()
    assert queued["status"] == "requested"
    reviewer = f"reviewer-{uuid.uuid4().hex[:6]}"
    rejected = await api.post(
        f"/api/v1/migrations/{first}/reject",
        json={"comment": "not today"},
        headers={"Authorization": f"Bearer {create_token(service, 'approve', reviewer)}"},
    )
    assert rejected.status_code == 202
    assert (await wait_for_status(api, first, {"rejected"}))["rejected_by"] == reviewer
    migration = await wait_for_status(api, second, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    await assert_same_schema(source_url, target_url)
    again = await api.post(f"/api/v1/migrations/{first}/approve", json={})
    assert again.status_code == 409


async def test_requests_on_one_target_run_in_order_without_going_stale(api, new_database):
    source_url, target_url, source, target = await _setup(api, new_database)
    ids = [await _request(api, source, target, allow=DROP_AND_INDEX) for _ in range(3)]
    results = [await wait_for_status(api, i, {"applied", "failed"}) for i in ids]
    assert [r["status"] for r in results] == ["applied"] * 3, [r["error"] for r in results]
    # The first did the work; the others were compared after it and found nothing to do.
    assert results[0]["statements"] and not results[1]["statements"]
    conn = await asyncpg.connect(target_url)
    try:
        order = await conn.fetch(
            "SELECT migration_id::text FROM _schemashift.history ORDER BY started_at"
        )
    finally:
        await conn.close()
    assert [r[0] for r in order] == ids
    await assert_same_schema(source_url, target_url)


async def test_stale_plan_is_refused(api, new_database):
    _, target_url, source, target = await _setup(api, new_database)
    migration_id = await _request(api, source, target, mode="plan")
    await wait_for_status(api, migration_id, {"awaiting_approval"})
    conn = await asyncpg.connect(target_url)
    try:
        await conn.execute("ALTER TABLE t ADD COLUMN sneaky text")
        before = await snapshot(target_url)
    finally:
        await conn.close()
    await api.post(f"/api/v1/migrations/{migration_id}/approve", json={})
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "failed"
    assert "target changed since the plan" in migration["error"]["reason"]
    assert await snapshot(target_url) == before


async def test_rollback_restores_the_previous_schema(api, new_database):
    source_url, target_url, source, target = await _setup(api, new_database, SOURCE, SAFE)
    original = await snapshot(target_url)
    migration_id = await _request(api, source, target, allow=DROP_AND_INDEX)
    assert (await wait_for_status(api, migration_id, {"applied", "failed"}))["status"] == "applied"
    await assert_same_schema(source_url, target_url)

    response = await api.post(
        f"/api/v1/migrations/{migration_id}/rollback",
        json={"mode": "apply", "allow_hazards": DROP_AND_INDEX, "comment": "orders page broke"},
    )
    assert response.status_code == 202, response.text
    rollback_id = response.json()["migration_id"]
    rolled = await wait_for_status(api, rollback_id, {"applied", "failed", "awaiting_approval"})
    assert rolled["status"] == "applied", rolled
    assert rolled["rollback_of"] == migration_id
    requested = (await api.get(f"/api/v1/migrations/{rollback_id}/events")).json()[0]
    assert requested["payload"]["comment"] == "orders page broke"
    assert requested["payload"]["requested_by"]
    assert await snapshot(target_url) == original
    twice = await api.post(f"/api/v1/migrations/{rollback_id}/rollback", json={})
    assert twice.status_code == 202  # a rollback is a migration like any other


async def test_rollback_refuses_a_target_changed_since(api, new_database):
    _, target_url, source, target = await _setup(api, new_database, SOURCE, SAFE)
    migration_id = await _request(api, source, target, allow=DROP_AND_INDEX)
    await wait_for_status(api, migration_id, {"applied"})
    conn = await asyncpg.connect(target_url)
    try:
        await conn.execute("CREATE TABLE drifted (id integer)")
    finally:
        await conn.close()
    response = await api.post(f"/api/v1/migrations/{migration_id}/rollback", json={"mode": "apply"})
    rollback_id = response.json()["migration_id"]
    rolled = await wait_for_status(api, rollback_id, {"applied", "failed"})
    assert rolled["status"] == "failed"
    assert "cannot roll it back" in rolled["error"]["reason"]


async def test_lock_conflict_is_retried_until_it_clears(api, new_database):
    source_url, target_url, source, target = await _setup(api, new_database)
    blocker = await asyncpg.connect(target_url)
    try:
        # Holds a lock that the migration's ALTER TABLE waits for (500 ms lock timeout).
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE t IN ACCESS SHARE MODE")
        migration_id = await _request(api, source, target, allow=DROP_AND_INDEX)
        await asyncio.sleep(1.0)
        await tx.rollback()
    finally:
        await blocker.close()
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    await assert_same_schema(source_url, target_url)


async def test_lasting_lock_conflict_fails_cleanly_after_bounded_retries(api, new_database):
    _, target_url, source, target = await _setup(api, new_database)
    blocker = await asyncpg.connect(target_url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE t IN ACCESS SHARE MODE")
        before = await snapshot(target_url)
        migration_id = await _request(api, source, target, allow=DROP_AND_INDEX)
        migration = await wait_for_status(api, migration_id, {"applied", "failed"}, timeout=60)
        await tx.rollback()
    finally:
        await blocker.close()
    assert migration["status"] == "failed"
    assert "lock" in migration["error"]["database_error"]
    assert "attempts" in migration["error"]["reason"]
    assert await snapshot(target_url) == before


async def test_rollback_of_an_added_enum_value_rebuilds_the_view_over_it(api, new_database):
    """Adding an enum value runs in place; rolling it back swaps the type, which needs the view
    over its column dropped and created again around the swap."""
    rest = "create table t (id int, m mood); create view v as select id, m from t;"
    source_url, target_url, source, target = await _setup(
        api,
        new_database,
        "create type mood as enum ('a', 'b', 'c');" + rest,
        "create type mood as enum ('a', 'b');" + rest,
    )
    original = await snapshot(target_url)
    migration_id = await _request(api, source, target, allow=["not_transactional"])
    applied = await wait_for_status(api, migration_id, {"applied", "failed", "awaiting_approval"})
    assert applied["status"] == "applied", applied
    assert [s["sql"] for s in applied["statements"]] == [
        "ALTER TYPE public.mood ADD VALUE 'c' AFTER 'b';"
    ]
    await assert_same_schema(source_url, target_url)

    response = await api.post(
        f"/api/v1/migrations/{migration_id}/rollback",
        json={"mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    rolled = await wait_for_status(
        api, response.json()["migration_id"], {"applied", "failed", "awaiting_approval"}
    )
    assert rolled["status"] == "applied", rolled
    assert any(s["sql"] == "DROP VIEW public.v;" for s in rolled["statements"])
    assert await snapshot(target_url) == original
