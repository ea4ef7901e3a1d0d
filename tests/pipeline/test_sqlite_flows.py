"""The whole pipeline with SQLite files as source and target: REST → compare → generate →
execute → track on the real Kafka broker, as for PostgreSQL targets."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.service import (
    ALL_HAZARDS,
    approve,
    register,
    request_plan,
    settled_events,
    wait_for_status,
)
from tests.support.sqlite_snapshot import differences, format_differences, rows, snapshot

pytestmark = pytest.mark.integration

TARGET = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total REAL);
INSERT INTO customers VALUES (1, 'a@example.com');
INSERT INTO orders VALUES (10, 1, 9.5);
"""
SOURCE = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    total REAL CHECK (total >= 0)
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
"""


def _database(path: Path, sql: str) -> str:
    with sqlite3.connect(path) as conn:
        conn.executescript(sql)
    conn.close()
    return f"sqlite://{path}"  # sqlite:///abs/path.db


async def _migrate(api, tmp_path: Path, source_sql: str, target_sql: str) -> tuple[dict, Path]:
    source = await register(api, _database(tmp_path / "source.db", source_sql), "src")
    target_path = tmp_path / "target.db"
    target = await register(api, _database(target_path, target_sql), "tgt")
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    migration_id = response.json()["migration_id"]
    return await wait_for_status(api, migration_id, {"applied", "failed"}), target_path


async def test_apply_mode_makes_a_sqlite_target_match_and_keeps_its_rows(api, tmp_path):
    migration, target_path = await _migrate(api, tmp_path, SOURCE, TARGET)
    assert migration["status"] == "applied", migration["error"]
    assert migration["progress"] == len(migration["statements"]) > 0
    found = differences(snapshot(str(tmp_path / "source.db")), snapshot(str(target_path)))
    assert not found, format_differences(found)
    kept = rows(str(target_path))
    assert kept["orders"] == [(10, 1, 9.5)] and kept["customers"] == [(1, "a@example.com", None)]
    types = [e["type"] for e in await settled_events(api, migration["id"])]
    assert types[0] == "comparison.requested" and types[-1] == "migration.applied"


async def test_plan_mode_on_sqlite_waits_for_approval_then_applies(api, service, tmp_path):
    source = await register(api, _database(tmp_path / "source.db", SOURCE), "src")
    target_path = tmp_path / "target.db"
    target = await register(api, _database(target_path, TARGET), "tgt")
    before = snapshot(str(target_path))
    migration = await request_plan(api, source, target)
    assert migration["status"] == "awaiting_approval", migration["error"]
    assert any("table_rewrite" in s["hazards"] for s in migration["statements"])
    assert differences(before, snapshot(str(target_path))) == [], "a plan changed the file"
    migration = await approve(api, service, migration["id"])
    assert migration["status"] == "applied", migration["error"]
    found = differences(snapshot(str(tmp_path / "source.db")), snapshot(str(target_path)))
    assert not found, format_differences(found)
    assert rows(str(target_path))["orders"] == [(10, 1, 9.5)]


async def test_a_row_that_does_not_fit_fails_the_migration_and_leaves_the_file_as_it_was(
    api, tmp_path
):
    target_sql = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO t VALUES (1, -5);"
    source_sql = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER CHECK (n > 0));"
    target_path = tmp_path / "target.db"
    _database(target_path, target_sql)
    before_schema, before_rows = snapshot(str(target_path)), rows(str(target_path))
    target_path.unlink()
    migration, target_path = await _migrate(api, tmp_path, source_sql, target_sql)
    assert migration["status"] == "failed"
    error = migration["error"]
    assert error["stage"] == "execute" and error["statement"], error
    assert "CHECK" in error["database_error"], error
    assert "row with rowid 1 of t does not fit" in error["database_error"], error
    assert "stay applied" not in migration["error"]["reason"], error
    assert snapshot(str(target_path)) == before_schema and rows(str(target_path)) == before_rows


async def test_a_missing_sqlite_file_fails_in_the_comparator_with_the_reason(api, tmp_path):
    source = await register(api, _database(tmp_path / "source.db", SOURCE), "src")
    target = await register(api, f"sqlite://{tmp_path / 'absent.db'}", "gone")
    response = await api.post(
        "/api/v1/comparisons", json={"source": source, "target": target, "mode": "apply"}
    )
    assert response.status_code == 202, response.text
    migration = await wait_for_status(api, response.json()["migration_id"], {"applied", "failed"})
    assert migration["status"] == "failed" and migration["error"]["stage"] == "compare"
    assert "absent.db" in json.dumps(migration["error"])


async def test_a_relative_sqlite_path_is_refused_at_registration(api):
    response = await api.post(
        "/api/v1/connections", json={"name": "relative-file", "url": "sqlite://relative.db"}
    )
    assert response.status_code in (400, 422), response.text
    assert "absolute" in response.text
