"""The pipeline as its users see it: latency on two clocks, throughput, and idle CPU.

Starts `schemashift serve` (one or more instances of every role; needs `schemashift infra up`)
and measures, on the real broker and databases:

1. latency (default): ``--count`` migrations one after another on each of two pairs, the
   "small" one (two statements) and the "fifteen" one (four tables changed, about fifteen
   statements); each target is first put back out of step with its source, outside the timed
   part. Every migration is timed from the POST on three clocks at once: until
   ``migration.applied`` is read from Kafka, until ``GET /api/v1/migrations/{id}`` (polled
   every 10 ms from the 202 on) shows ``applied``, and until its SSE stream ends. The first GET
   after the 202 is counted by its status code. p50/p90/p99/max per clock.
2. throughput (``--targets 10``, or a list such as ``10,50``): ten migrations per target over
   that many targets at once
   (each target's in sequence, as the service orders them per target), small pair; migrations
   per second and the user's p50/p99 (POST to the end of the SSE stream).
3. idle (``--idle 60``, instead of 1 and 2): CPU time of every role, Kafka, PostgreSQL and
   MariaDB over that many seconds with no request, as a share of one core.

The service logs at WARNING (``SCHEMASHIFT_BENCH_LOG_LEVEL`` changes it). ``--serve-python``
and ``--serve-cwd`` serve another checkout's code (its venv's python and
its folder) with this script's clocks, for figures of before and after measured alike.

Usage: python bench/pipeline.py [--count 40] [--targets 10] [--instances 2] [--idle 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.engine import create_db, drop_dbs  # noqa: E402
from schemashift.consumers.common.settings import get_settings  # noqa: E402
from schemashift.gateway.supervisor import ROLES  # noqa: E402
from schemashift.schemas.events import EventType  # noqa: E402
from schemashift.schemas.hazards import Hazard  # noqa: E402

ALLOW = [h.value for h in Hazard]
POLL_S = 0.010


@dataclass(frozen=True)
class Pair:
    """A source schema and what each iteration undoes of it in the target first."""

    name: str
    source: str
    drift: str


SMALL = Pair(
    "small",
    """
CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(200) NOT NULL UNIQUE,
                       created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id),
                       amount numeric(12,2) NOT NULL CHECK (amount >= 0), note text);
CREATE INDEX invoices_account_idx ON invoices (account_id);
""",
    "ALTER TABLE invoices DROP COLUMN note; DROP INDEX invoices_account_idx;",
)
FIFTEEN = Pair(
    "fifteen",
    """
CREATE TABLE accounts (id bigint PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, name text,
                       created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id),
                       amount numeric(12,2) NOT NULL CHECK (amount >= 0), note text, due date);
CREATE INDEX invoices_account_idx ON invoices (account_id);
CREATE INDEX invoices_due_idx ON invoices (due);
CREATE TABLE payments (id bigint PRIMARY KEY, invoice_id bigint NOT NULL REFERENCES invoices (id),
                       paid_at timestamptz, method text NOT NULL DEFAULT 'card');
CREATE INDEX payments_invoice_idx ON payments (invoice_id);
CREATE TABLE products (id bigint PRIMARY KEY, sku text NOT NULL UNIQUE, price numeric(10,2),
                       active boolean NOT NULL DEFAULT true);
CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), what text);
""",
    """
ALTER TABLE accounts DROP COLUMN name, DROP COLUMN created_at;
ALTER TABLE invoices DROP COLUMN note, DROP COLUMN due;
DROP INDEX invoices_account_idx;
ALTER TABLE payments DROP COLUMN method, ALTER COLUMN paid_at TYPE timestamp;
DROP INDEX payments_invoice_idx;
ALTER TABLE products DROP CONSTRAINT products_sku_key, ALTER COLUMN price TYPE numeric(8,2),
    DROP COLUMN active;
