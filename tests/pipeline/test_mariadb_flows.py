"""The whole pipeline with MariaDB databases as source and target: REST → compare → generate →
execute → track on the real Kafka broker, as for PostgreSQL targets."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql import introspect_connection
from tests.support.mysql_engine import open_pair, rows, server_url, snapshot
from tests.support.service import ALL_HAZARDS, register, settled_events, wait_for_status

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


async def _request(api, source: str, target: str) -> dict:
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    return await wait_for_status(api, response.json()["migration_id"], {"applied", "failed"})


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
