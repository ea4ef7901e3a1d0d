"""The whole pipeline on the real Kafka broker and PostgreSQL: REST → compare → generate →
execute → track, with plan/approve, duplicates, dead letters, failures and replay."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest
from sqlalchemy import func, select

from schemashift.consumers.common.db import create_engine
from schemashift.consumers.common.kafka import make_broker
from schemashift.consumers.common.settings import Settings
from schemashift.consumers.tracker import store
from schemashift.schemas.events import (
    DEAD_LETTER_TOPIC,
    REPLAY_TOPIC,
    EventType,
)
from schemashift.schemas.hazards import Hazard
from tests.conformance.fixtures import ensure_roles
from tests.support.infra import REPO_ROOT, server_names, server_url, with_database
from tests.support.schema_snapshot import assert_same_schema, snapshot
from tests.support.service import (
    ALL_HAZARDS,
    TopicReader,
    approve,
    assert_causal_order,
    assert_complete_once,
    comparison_event,
    create_token,
    live_events,
    register,
    registered_pair,
    settled_events,
    wait_for_status,
    wait_until_consumed,
)

pytestmark = pytest.mark.integration

TARGET = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(100) NOT NULL);
CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer, total numeric(10,2));
CREATE TABLE legacy (id integer);
"""
SOURCE = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    total numeric(12,2) CHECK (total >= 0)
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE "Audit Log" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
"""


async def _pair(new_database, api, source_sql=SOURCE, target_sql=TARGET):
    return await registered_pair(api, new_database, source_sql, target_sql)


async def _request(api, source, target, mode="apply", **extra):
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": mode, "allow_hazards": ALL_HAZARDS}
        | extra,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["links"]["self"] == f"/api/v1/migrations/{body['migration_id']}"
    return body["migration_id"]


async def test_the_migration_is_readable_the_moment_its_202_is_sent(api, service, new_database):
    _, _, source, target = await _pair(new_database, api)
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "plan", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    link = response.headers["Location"]
    # No wait: the gateway recorded the request before answering.
    found = await api.get(link)
    assert found.status_code == 200, found.text
    assert found.json()["status"] in {"requested", "compared", "generated", "awaiting_approval"}
    events = await api.get(f"{link}/events")
    assert events.status_code == 200 and events.json()[0]["type"] == "comparison.requested"
    migration = await wait_for_status(api, found.json()["id"], {"awaiting_approval", "failed"})
    assert migration["status"] == "awaiting_approval", migration["error"]
    # The tracker's copy of the request was a redelivery: every event is stored once.
    assert (await approve(api, service, migration["id"]))["status"] == "applied"
    await assert_complete_once(api, migration["id"])


async def test_apply_mode_makes_the_target_match_the_source(api, new_database):
    source_url, target_url, source, target = await _pair(new_database, api)
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    assert migration["summary"]["total"] > 0
    assert migration["progress"] == len(migration["statements"]) > 0
    await assert_same_schema(source_url, target_url)

    events = await settled_events(api, migration_id)
    types = [e["type"] for e in events]
    for expected in (
        "comparison.requested",
        "diff.computed",
        "script.generated",
        "migration.applied",
    ):
        assert expected in types
    assert types.count("migration.progress") == len(migration["statements"])
    # The history row in the target records it, exactly once.
    conn = await asyncpg.connect(target_url)
    try:
        rows = await conn.fetch("SELECT migration_id FROM _schemashift.history")
    finally:
        await conn.close()
    assert [str(r["migration_id"]) for r in rows] == [migration_id]


async def test_a_source_the_target_server_cannot_follow_fails_with_the_reason(api, new_database):
    """A source on PostgreSQL 18 with a virtual generated column, a target on an older
    server: the comparison fails naming the feature and the versions; nothing runs."""
    if "pg18" not in server_names():
        pytest.skip("no PostgreSQL 18 server (infra up --postgres-versions 18)")
    target_url = await new_database("create table t (a int)")
    conn = await asyncpg.connect(target_url)
    try:
        target_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    if target_major >= 18:
        pytest.skip("the main server is PostgreSQL 18 or later")
    before = await snapshot(target_url)
    admin_url, name = server_url("pg18"), f"ss_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        source_url = with_database(admin_url, name)
        conn = await asyncpg.connect(source_url)
        try:
            await conn.execute("create table t (a int, b int generated always as (a * 2) virtual)")
        finally:
            await conn.close()
        source, target = await register(api, source_url, "src"), await register(api, target_url)
        migration = await wait_for_status(
            api, await _request(api, source, target), {"applied", "failed"}
        )
        assert migration["status"] == "failed"
        error = migration["error"]
        assert error["stage"] == "compare"
        assert "virtual generated columns" in error["reason"], error
        assert f"PostgreSQL {target_major}" in error["reason"]
        assert not migration["statements"]
        assert await snapshot(target_url) == before
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_plan_mode_waits_for_approval(api, service, new_database):
    source_url, target_url, source, target = await _pair(new_database, api)
    before = await snapshot(target_url)
    migration_id = await _request(api, source, target, mode="plan")
    migration = await wait_for_status(api, migration_id, {"awaiting_approval", "failed"})
    assert migration["status"] == "awaiting_approval"
    assert migration["statements"]
    await asyncio.sleep(0.5)
    assert await snapshot(target_url) == before, "a plan must not change the target"

    dba = f"dba-{uuid.uuid4().hex[:6]}"
    response = await api.post(
        f"/api/v1/migrations/{migration_id}/approve",
        json={"comment": "reviewed"},
        headers={"Authorization": f"Bearer {create_token(service, 'approve', dba)}"},
    )
    assert response.status_code == 202, response.text
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    assert migration["approved_by"] == dba
    await assert_same_schema(source_url, target_url)
    again = await api.post(f"/api/v1/migrations/{migration_id}/approve", json={})
    assert again.status_code == 409


async def test_no_difference_applies_nothing(api, new_database):
    _, _target_url, source, target = await _pair(new_database, api, SOURCE, SOURCE)
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied"
    assert migration["statements"] == [] and migration["summary"]["total"] == 0


ORDERS = "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer);"
READER = "ss_pipeline_reader"  # a NOLOGIN role the privileges case grants to (cluster-wide)


async def test_concurrent_indexes_option_builds_the_index_outside_the_transaction(
    api, new_database
):
    source_url, target_url, source, target = await _pair(
        new_database,
        api,
        f"{ORDERS} CREATE INDEX orders_customer_idx ON orders (customer_id);",
        ORDERS,
    )
    # Only the concurrent build's hazard is allowed: a plain CREATE INDEX (index_build) would
    # wait for approval instead of applying.
    migration_id = await _request(
        api,
        source,
        target,
        allow_hazards=[Hazard.NOT_TRANSACTIONAL.value],
        options={"concurrent_indexes": True},
    )
    migration = await wait_for_status(api, migration_id, {"applied", "failed", "awaiting_approval"})
    assert migration["status"] == "applied", migration
    [create] = migration["statements"]
    assert create["sql"].startswith(
        "CREATE INDEX CONCURRENTLY orders_customer_idx ON public.orders"
    )
    assert create["transactional"] is False
    assert migration["hazards"] == [Hazard.NOT_TRANSACTIONAL.value]
    conn = await asyncpg.connect(target_url)
    try:
        # A failed concurrent build leaves an invalid index behind: this one must be usable.
        valid = await conn.fetchval(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = $1::regclass",
            "public.orders_customer_idx",
        )
    finally:
        await conn.close()
    assert valid is True
    await assert_same_schema(source_url, target_url)
    # The options travel from the request through the diff to the generator.
    events = {e["type"]: e for e in await settled_events(api, migration_id)}
    for event_type in ("comparison.requested", "diff.computed"):
        assert events[event_type]["payload"]["options"] == {
            "privileges": False,
            "concurrent_indexes": True,
        }


async def test_rollback_takes_the_concurrent_indexes_option(api, new_database):
    _, target_url, source, target = await _pair(
        new_database,
        api,
        f"{ORDERS} CREATE INDEX orders_customer_idx ON orders (customer_id);",
        ORDERS,
    )
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    response = await api.post(
        f"/api/v1/migrations/{migration_id}/rollback",
        json={
            "mode": "apply",
            "allow_hazards": [Hazard.NOT_TRANSACTIONAL.value],
            "options": {"concurrent_indexes": True},
        },
    )
    assert response.status_code == 202, response.text
    rolled = await wait_for_status(
        api, response.json()["migration_id"], {"applied", "failed", "awaiting_approval"}
    )
    assert rolled["status"] == "applied", rolled
    assert [(s["sql"], s["transactional"]) for s in rolled["statements"]] == [
        ("DROP INDEX CONCURRENTLY public.orders_customer_idx;", False)
    ]
    conn = await asyncpg.connect(target_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('public.orders_customer_idx')") is None
    finally:
        await conn.close()


async def test_privileges_option_grants_what_the_source_grants(api, new_database, database_url):
    await ensure_roles(database_url, [READER])
    _, target_url, source, target = await _pair(
        new_database, api, f"{ORDERS} GRANT SELECT ON orders TO {READER};", ORDERS
    )
    migration_id = await _request(api, source, target, options={"privileges": True})
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    assert [s["sql"] for s in migration["statements"]] == [
        f"GRANT SELECT ON TABLE public.orders TO {READER};"
    ]
    conn = await asyncpg.connect(target_url)
    try:
        assert await conn.fetchval(
            f"SELECT has_table_privilege('{READER}', 'public.orders', 'SELECT')"
        )
    finally:
        await conn.close()


async def test_duplicate_event_is_stored_once_and_applied_once(
    api, new_database, kafka_bootstrap, database_url
):
    source_url, target_url, source, target = await _pair(new_database, api)
    event = comparison_event(source, target)
    broker = make_broker("test", Settings(kafka_bootstrap=kafka_bootstrap))
    await broker.start()
    try:
        copies = [
            await broker.publish(
                event.model_dump_json().encode(),
                topic=event.topic,
                key=event.key,
                headers=event.cloudevents_headers(),
            )
            for _ in range(2)
        ]
    finally:
        await broker.stop()
    migration = await wait_for_status(api, str(event.migration_id), {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    second = copies[-1]
    for group in ("schemashift-tracker", "schemashift-comparator"):
        await wait_until_consumed(
            kafka_bootstrap, group, second.topic, second.partition, second.offset
        )
    await settled_events(api, str(event.migration_id))

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            stored = (
                await conn.execute(
                    select(func.count()).where(store.events.c.event_id == event.event_id)
                )
            ).scalar_one()
            by_type = dict(
                (
                    await conn.execute(
                        select(store.events.c.type, func.count())
                        .where(store.events.c.migration_id == event.migration_id)
                        .group_by(store.events.c.type)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    assert stored == 1
    assert by_type["diff.computed"] == by_type["script.generated"] == 1
    assert by_type["migration.applied"] == 1
    await assert_same_schema(source_url, target_url)


@pytest.mark.parametrize(
    "body",
    [b"{definitely not json", b'{"type": "comparison.requested"}', b"\x00\xff\x10"],
    ids=["not-json", "not-an-event", "binary"],
)
async def test_malformed_message_goes_to_the_dead_letter_topic(service, kafka_bootstrap, body):
    from aiokafka import AIOKafkaProducer

    key = f"bad-{uuid.uuid4().hex}".encode()
    async with TopicReader(kafka_bootstrap, DEAD_LETTER_TOPIC) as reader:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(EventType.COMPARISON_REQUESTED.topic, body, key=key)
        finally:
            await producer.stop()
        # Both roles that read the topic refuse it, each with its own letter.
        records = await reader.read_until(
            lambda rs: (
                {json.loads(r.value)["consumer"] for r in rs if r.key == key}
                >= {"comparator", "tracker"}
            )
        )
    for record in records:
        if record.key != key:
            continue
        letter = json.loads(record.value)
        assert letter["original_topic"] == EventType.COMPARISON_REQUESTED.topic
        assert base64.b64decode(letter["original_value_b64"]) == body
        assert letter["reason"]
        assert dict(record.headers)["schemashift_consumer"] == letter["consumer"].encode()


async def test_pipeline_goes_on_after_a_dead_letter(api, new_database, kafka_bootstrap):
    from aiokafka import AIOKafkaProducer

    _source_url, _target_url, source, target = await _pair(new_database, api)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        # Same key as the target: the same partition as the request that follows it.
        await producer.send_and_wait(
            EventType.COMPARISON_REQUESTED.topic, b"garbage", key=target.encode()
        )
    finally:
        await producer.stop()
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied"


async def test_failing_statement_rolls_back_and_reports_it(api, new_database):
    target_sql = "CREATE TABLE t (id integer PRIMARY KEY, n integer); INSERT INTO t VALUES (1, -5);"
    source_sql = (
        "CREATE TABLE t (id integer PRIMARY KEY, n integer CONSTRAINT n_positive CHECK (n > 0),"
        " added text);"
    )
    _, target_url, source, target = await _pair(new_database, api, source_sql, target_sql)
    before = await snapshot(target_url)
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "failed"
    error = migration["error"]
    assert error["stage"] == "execute"
    assert "n_positive" in error["statement"]
    assert "violated" in error["database_error"]
    assert await snapshot(target_url) == before, "a failed migration must leave no trace"


async def test_unreachable_target_fails_with_a_clear_reason(api, new_database):
    source_url = await new_database(SOURCE)
    source = await register(api, source_url, "src")
    target = await register(api, "postgresql://nobody:Secr3tPw@127.0.0.1:1/none", "gone")
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "failed"
    assert migration["error"]["stage"] == "compare"
    assert "reach" in migration["error"]["reason"]
    assert "Secr3tPw" not in json.dumps(migration)


async def test_replay_publishes_a_migrations_events_in_order(
    api, new_database, kafka_bootstrap, database_url
):
    _, _, source, target = await _pair(new_database, api)
    migration_id = await _request(api, source, target)
    stored = await settled_events(api, migration_id)

    async with TopicReader(kafka_bootstrap, REPLAY_TOPIC) as reader:
        response = await api.post("/api/v1/replays", json={"migration_id": migration_id})
        assert response.status_code == 200, response.text
        assert response.json()["published"] == len(stored)
        records = await reader.read_until(
            lambda rs: (
                sum(json.loads(r.value)["migration_id"] == migration_id for r in rs) >= len(stored)
            )
        )
    replayed = [json.loads(r.value) for r in records]
    replayed = [e for e in replayed if e["migration_id"] == migration_id]
    # One key per target: one partition, so the original order holds on the topic.
    assert [e["event_id"] for e in replayed] == [e["event_id"] for e in stored]
    assert all(e["replayed"] for e in replayed)
    headers = dict(records[-1].headers)
    assert headers["schemashift_replayed"] == b"true"

    await asyncio.sleep(0.5)
    after = (await api.get(f"/api/v1/migrations/{migration_id}/events")).json()
    assert len(after) == len(stored), "a replay must not trigger anything"
    refused = await api.post(
        "/api/v1/replays", json={"migration_id": migration_id, "topic": "schemashift.diff.computed"}
    )
    assert refused.status_code == 400


async def test_cli_replay_of_a_target(api, new_database, kafka_bootstrap, database_url):
    _, _, source, target = await _pair(new_database, api)
    migration_id = await _request(api, source, target)
    stored = await settled_events(api, migration_id)
    async with TopicReader(kafka_bootstrap, REPLAY_TOPIC) as reader:
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "schemashift.gateway.cli", "replay", "--target", target],
            cwd=REPO_ROOT,
            env=os.environ
            | {
                "SCHEMASHIFT_DATABASE_URL": database_url,
                "SCHEMASHIFT_KAFKA_BOOTSTRAP": kafka_bootstrap,
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"replayed {len(stored)} events onto {REPLAY_TOPIC}"
        records = await reader.read_until(
            lambda rs: sum(r.key == target.encode() for r in rs) >= len(stored)
        )
    ids = [json.loads(r.value)["event_id"] for r in records if r.key == target.encode()]
    assert ids == [e["event_id"] for e in stored]


async def test_live_events_stream_until_the_end(api, new_database):
    _, _, source, target = await _pair(new_database, api)
    migration_id = await _request(api, source, target, mode="plan")
    await wait_for_status(api, migration_id, {"awaiting_approval"})
    listener = asyncio.create_task(live_events(api, migration_id))
    await asyncio.sleep(0.3)
    await api.post(f"/api/v1/migrations/{migration_id}/approve", json={})
    kinds = [e["type"] for e in await listener]
    assert kinds[0] == "comparison.requested"
    assert "migration.approved" in kinds and kinds[-1] == "migration.applied"
    assert_causal_order(await listener)


async def test_live_streams_share_one_listening_connection(api, new_database, database_url):
    _, _, source, target = await _pair(new_database, api)
    migration_id = await _request(api, source, target, mode="plan")
    await wait_for_status(api, migration_id, {"awaiting_approval"})
    listeners = [asyncio.create_task(live_events(api, migration_id)) for _ in range(8)]
    await asyncio.sleep(0.5)
    conn = await asyncpg.connect(database_url)
    try:
        listening = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %'"
        )
    finally:
        await conn.close()
    assert listening == 1, f"{listening} connections listen for 8 streams"
    await api.post(f"/api/v1/migrations/{migration_id}/approve", json={})
    streams = await asyncio.gather(*listeners)
    assert all(s[-1]["type"] == "migration.applied" for s in streams)
    assert len({len(s) for s in streams}) == 1, "a stream missed an event"


async def test_rebuild_reproduces_the_migrations_table(api, new_database, database_url):
    _, _, source, target = await _pair(new_database, api)
    migration_id = await _request(api, source, target)
    await settled_events(api, migration_id)
    before = (await api.get(f"/api/v1/migrations/{migration_id}")).json()
    rebuilt = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "schemashift.gateway.cli", "replay", "--rebuild"],
        cwd=REPO_ROOT,
        env=os.environ | {"SCHEMASHIFT_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.startswith("rebuilt the migrations table from ")
    after = (await api.get(f"/api/v1/migrations/{migration_id}")).json()
    assert after == before


async def test_enum_value_added_and_used_in_one_migration(api, new_database):
    target_sql = "CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE p (id int, m mood);"
    source_sql = (
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
        "CREATE TABLE p (id int, m mood NOT NULL DEFAULT 'ok');"
    )
    source_url, target_url, source, target = await _pair(new_database, api, source_sql, target_sql)
    migration_id = await _request(api, source, target)
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    assert any(not s["transactional"] for s in migration["statements"])
    await assert_same_schema(source_url, target_url)


VIEW_TARGET = """
CREATE TABLE items (id integer PRIMARY KEY, price numeric(8,2));
CREATE VIEW priced AS SELECT id, price FROM items;
"""
VIEW_SOURCE = VIEW_TARGET.replace("numeric(8,2)", "numeric(12,2)")


async def test_view_rebuilt_around_a_column_change_waits_unless_allowed(api, service, new_database):
    """Widening a column a view reads rebuilds the view (dependent_rebuild) under a lock
    (long_lock): in mode apply, allowing only the lock leaves the migration waiting for
    approval, untouched; allowing both applies it."""
    source_url, target_url, source, target = await _pair(
        new_database, api, VIEW_SOURCE, VIEW_TARGET
    )
    before = await snapshot(target_url)
    waiting = await _request(api, source, target, allow_hazards=[Hazard.LONG_LOCK.value])
    migration = await wait_for_status(api, waiting, {"awaiting_approval", "applied", "failed"})
    assert migration["status"] == "awaiting_approval", migration
    assert set(migration["hazards"]) == {Hazard.DEPENDENT_REBUILD.value, Hazard.LONG_LOCK.value}
    rebuilt = [s["sql"] for s in migration["statements"] if "dependent_rebuild" in s["hazards"]]
    assert [sql.splitlines()[0] for sql in rebuilt] == [
        "DROP VIEW public.priced;",
        "CREATE VIEW public.priced AS",
    ]
    await asyncio.sleep(0.5)
    assert await snapshot(target_url) == before, "a migration awaiting approval must not run"
    rejected = await api.post(
        f"/api/v1/migrations/{waiting}/reject",
        json={"comment": "rebuilds a view"},
        headers={"Authorization": f"Bearer {create_token(service, 'approve')}"},
    )
    assert rejected.status_code == 202, rejected.text
    await wait_for_status(api, waiting, {"rejected"})

    allowed = await _request(
        api,
        source,
        target,
        allow_hazards=[Hazard.DEPENDENT_REBUILD.value, Hazard.LONG_LOCK.value],
    )
    migration = await wait_for_status(api, allowed, {"applied", "failed", "awaiting_approval"})
    assert migration["status"] == "applied", migration
    assert migration["approved_by"] is None
    await assert_same_schema(source_url, target_url)
