"""The running service and what tests do through it: tokens, connections, migrations and their
events, and the Kafka topics underneath.

The ``service`` and ``api`` fixtures (tests/pipeline/conftest.py) start one `schemashift serve`
for the session and give an HTTP client on its gateway; these functions take them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemashift.consumers.tracker.causal import progress_before
from schemashift.schemas.events import ComparisonRequested, Event, EventType, Mode
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.reserved import HISTORY_SCHEMA
from tests.support.infra import REPO_ROOT

OUTCOMES = (EventType.MIGRATION_APPLIED, EventType.MIGRATION_FAILED, EventType.MIGRATION_REJECTED)

# The roles that serve /metrics on a port of their own (the gateway serves it on its port).
METRICS_ROLES = ("comparator", "generator", "executor", "tracker")

# For requests whose hazards are not under test.
ALL_HAZARDS = [h.value for h in Hazard]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports (held together while chosen, so none twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Service:
    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    pid_dir: Path
    env: dict[str, str]
    admin_token: str = ""

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics_url(self, role: str) -> str:
        """Where ``role`` serves its Prometheus metrics (the port its env gives it)."""
        if role == "gateway":
            return f"{self.base_url}/metrics"
        return f"http://127.0.0.1:{self.env[f'SCHEMASHIFT_{role.upper()}_METRICS_PORT']}/metrics"

    def pid(self, role: str) -> int:
        """The current pid of ``role`` (the supervisor rewrites it when it restarts one)."""
        return int((self.pid_dir / f"{role}.pid").read_text())

    def stop(self) -> None:
        """SIGTERM, as Ctrl-C would; SIGKILL if it has not stopped within a minute."""
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_service(env: dict[str, str], run_dir: Path) -> Service:
    """`schemashift serve` with ``env`` on a free port, its logs and pids under ``run_dir``,
    once its gateway answers."""
    port = free_port()
    env = env | {"SCHEMASHIFT_GATEWAY_PORT": str(port)}
    log_path = run_dir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "schemashift.gateway.cli", "serve", "--pid-dir", str(run_dir)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            pytest.fail(f"serve exited at start-up:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the gateway did not come up:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.3)
    return Service(base, log_path, process, run_dir, env)


def create_token(service: Service, scopes: str, name: str | None = None) -> str:
    """A new API token with ``scopes`` (comma-separated), made with `schemashift token create`."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemashift.gateway.cli",
            "token",
            "create",
            "--name",
            name or f"test-{scopes.replace(',', '-')}-{uuid.uuid4().hex[:8]}",
            "--scopes",
            scopes,
        ],
        cwd=REPO_ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def register(api: httpx.AsyncClient, url: str, prefix: str = "db") -> str:
    """Register ``url`` under a fresh name; returns the name."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    response = await api.post("/api/v1/connections", json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    return name


def comparison_event(source: str, target: str) -> Event:
    """A comparison.requested event in mode apply with every hazard allowed, to publish
    straight onto Kafka (bypassing the gateway)."""
    return Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target=target,
        producer="test",
        payload=ComparisonRequested(
            source=source, target=target, mode=Mode.APPLY, allow_hazards=list(Hazard)
        ),
    )


async def registered_pair(
    api: httpx.AsyncClient, new_database: Any, source_sql: str | None, target_sql: str | None
) -> tuple[str, str, str, str]:
    """Fresh source and target databases with this DDL, registered under fresh names:
    (source_url, target_url, source_name, target_name)."""
    source_url = await new_database(source_sql or None)
    target_url = await new_database(target_sql or None)
    return (
        source_url,
        target_url,
        await register(api, source_url, "src"),
        await register(api, target_url, "tgt"),
    )


async def wait_for_status(
    api: httpx.AsyncClient, migration_id: str, statuses: set[str], timeout: float = 90
) -> dict[str, Any]:
    """Poll the migration until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await api.get(f"/api/v1/migrations/{migration_id}")
        if response.status_code == 200:
            last = response.json()
            if last["status"] in statuses:
                return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"migration {migration_id} did not reach {statuses}: {last}")


