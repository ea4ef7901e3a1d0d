"""End-to-end latency of the pipeline: REST trigger → migration.applied, on the real parts.

Starts `schemashift serve` (needs `schemashift infra up`), then:

1. latency: N comparisons one after another on small schemas (each target is first put back
   out of step with its source, outside the timed part), timed from the POST to the moment
   migration.applied is read from Kafka; reports p50/p90/p99/max;
2. throughput: N comparisons over T targets at once (each target's requests in sequence, as
   the service queues them per target), reports migrations per second.

Usage: python bench/pipeline.py [--count 100] [--targets 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemashift.consumers.common.settings import get_settings  # noqa: E402
from schemashift.schemas.events import EventType  # noqa: E402
from schemashift.schemas.hazards import Hazard  # noqa: E402

ALLOW = [h.value for h in Hazard]

SOURCE = """
CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(200) NOT NULL UNIQUE,
                       created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id),
                       amount numeric(12,2) NOT NULL CHECK (amount >= 0), note text);
CREATE INDEX invoices_account_idx ON invoices (account_id);
"""
# What each iteration does to the target first, so that every comparison has work to do.
DRIFT = """
ALTER TABLE invoices DROP COLUMN note;
DROP INDEX invoices_account_idx;
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _url(base: str, db: str) -> str:
    return f"{base.rpartition('/')[0]}/{db}"


async def _create_db(admin_url: str, name: str, ddl: str) -> str:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _url(admin_url, name)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(ddl)
    finally:
        await conn.close()
    return url


class Outcomes:
    """Reads migration.applied/failed from Kafka and resolves one future per migration id."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            EventType.MIGRATION_APPLIED.topic,
            EventType.MIGRATION_FAILED.topic,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex}",
            auto_offset_reset="latest",
            fetch_max_wait_ms=2,
        )
        self.waiting: dict[str, asyncio.Future[tuple[str, float]]] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():
            await asyncio.sleep(0.05)
        for tp in self.consumer.assignment():
            await self.consumer.position(tp)
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for record in self.consumer:
            event = json.loads(record.value)
            future = self.waiting.get(event["migration_id"])
            if future and not future.done():
                future.set_result((event["type"], time.perf_counter()))

    def expect(self, migration_id: str) -> asyncio.Future[tuple[str, float]]:
        future = self.waiting.setdefault(migration_id, asyncio.get_running_loop().create_future())
        return future

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.consumer.stop()


async def _one(
    api: httpx.AsyncClient, outcomes: Outcomes, source: str, target: str, target_url: str
) -> float:
    conn = await asyncpg.connect(target_url)
    try:
        await conn.execute(DRIFT)
    finally:
        await conn.close()
    started = time.perf_counter()
    response = await api.post(
        "/api/v1/comparisons",
        json={
            "source": source,
            "target": target,
            "mode": "apply",
            "allow_hazards": ALLOW,
        },
    )
    response.raise_for_status()
    migration_id = response.json()["migration_id"]
    kind, ended = await asyncio.wait_for(outcomes.expect(migration_id), 60)
    if kind != EventType.MIGRATION_APPLIED.value:
        detail = (await api.get(f"/api/v1/migrations/{migration_id}")).json()
        raise RuntimeError(f"migration {migration_id} {kind}: {detail.get('error')}")
    return (ended - started) * 1000


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench(
    count: int, targets: int, base: str, bootstrap: str, admin_url: str, token: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    source_url = await _create_db(admin_url, f"bench_src_{tag}", SOURCE)
    target_urls = [
        await _create_db(admin_url, f"bench_tgt_{tag}_{i}", SOURCE) for i in range(targets)
    ]
    outcomes = Outcomes(bootstrap)
    await outcomes.start()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as api:
        names = []
        for i, url in enumerate([source_url, *target_urls]):
            name = f"bench-{tag}-{i}"
            (
                await api.post("/api/v1/connections", json={"name": name, "url": url})
            ).raise_for_status()
            names.append(name)
        source, target_names = names[0], names[1:]

        for _ in range(5):  # warm-up: pools, consumer fetch sessions
            await _one(api, outcomes, source, target_names[0], target_urls[0])

        latencies = [
            await _one(api, outcomes, source, target_names[0], target_urls[0]) for _ in range(count)
        ]

        per_target = max(1, count // targets)

        async def lane(i: int) -> list[float]:
            return [
                await _one(api, outcomes, source, target_names[i], target_urls[i])
                for _ in range(per_target)
            ]

        started = time.perf_counter()
        lanes = await asyncio.gather(*(lane(i) for i in range(targets)))
        wall = time.perf_counter() - started
    await outcomes.stop()
    concurrent = [v for lane_values in lanes for v in lane_values]

    print(f"\nsequential latency, REST trigger → migration.applied ({count} migrations)")
    print("| p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---:|---:|---:|---:|---:|")
    print(
        f"| {_pct(latencies, 50):.1f} | {_pct(latencies, 90):.1f} | {_pct(latencies, 99):.1f} "
        f"| {max(latencies):.1f} | {statistics.mean(latencies):.1f} |"
    )
    print(f"\nthroughput: {len(concurrent)} migrations over {targets} targets at once")
    print("| migrations/s | p50 ms | p99 ms | wall s |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {len(concurrent) / wall:.1f} | {_pct(concurrent, 50):.1f} "
        f"| {_pct(concurrent, 99):.1f} | {wall:.2f} |"
    )
    admin = await asyncpg.connect(admin_url)
    try:
        for url in [source_url, *target_urls]:
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--targets", type=int, default=10)
    args = parser.parse_args()
    settings = get_settings()
    port = _free_port()
    env = os.environ | {"SCHEMASHIFT_GATEWAY_PORT": str(port), "SCHEMASHIFT_LOG_LEVEL": "WARNING"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "schemashift.gateway.cli", "serve"], cwd=REPO, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("the service did not start")
            time.sleep(0.3)
        print(f"cores: {os.cpu_count()}; the service runs 5 processes on this machine")
        token = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemashift.gateway.cli",
                "token",
                "create",
                "--name",
                f"bench-{uuid.uuid4().hex[:8]}",
                "--scopes",
                "admin",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        asyncio.run(
            bench(
                args.count,
                args.targets,
                base,
                settings.kafka_bootstrap,
                settings.database_url,
                token,
            )
        )
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
