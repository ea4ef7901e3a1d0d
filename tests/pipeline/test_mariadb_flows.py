"""The whole pipeline with MariaDB databases as source and target: REST → compare → generate →
execute → track on the real Kafka broker, as for PostgreSQL targets."""

from __future__ import annotations

import json
import os
import signal
from urllib.parse import urlsplit

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql import introspect_connection
from schemashift.schemas.events import EventType
from tests.support.mysql_engine import open_pair, rows, server_url, snapshot
from tests.support.service import (
    ALL_HAZARDS,
    TopicReader,
    approve,
    assert_complete_once,
    progress_indexes,
    register,
    request_plan,
    settled_events,
    wait_for_every_statement,
    wait_for_progress,
    wait_for_status,
)

pytestmark = pytest.mark.integration

TARGET = """
CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL);
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total DECIMAL(10,2));
CREATE TABLE legacy (id INT);
INSERT INTO customers VALUES (1, 'a@example.com');
"""
SOURCE = """
CREATE TABLE customers (
    id INT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
) COMMENT 'who buys';
CREATE TABLE orders (
    id INT PRIMARY KEY,
    customer_id INT NOT NULL,
    total DECIMAL(12,2) CHECK (total >= 0),
    CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
        ON DELETE CASCADE
);
CREATE INDEX orders_total_idx ON orders (total);
"""


async def _submit(api, source: str, target: str) -> str:
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    return response.json()["migration_id"]


async def _request(api, source: str, target: str) -> dict:
    migration_id = await _submit(api, source, target)
    return await wait_for_status(api, migration_id, {"applied", "failed"})


async def test_apply_mode_makes_a_mariadb_target_match_the_source(api):
    async with open_pair(server_url()) as pair:
        await pair.load(SOURCE, TARGET)
        source = await register(api, pair.source_url, "my-src")
        target = await register(api, pair.target_url, "my-tgt")
        migration = await _request(api, source, target)
        assert migration["status"] == "applied", migration["error"]
        assert migration["progress"] == len(migration["statements"]) > 0
        assert await snapshot(pair.target) == await snapshot(pair.source)
        left = diff(
            await introspect_connection(pair.source), await introspect_connection(pair.target)
        )
        assert left == [], [o.label for o in left]
        history = await rows(pair.target, "SELECT migration_id FROM _schemashift_history")
        assert [str(r["migration_id"]) for r in history] == [migration["id"]]
        events = await settled_events(api, migration["id"])
        assert events[-1]["type"] == "migration.applied"
        password = urlsplit(pair.target_url).password
        assert password and password not in json.dumps(events) + json.dumps(migration)


async def test_plan_mode_on_mariadb_waits_for_approval_then_applies(api, service):
    async with open_pair(server_url()) as pair:
        await pair.load(SOURCE, TARGET)
        before = await snapshot(pair.target)
        source = await register(api, pair.source_url, "my-src")
        target = await register(api, pair.target_url, "my-tgt")
        migration = await request_plan(api, source, target)
        assert migration["status"] == "awaiting_approval", migration["error"]
        assert all("not_transactional" in s["hazards"] for s in migration["statements"])
        assert await snapshot(pair.target) == before, "a plan changed the target"
        migration = await approve(api, service, migration["id"])
        assert migration["status"] == "applied", migration["error"]
        assert await snapshot(pair.target) == await snapshot(pair.source)
        assert (await rows(pair.target, "SELECT id FROM customers")) == [{"id": 1}]


async def test_a_failing_statement_on_mariadb_is_reported_with_the_database_error(api):
    target_sql = "CREATE TABLE t (id INT PRIMARY KEY, n INT); INSERT INTO t VALUES (1, -5);"
    source_sql = "CREATE TABLE t (id INT PRIMARY KEY, n INT, CONSTRAINT n_positive CHECK (n > 0));"
    async with open_pair(server_url()) as pair:
        await pair.load(source_sql, target_sql)
        before = await snapshot(pair.target)
        source = await register(api, pair.source_url, "my-src")
        target = await register(api, pair.target_url, "my-tgt")
        migration = await _request(api, source, target)
        assert migration["status"] == "failed"
        error = migration["error"]
        assert error["stage"] == "execute" and "n_positive" in error["statement"], error
        assert error["database_error"], error
        # The only statement failed: nothing of the migration is left on the target.
        assert await snapshot(pair.target) == before


async def test_executor_killed_mid_migration_on_mariadb_applies_each_statement_once(
    api, service, kafka_bootstrap
):
    # MariaDB commits each DDL statement alone: the restarted executor must go on from the
    # first statement not applied, never run the migration again from the start (its CREATE
    # TABLEs would fail) and never skip one.
    source_sql = "\n".join(
        f"CREATE TABLE t{i} (id BIGINT PRIMARY KEY, v VARCHAR(100), n INT);"
        f"CREATE INDEX t{i}_v ON t{i} (v);"
        for i in range(120)
    )
    async with open_pair(server_url()) as pair:
        await pair.load(source_sql, "")
        source = await register(api, pair.source_url, "my-src")
        target = await register(api, pair.target_url, "my-tgt")
        victim = service.pid("executor")
        async with TopicReader(kafka_bootstrap, EventType.MIGRATION_PROGRESS.topic) as reader:
            migration_id = await _submit(api, source, target)
            before = await wait_for_progress(reader, migration_id, at_least=20)
            os.kill(victim, signal.SIGKILL)
            migration = await assert_complete_once(api, migration_id)
            after = await wait_for_every_statement(reader, migration_id, 120, seen=before)
        assert service.pid("executor") != victim, "the supervisor did not restart the executor"
        assert len(migration["statements"]) == 120
        indexes = progress_indexes(before + after, migration_id)
        assert max(progress_indexes(before, migration_id)) < 119
        assert indexes.count(0) == 1, "the migration ran again from its first statement"
        assert sorted(set(indexes)) == list(range(120))
        applied = (await settled_events(api, migration_id))[-1]
        # The kill came after statement 21 had run, so at least 20 were recorded as applied.
        assert 20 <= applied["payload"]["resumed_from"] < 120, applied
        history = await rows(
            pair.target, "SELECT migration_id, statements, completed FROM _schemashift_history"
        )
        assert [(str(h["migration_id"]), h["statements"], h["completed"]) for h in history] == [
            (migration_id, 120, 120)
        ]
        assert await snapshot(pair.target) == await snapshot(pair.source)
        left = diff(
            await introspect_connection(pair.source), await introspect_connection(pair.target)
        )
        assert left == [], [o.label for o in left]