def missing_events(events: list[dict[str, Any]]) -> list[str]:
    """What an ended migration's event list still lacks, in words; empty when complete.

    Complete means: an outcome, the cause of every event (the chain back to the request), and
    the progress of every statement that the outcome reports.
    """
    ids = {e["event_id"] for e in events}
    missing = [
        f"the cause of {e['type']} ({e['causation_id']})"
        for e in events
        if e["causation_id"] and e["causation_id"] not in ids
    ]
    outcomes = [Event.model_validate(e) for e in events if e["type"] in OUTCOMES]
    if not outcomes:
        missing.append("an outcome")
    progress = sum(e["type"] == EventType.MIGRATION_PROGRESS for e in events)
    for outcome in outcomes:
        if progress < (expected := progress_before(outcome)):
            missing.append(f"{expected - progress} of {expected} progress events")
    return missing


async def settled_events(
    api: httpx.AsyncClient, migration_id: str, timeout: float = 30
) -> list[dict[str, Any]]:
    """The events of an ended migration, once the tracker has stored every one it must have.

    A migration's events travel on several topics, so the tracker may store them in any
    order: wait until none is missing (:func:`missing_events`), then check their order.
    """
    await wait_for_status(api, migration_id, {"applied", "failed", "rejected"}, timeout)
    deadline = time.monotonic() + timeout
    while True:
        events = (await api.get(f"/api/v1/migrations/{migration_id}/events")).json()
        missing = missing_events(events)
        if not missing:
            assert_causal_order(events)
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"the tracker did not store {missing} of {migration_id}")
        await asyncio.sleep(0.1)


def assert_causal_order(events: list[dict[str, Any]]) -> None:
    """Each event after its cause, progress in statement order, the outcome after them all."""
    seen: set[str] = set()
    for position, event in enumerate(events):
        cause = event["causation_id"]
        assert cause is None or cause in seen, (
            f"event {position} ({event['type']}) before its cause"
        )
        seen.add(event["event_id"])
    kinds = [e["type"] for e in events]
    assert kinds[0] == EventType.COMPARISON_REQUESTED, kinds
    indexes = [e["payload"]["index"] for e in events if e["type"] == EventType.MIGRATION_PROGRESS]
    assert indexes == sorted(indexes), f"progress out of order: {indexes}"
    last_progress = max(
        (i for i, k in enumerate(kinds) if k == EventType.MIGRATION_PROGRESS), default=-1
    )
    assert all(i > last_progress for i, k in enumerate(kinds) if k in OUTCOMES), kinds


async def live_events(
    api: httpx.AsyncClient, migration_id: str, timeout: float = 60
) -> list[dict[str, Any]]:
    """The events that the SSE stream of ``migration_id`` sends until its ``end`` event."""
    events: list[dict[str, Any]] = []

    async def listen() -> None:
        async with api.stream(
            "GET",
            f"/api/v1/migrations/{migration_id}/events",
            headers={"Accept": "text/event-stream"},
        ) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line == "event: end":
                    return
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))

    await asyncio.wait_for(listen(), timeout)
    return events


async def wait_until_consumed(
    bootstrap: str, group: str, topic: str, partition: int, offset: int, timeout: float = 30
) -> None:
    """Wait until consumer group ``group`` has committed past ``offset`` of the partition."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    tp = TopicPartition(topic, partition)
    try:
        deadline = time.monotonic() + timeout
        while True:
            committed = await admin.list_consumer_group_offsets(group, partitions=[tp])
            meta = committed.get(tp)
            if meta is not None and meta.offset > offset:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{group} did not consume {topic}[{partition}]@{offset}")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


class TopicReader:
    """Reads a topic from its current end, to find what a test causes to be published."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
        )

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        if partitions is None:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic) or set()
        assert partitions, f"topic {self.topic} does not exist"
        self.consumer.assign([TopicPartition(self.topic, p) for p in partitions])
        await self.consumer.seek_to_end()
        for tp in self.consumer.assignment():
            await self.consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def read_until(self, predicate: Any, timeout: float = 30) -> list[Any]:
        """Records read until ``predicate(records)`` holds (AssertionError on timeout)."""
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=200)
            for items in batch.values():
                records.extend(items)
            if predicate(records):
                return records
        raise AssertionError(f"{self.topic}: condition not met; read {len(records)} records")