""",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -------------------------------------------------------------------------------------------
# The service under test


@dataclass
class Stack:
    """The running `serve` instances: their gateways and where each keeps its roles' pids."""

    bases: list[str]
    pid_dirs: list[Path]
    processes: list[subprocess.Popen[bytes]]
    token: str = ""

    def role_pids(self) -> dict[str, int]:
        """``role#instance`` → pid, and each supervisor's."""
        pids = {}
        for n, (pid_dir, process) in enumerate(zip(self.pid_dirs, self.processes, strict=True)):
            pids[f"supervisor#{n + 1}"] = process.pid
            for role in ROLES:
                path = pid_dir / f"{role}.pid"
                if path.exists():
                    pids[f"{role}#{n + 1}"] = int(path.read_text())
        return pids


@contextlib.contextmanager
def running_stack(instances: int, python: str, cwd: Path) -> Iterator[Stack]:
    """``instances`` `schemashift serve` processes on free ports, stopped on exit."""
    folder = Path(tempfile.mkdtemp(prefix="schemashift-bench-"))
    bases, pid_dirs, processes = [], [], []
    try:
        for n in range(instances):
            port = _free_port()
            env = os.environ | {
                "SCHEMASHIFT_GATEWAY_PORT": str(port),
                "SCHEMASHIFT_LOG_LEVEL": os.environ.get("SCHEMASHIFT_BENCH_LOG_LEVEL", "WARNING"),
            }
            pid_dir = folder / f"instance-{n + 1}"
            command = [python, "-m", "schemashift.gateway.cli", "serve", "--pid-dir", str(pid_dir)]
            processes.append(subprocess.Popen(command, cwd=cwd, env=env))
            bases.append(f"http://127.0.0.1:{port}")
            pid_dirs.append(pid_dir)
        for base, process in zip(bases, processes, strict=True):
            _wait_healthy(base, process)
        stack = Stack(bases, pid_dirs, processes)
        stack.token = subprocess.run(
            [
                python,
                "-m",
                "schemashift.gateway.cli",
                "token",
                "create",
                "--name",
                f"bench-{uuid.uuid4().hex[:8]}",
                "--scopes",
                "admin",
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        yield stack
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the service at {base} did not start")


# -------------------------------------------------------------------------------------------
# Databases


@dataclass
class Databases:
    """A source and targets of one pair, registered with the gateway, and a connection to each
    target for the benchmark's own changes (the user's side: not what is measured, so it does
    not pay for a new connection every time)."""

    pair: Pair
    source: str
    targets: list[str]
    drifters: list[asyncpg.Connection]
    urls: list[str] = field(default_factory=list)

    async def drop(self, admin_url: str) -> None:
        await asyncio.gather(*(conn.close() for conn in self.drifters))
        await drop_dbs(admin_url, [url.rpartition("/")[2] for url in self.urls])


async def _databases(api: httpx.AsyncClient, admin_url: str, pair: Pair, count: int) -> Databases:
    tag = uuid.uuid4().hex[:6]
    urls = [await create_db(admin_url, f"bench_{pair.name}_{tag}_src", [pair.source])]
    urls += [
        await create_db(admin_url, f"bench_{pair.name}_{tag}_{i}", [pair.source])
        for i in range(count)
    ]
    names = []
    for i, url in enumerate(urls):
        name = f"bench-{pair.name}-{tag}-{i}"
        response = await api.post("/api/v1/connections", json={"name": name, "url": url})
        response.raise_for_status()
        names.append(name)
    drifters = [await asyncpg.connect(url) for url in urls[1:]]
    return Databases(pair, names[0], names[1:], drifters, urls)


# -------------------------------------------------------------------------------------------
# The clocks


class Outcomes:
    """Reads migration.applied/failed from Kafka and resolves one future per migration id."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            EventType.MIGRATION_APPLIED.topic,
            EventType.MIGRATION_FAILED.topic,
            bootstrap_servers=bootstrap,
            group_id=f"bench-{uuid.uuid4().hex}",
            auto_offset_reset="latest",
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
            future = self.expect(event["migration_id"])
            if not future.done():
                future.set_result((event["type"], time.perf_counter()))

    def expect(self, migration_id: str) -> asyncio.Future[tuple[str, float]]:
        return self.waiting.setdefault(migration_id, asyncio.get_running_loop().create_future())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.consumer.stop()


async def _poll(api: httpx.AsyncClient, migration_id: str) -> tuple[int, str, float]:
    """GET the migration every 10 ms until it ends: (first status code, status, when)."""
    first = 0
    while True:
        response = await api.get(f"/api/v1/migrations/{migration_id}")
        first = first or response.status_code
        if response.status_code == 200:
            status = response.json()["status"]
            if status in ("applied", "failed"):
                return first, status, time.perf_counter()
        await asyncio.sleep(POLL_S)


async def _stream_end(api: httpx.AsyncClient, migration_id: str) -> float:
    """Follow the migration's SSE stream (retrying while it is not found) until it ends."""
    path = f"/api/v1/migrations/{migration_id}/events"
    while True:
        async with api.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
            if response.status_code == 200:
                async for line in response.aiter_lines():
                    if line == "event: end":
                        return time.perf_counter()
                continue  # the stream closed before its end: follow it again
        await asyncio.sleep(POLL_S)


@dataclass
class Timing:
    migration_id: str
    post_ms: float
    kafka_ms: float
    poll_ms: float | None
    sse_ms: float
    first_get: int | None
    statements: int


async def _migrate(
    api: httpx.AsyncClient,
    outcomes: Outcomes,
    dbs: Databases,
    lane: int,
    *,
    poll: bool,
) -> Timing:
    await dbs.drifters[lane].execute(dbs.pair.drift)
    started = time.perf_counter()
    response = await api.post(
        "/api/v1/comparisons",
        json={
            "source": dbs.source,
            "target": dbs.targets[lane],
            "mode": "apply",
            "allow_hazards": ALLOW,
        },
    )
    response.raise_for_status()
    posted = time.perf_counter()
    migration_id = response.json()["migration_id"]
    watchers = [outcomes.expect(migration_id), _stream_end(api, migration_id)]
    if poll:
        watchers.append(_poll(api, migration_id))
    results = await asyncio.wait_for(asyncio.gather(*watchers), 120)
    kind, kafka_at = results[0]
    if kind != EventType.MIGRATION_APPLIED.value:
        detail = (await api.get(f"/api/v1/migrations/{migration_id}")).json()
        raise RuntimeError(f"migration {migration_id} {kind}: {detail.get('error')}")
    first_get, poll_at = (results[2][0], results[2][2]) if poll else (None, None)
    detail = (await api.get(f"/api/v1/migrations/{migration_id}")).json()

    def ms(at: float) -> float:
        return (at - started) * 1000

    return Timing(
        migration_id=migration_id,
        post_ms=ms(posted),
        kafka_ms=ms(kafka_at),
        poll_ms=ms(poll_at) if poll_at is not None else None,
        sse_ms=ms(results[1]),
        first_get=first_get,
        statements=len(detail.get("statements") or []),
    )


async def _timeline(api: httpx.AsyncClient, migration_id: str) -> None:
    """Where one migration's time went: each stored event's ``occurred_at`` after the request
    (progress events folded into one line)."""
    events = (await api.get(f"/api/v1/migrations/{migration_id}/events")).json()
    start = datetime.fromisoformat(events[0]["occurred_at"])
    steps: list[str] = []
    progress = [e for e in events if e["type"] == "migration.progress"]
    for event in events:
        at = (datetime.fromisoformat(event["occurred_at"]) - start).total_seconds() * 1000
        if event["type"] != "migration.progress":
            steps.append(f"{event['type']} +{at:.0f}")
        elif event is progress[0]:
            steps.append(f"progress 1/{len(progress)} +{at:.0f}")
        elif event is progress[-1]:
            steps.append(f"progress {len(progress)}/{len(progress)} +{at:.0f}")
    print(f"timeline of a median migration (ms after the request): {', '.join(steps)}")


def _row(name: str, values: list[float]) -> str:
    return (
        f"| {name} | {_pct(values, 50):.0f} | {_pct(values, 90):.0f} | {_pct(values, 99):.0f} "
        f"| {max(values):.0f} |"
    )


async def latency(stack: Stack, count: int, bootstrap: str, admin_url: str) -> None:
    """Sequential migrations on each pair, timed on the three clocks."""
    outcomes = Outcomes(bootstrap)
    await outcomes.start()
    headers = {"Authorization": f"Bearer {stack.token}"}
    async with httpx.AsyncClient(base_url=stack.bases[0], timeout=60, headers=headers) as api:
        for pair in (SMALL, FIFTEEN):
            dbs = await _databases(api, admin_url, pair, 1)
            for _ in range(5):  # warm-up: pools, fetch sessions
                await _migrate(api, outcomes, dbs, 0, poll=True)
            timings = [await _migrate(api, outcomes, dbs, 0, poll=True) for _ in range(count)]
            await dbs.drop(admin_url)
            statements = sorted({t.statements for t in timings})
            found = sum(t.first_get == 200 for t in timings)
            print(
                f"\n{pair.name} pair ({'/'.join(map(str, statements))} statements), {count} "
                f"migrations one after another; first GET after the 202: {found} of {count} "
                "answered 200"
            )
            print("| clock, from the POST | p50 ms | p90 ms | p99 ms | max ms |")
            print("|---|---:|---:|---:|---:|")
            print(_row("the 202 answer", [t.post_ms for t in timings]))
            print(_row("`migration.applied` read from Kafka", [t.kafka_ms for t in timings]))
            print(_row("API shows `applied` (GET every 10 ms)", [t.poll_ms or 0 for t in timings]))
            print(_row("SSE stream ends", [t.sse_ms for t in timings]))
            await _timeline(api, timings[len(timings) // 2].migration_id)
    await outcomes.stop()


async def throughput(
    stack: Stack, targets: int, bootstrap: str, admin_url: str
) -> dict[str, float]:
    """Ten migrations per target over ``targets`` targets at once; prints the table's row and
    returns the CPU milliseconds each process spent per migration."""
    outcomes = Outcomes(bootstrap)
    await outcomes.start()
    headers = {"Authorization": f"Bearer {stack.token}"}
    limits = httpx.Limits(max_connections=4 * targets + 10)
    async with httpx.AsyncClient(
        base_url=stack.bases[0], timeout=120, headers=headers, limits=limits
    ) as api:
        dbs = await _databases(api, admin_url, SMALL, targets)
        await asyncio.gather(*(_migrate(api, outcomes, dbs, i, poll=False) for i in range(targets)))

        async def lane(i: int) -> list[Timing]:
            return [await _migrate(api, outcomes, dbs, i, poll=False) for _ in range(10)]

        components = _components(stack)
        cpu_before = _cpu(components)
        started = time.perf_counter()
        lanes = await asyncio.gather(*(lane(i) for i in range(targets)))
        wall = time.perf_counter() - started
        cpu_used = _cpu(components, since=cpu_before)
        await dbs.drop(admin_url)
    await outcomes.stop()
    user = [t.sse_ms for lane_timings in lanes for t in lane_timings]
    print(
        f"| {len(stack.bases)} | {len(user)} over {targets} | {len(user) / wall:.1f} "
        f"| {_pct(user, 50):.0f} | {_pct(user, 99):.0f} | {wall:.1f} |"
    )
    return {name: 1000 * used / len(user) for name, used in cpu_used.items()}


# -------------------------------------------------------------------------------------------
# Idle CPU


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rpartition(")")[2].split()[1]
                )
    found, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _infra_pids() -> dict[str, int]:
    run = Path(os.environ.get("SCHEMASHIFT_STATE_DIR", REPO / ".schemashift")) / "run"
    pids = {}
    for component in ("kafka", "postgres", "mariadb"):
        path = run / f"{component}.json"
        if path.exists():
            pids[component] = int(json.loads(path.read_text())["pid"])
    return pids


def _components(stack: Stack) -> dict[str, list[int]]:
    """The processes of each role (of every instance), of Kafka, PostgreSQL and MariaDB, and of
    this benchmark's client."""
    components: dict[str, list[int]] = {}
    for name, pid in stack.role_pids().items():
        components.setdefault(name.split("#")[0], []).append(pid)
    components |= {name: _tree(pid) for name, pid in _infra_pids().items()}
    components["benchmark client"] = [os.getpid()]
    return components


def _cpu(
    components: dict[str, list[int]], since: dict[str, float] | None = None
) -> dict[str, float]:
    """CPU seconds of each component (minus ``since``)."""
    now = {name: sum(map(_cpu_seconds, pids)) for name, pids in components.items()}
    return {name: value - (since or {}).get(name, 0.0) for name, value in now.items()}


def idle(stack: Stack, seconds: float) -> None:
    """CPU of every process of the stack over ``seconds`` without a request."""
    time.sleep(10)  # past start-up: group joins, the first metadata requests
    components = _components(stack)
    components.pop("benchmark client")
    before = _cpu(components)
    time.sleep(seconds)
    used = _cpu(components, since=before)
    print(f"\nidle for {seconds:.0f} s: CPU time as a share of one core")
    print("| process | CPU % |")
    print("|---|---:|")
    for name, value in used.items():
        print(f"| {name} | {100 * value / seconds:.1f} |")
    stack_total = sum(v for n, v in used.items() if n != "mariadb")
    print(f"| **roles, Kafka and PostgreSQL** | **{100 * stack_total / seconds:.1f}** |")
    if "mariadb" in used:
        print(f"| with MariaDB | {100 * sum(used.values()) / seconds:.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--count", type=int, default=40, help="migrations per latency pair")
    # 50 targets are 51 databases of the one local server (it allows 400 connections).
    parser.add_argument("--targets", default="10", help="throughput runs (targets at once)")
    parser.add_argument("--instances", type=int, default=1, help="`serve` instances")
    parser.add_argument("--idle", type=float, help="measure idle CPU for this many seconds")
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--serve-python", default=sys.executable)
    parser.add_argument("--serve-cwd", type=Path, default=REPO)
    args = parser.parse_args()
    # Another checkout's roles find this one's infrastructure: its env file, exported.
    env_file = REPO / ".schemashift" / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                os.environ.setdefault(key.strip(), value.strip())
    settings = get_settings()
    print(f"cores: {os.cpu_count()}; {args.instances} instance(s) of every role on this machine")
    with running_stack(args.instances, args.serve_python, args.serve_cwd) as stack:
        if args.idle:
            idle(stack, args.idle)
            return 0
        if not args.no_latency:
            asyncio.run(latency(stack, args.count, settings.kafka_bootstrap, settings.database_url))
        targets = [int(t) for t in args.targets.split(",") if t]
        if targets:
            print("\nthroughput, small pair, ten migrations per target (user's clock: SSE end)")
            print("| instances | migrations | per second | p50 ms | p99 ms | wall s |")
            print("|---:|---|---:|---:|---:|---:|")
        bootstrap, admin_url = settings.kafka_bootstrap, settings.database_url
        spent = [(n, asyncio.run(throughput(stack, n, bootstrap, admin_url))) for n in targets]
        if spent:
            print("\nwhere the time goes: CPU ms per migration (throughput runs)")
            print("| process | " + " | ".join(f"{count} targets" for count, _ in spent) + " |")
            print("|---|" + "---:|" * len(spent))
            for name in spent[0][1]:
                print(f"| {name} | " + " | ".join(f"{cpu[name]:.0f}" for _, cpu in spent) + " |")
            totals = " | ".join(f"**{sum(cpu.values()):.0f}**" for _, cpu in spent)
            print(f"| **all** | {totals} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
