"""`schemashift demo`: sample databases and migrations through the running service.

For each engine it can reach (PostgreSQL always, MariaDB when `infra up` started one, SQLite
files under the state directory) it creates a source (the desired schema) and a target (an older
one, with a few rows), starts `serve`, registers every database through the REST API, asks for
a comparison of each pair in mode apply, prints the events as they stream in, and then keeps
the service up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from schemashift.consumers.common.drivers.mysql import DRIVER as MYSQL
from schemashift.consumers.common.settings import STATE_DIR, get_settings
from schemashift.schemas.hazards import Hazard

DEMO_PREFIX = "schemashift_demo_"

TARGET_SCHEMA = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email varchar(120) NOT NULL,
    name text
);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL,
    total numeric(10, 2)
);
CREATE TABLE legacy_audit (id integer PRIMARY KEY, note text);
INSERT INTO customers VALUES (1, 'ada@example.com', 'Ada'), (2, 'alan@example.com', 'Alan');
INSERT INTO orders VALUES (1, 1, 12.50), (2, 2, 7.00);
"""

SOURCE_SCHEMA = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email varchar(255) NOT NULL,
    name text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    total numeric(12, 2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    status text NOT NULL DEFAULT 'new'
);
CREATE INDEX orders_customer_status_idx ON orders (customer_id, status);
"""

# The same pair in MariaDB's and SQLite's words. SQLite cannot change a column's type or add a
# foreign key in place: its migration rebuilds both tables, and their rows come through.
MARIADB_TARGET_SCHEMA = TARGET_SCHEMA.replace("numeric", "decimal")
MARIADB_SOURCE_SCHEMA = """
CREATE TABLE customers (
    id int PRIMARY KEY,
    email varchar(255) NOT NULL,
    name text,
    created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE TABLE orders (
    id int PRIMARY KEY,
    customer_id int NOT NULL,
    total decimal(12, 2) NOT NULL DEFAULT 0 CHECK (total >= 0),
    status varchar(20) NOT NULL DEFAULT 'new',
    CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)
        ON DELETE CASCADE
);
CREATE INDEX orders_customer_status_idx ON orders (customer_id, status);
"""
SQLITE_TARGET_SCHEMA = TARGET_SCHEMA
SQLITE_SOURCE_SCHEMA = SOURCE_SCHEMA.replace(
    "timestamptz NOT NULL DEFAULT now()", ("text NOT NULL DEFAULT CURRENT_TIMESTAMP")
)


@dataclass(frozen=True)
class SamplePair:
    """A demo source and target of one engine."""

    engine: str
    source_url: str
    target_url: str


def _database_url(name: str) -> str:
    url = make_url(get_settings().database_url).set(database=name)
    return url.render_as_string(hide_password=False)


async def create_postgres_samples(run: str) -> SamplePair:
    """Fresh PostgreSQL demo source and target databases for this run.

    Each run gets new databases (and the previous runs' are dropped), so that nothing a
    previous run left in flight can act on this run's target.
    """
    source_db, target_db = f"{DEMO_PREFIX}{run}_source", f"{DEMO_PREFIX}{run}_target"
    admin = await asyncpg.connect(get_settings().database_url)
    try:
        old = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", DEMO_PREFIX + "%"
        )
        for row in old:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        for name in (source_db, target_db):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    for name, ddl in ((source_db, SOURCE_SCHEMA), (target_db, TARGET_SCHEMA)):
        conn = await asyncpg.connect(_database_url(name))
        try:
            await conn.execute(ddl)
        finally:
            await conn.close()
    return SamplePair("PostgreSQL", _database_url(source_db), _database_url(target_db))


async def create_mariadb_samples(run: str, server_url: str) -> SamplePair:
    """Fresh MariaDB demo databases on ``server_url`` (the previous runs' are dropped)."""
    names = (f"{DEMO_PREFIX}{run}_source", f"{DEMO_PREFIX}{run}_target")
    urls = [
        make_url(server_url).set(database=n).render_as_string(hide_password=False) for n in names
    ]
    async with MYSQL.connect(server_url, timeout=10) as admin, admin.cursor() as cur:
        await cur.execute(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
            (DEMO_PREFIX + "%",),
        )
        for (old,) in await cur.fetchall():
            await cur.execute(f"DROP DATABASE IF EXISTS `{old}`")
        for name in names:
            await cur.execute(f"CREATE DATABASE `{name}`")
    for url, ddl in zip(urls, (MARIADB_SOURCE_SCHEMA, MARIADB_TARGET_SCHEMA), strict=True):
        async with MYSQL.connect(url, timeout=10) as conn, conn.cursor() as cur:
            for statement in filter(str.strip, ddl.split(";")):
                await cur.execute(statement)
    return SamplePair("MariaDB", urls[0], urls[1])


def create_sqlite_samples(run: str, directory: Path) -> SamplePair:
    """Fresh SQLite demo files in ``directory`` (the previous runs' are removed)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{DEMO_PREFIX}*.db"):
        old.unlink()
    paths = [directory.resolve() / f"{DEMO_PREFIX}{run}_{side}.db" for side in ("source", "target")]
    for path, ddl in zip(paths, (SQLITE_SOURCE_SCHEMA, SQLITE_TARGET_SCHEMA), strict=True):
        with sqlite3.connect(path) as conn:
            conn.executescript(ddl)
        conn.close()
    return SamplePair("SQLite", f"sqlite:///{paths[0]}", f"sqlite:///{paths[1]}")


async def create_samples(run: str) -> list[SamplePair]:
    """One sample pair per engine this machine serves."""
    settings = get_settings()
    pairs = [await create_postgres_samples(run)]
    if settings.mariadb_url:
        pairs.append(await create_mariadb_samples(run, settings.mariadb_url))
    pairs.append(create_sqlite_samples(run, STATE_DIR / "demo"))
    return pairs


async def create_demo_token() -> str:
    """A new admin token for this demo run (printed, so that the user can keep using it)."""
    from schemashift.consumers.common.db import create_engine
    from schemashift.gateway import tokens
    from schemashift.infra.migrate import upgrade_async

    settings = get_settings()
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        name = f"demo-{time.strftime('%Y%m%d%H%M%S')}"
        return await tokens.create(engine, name, {tokens.Scope.ADMIN})
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Gateway:
    """Where the demo's API calls go, and with which token."""

    base: str
    token: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}


def _api(gw: Gateway, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = gw.headers(**{"Content-Type": "application/json"})
    request = urllib.request.Request(gw.base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_healthy(base: str, child: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError("the service exited during start-up; see the lines above")
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5).close()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise RuntimeError(f"the gateway did not answer at {base} within {timeout:.0f}s")


def _follow(gw: Gateway, migration_id: str) -> str:
    """Print the migration's events as server-sent events arrive; returns the final status."""
    request = urllib.request.Request(
        f"{gw.base}/api/v1/migrations/{migration_id}/events",
        headers=gw.headers(Accept="text/event-stream"),
    )
    status, kind = "unknown", ""
    with urllib.request.urlopen(request, timeout=120) as stream:
        for raw in stream:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if kind == "end":
                    return str(data["status"])
                payload = data["payload"]
                detail = ""
                if kind == "migration.progress":
                    detail = f"[{payload['index'] + 1}/{payload['total']}] {payload['sql']}"
                elif kind == "diff.computed":
                    detail = f"{payload['summary']['total']} differences"
                elif kind == "script.generated":
                    detail = f"{len(payload['statements'])} statements"
                elif kind == "migration.failed":
                    detail = payload["reason"]
                print(f"  {kind:<22} {detail}", flush=True)
    return status


def _migrate(gw: Gateway, run: str, pair: SamplePair) -> str:
    """Register ``pair``, migrate its target in mode apply, print what happened; the status."""
    engine = pair.engine.lower()
    source, target = f"demo-{run}-{engine}-source", f"demo-{run}-{engine}-target"
    _api(gw, "POST", "/api/v1/connections", {"name": source, "url": pair.source_url})
    _api(gw, "POST", "/api/v1/connections", {"name": target, "url": pair.target_url})
    accepted = _api(
        gw,
        "POST",
        "/api/v1/comparisons",
        {
            "source": source,
            "target": target,
            "mode": "apply",
            # The demo's targets hold two sample rows: every hazard may run unattended.
            "allow_hazards": [h.value for h in Hazard],
        },
    )
    migration_id = accepted["migration_id"]
    print(
        f"schemashift demo: {pair.engine} migration {migration_id} requested (mode apply)",
        flush=True,
    )
    status = _follow(gw, migration_id)
    detail = _api(gw, "GET", f"/api/v1/migrations/{migration_id}")
    print(f"schemashift demo: {pair.engine} migration {status}; the script was:", flush=True)
    for statement in detail.get("statements") or []:
        print(textwrap.indent(statement["sql"], "    "))
    print(f"  details: {gw.base}/api/v1/migrations/{migration_id}")
    return status


def demo(*, serve_after: bool = True) -> int:
    """Run the demo; returns the exit code."""
    settings = get_settings()
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    run = time.strftime("%Y%m%d%H%M%S")
    print("schemashift demo: creating the sample databases", flush=True)
    pairs = asyncio.run(create_samples(run))
    if not settings.mariadb_url:
        print("schemashift demo: no MariaDB server (SCHEMASHIFT_MARIADB_URL): skipping it")
    gw = Gateway(base, asyncio.run(create_demo_token()))
    print(f"schemashift demo: API token (admin scope): {gw.token}", flush=True)
    child = subprocess.Popen([sys.executable, "-m", "schemashift.gateway.cli", "serve"])
    try:
        _wait_healthy(base, child)
        statuses = {pair.engine: _migrate(gw, run, pair) for pair in pairs}
        summary = ", ".join(f"{engine} {status}" for engine, status in statuses.items())
        print(f"schemashift demo: {summary}")
        print(f"  API docs: {base}/docs   events: {base}/asyncapi")
        print(f'  try: curl -H "Authorization: Bearer {gw.token}" {base}/api/v1/migrations')
        if not serve_after:
            return 0 if set(statuses.values()) == {"applied"} else 1
        print("schemashift demo: the service keeps running; Ctrl-C stops it", flush=True)
        child.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=60)
        print(still_running(), flush=True)


def still_running() -> str:
    """The demo's last line: which local servers it leaves running, and how to stop them."""
    from schemashift.infra.components.interface import State
    from schemashift.infra.manager import status

    ours = [f"{s.name} ({s.address})" for s in status() if s.state is State.RUNNING]
    if not ours:
        return "schemashift demo: the service has stopped"
    return (
        f"schemashift demo: the service has stopped; still running: {', '.join(ours)}; "
        "`schemashift infra down` stops them"
    )