async def assert_complete_once(api, migration_id: str) -> dict:
    """The migration ended applied, and its log holds each of its events exactly once, in the
    order they happened (in the list and in the live stream alike)."""
    migration = await wait_for_status(api, migration_id, {"applied", "failed"}, timeout=180)
    assert migration["status"] == "applied", migration["error"]
    events = await settled_events(api, migration_id, timeout=60)
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event is stored twice"
    kinds = Counter(e["type"] for e in events)
    for kind in ("comparison.requested", "diff.computed", "script.generated", "migration.applied"):
        assert kinds[kind] == 1, f"{kind}: {kinds[kind]} stored"
    # Read again now that every event is stored: after a tracker restart, migration.applied
    # may be projected before script.generated, which brings the statements.
    response = await api.get(f"/api/v1/migrations/{migration_id}")
    assert response.status_code == 200, response.text
    migration = response.json()
    assert migration["status"] == "applied"
    assert kinds["migration.progress"] == len(migration["statements"])
    streamed = [e["event_id"] for e in await live_events(api, migration_id)]
    assert streamed == ids, "the live stream's order differs"
    return migration


def progress_indexes(records, migration_id: str) -> list[int]:
    """The indexes of the statements ``migration_id``'s progress records say ran, in arrival
    order (a later attempt's reports of statements an earlier one applied have no duration)."""
    values = (json.loads(r.value) for r in records)
    return [
        v["payload"]["index"]
        for v in values
        if v["migration_id"] == migration_id and v["payload"]["duration_ms"] is not None
    ]


async def wait_for_progress(reader: TopicReader, migration_id: str, at_least: int) -> list:
    return await reader.read_until(
        lambda records: any(i >= at_least for i in progress_indexes(records, migration_id)),
        timeout=60,
    )


async def wait_for_every_statement(
    reader: TopicReader, migration_id: str, total: int, seen: list
) -> list:
    """The progress records read until, with those ``seen`` before, every statement of
    ``total`` has one (AssertionError if one never comes): a resumed migration reports the
    statements of the attempt before it again after its last one."""
    wanted = set(range(total))
    return await reader.read_until(
        lambda records: wanted <= set(progress_indexes(seen + records, migration_id)),
        timeout=60,
    )


async def request_apply(api: httpx.AsyncClient, source: str, target: str) -> str:
    """Ask for a migration in mode apply with every hazard allowed; its id."""
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    return response.json()["migration_id"]


async def history(target_url: str) -> list[str]:
    """The migration ids in a PostgreSQL target's history table, in the order they started."""
    conn = await asyncpg.connect(target_url)
    try:
        rows = await conn.fetch(
            f"SELECT migration_id::text FROM {HISTORY_SCHEMA}.history ORDER BY started_at"
        )
    finally:
        await conn.close()
    return [r[0] for r in rows]


async def request_plan(api: httpx.AsyncClient, source: str, target: str) -> dict[str, Any]:
    """Ask for a migration in mode plan (every hazard allowed); the migration once it waits
    for approval (or failed)."""
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "plan", "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    migration_id = response.json()["migration_id"]
    return await wait_for_status(api, migration_id, {"awaiting_approval", "failed"})


async def approve(api: httpx.AsyncClient, service: Service, migration_id: str) -> dict[str, Any]:
    """Approve the migration with a token of scope ``approve``; the migration at its end."""
    token = create_token(service, "approve", f"dba-{uuid.uuid4().hex[:6]}")
    response = await api.post(
        f"/api/v1/migrations/{migration_id}/approve",
        json={"comment": "reviewed"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 202, response.text
    return await wait_for_status(api, migration_id, {"applied", "failed"})
