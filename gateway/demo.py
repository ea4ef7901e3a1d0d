"""`schemashift demo`: two sample databases and one migration through the running service.

It creates a source (the desired schema) and a target (an older one), starts `serve`,
registers both through the REST API, asks for a comparison in mode apply, prints the events as
they stream in, and then keeps the service up until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from schemashift.consumers.common.settings import get_settings
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


def _database_url(name: str) -> str:
    url = make_url(get_settings().database_url).set(database=name)
    return url.render_as_string(hide_password=False)


async def create_sample_databases(run: str) -> tuple[str, str]:
    """Fresh demo source and target databases for this run; returns their URLs.

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
    return _database_url(source_db), _database_url(target_db)


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


def demo(*, serve_after: bool = True) -> int:
    """Run the demo; returns the exit code."""
    settings = get_settings()
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    run = time.strftime("%Y%m%d%H%M%S")
    source, target = f"demo-{run}-source", f"demo-{run}-target"
    print("schemashift demo: creating the sample databases", flush=True)
    source_url, target_url = asyncio.run(create_sample_databases(run))
    gw = Gateway(base, asyncio.run(create_demo_token()))
    print(f"schemashift demo: API token (admin scope): {gw.token}", flush=True)
    child = subprocess.Popen([sys.executable, "-m", "schemashift.gateway.cli", "serve"])
    try:
        _wait_healthy(base, child)
        _api(gw, "POST", "/api/v1/connections", {"name": source, "url": source_url})
        _api(gw, "POST", "/api/v1/connections", {"name": target, "url": target_url})
        accepted = _api(
            gw,
            "POST",
            "/api/v1/comparisons",
            {
                "source": source,
                "target": target,
                "mode": "apply",
                # The demo's target holds no data: every hazard may run unattended.
                "allow_hazards": [h.value for h in Hazard],
            },
        )
        migration_id = accepted["migration_id"]
        print(f"schemashift demo: migration {migration_id} requested (mode apply)", flush=True)
        status = _follow(gw, migration_id)
        detail = _api(gw, "GET", f"/api/v1/migrations/{migration_id}")
        print(f"schemashift demo: migration {status}; the script was:", flush=True)
        for statement in detail.get("statements") or []:
            print(f"    {statement['sql']}")
        print(f"  details: {base}/api/v1/migrations/{migration_id}")
        print(f"  API docs: {base}/docs   events: {base}/asyncapi")
        print(f'  try: curl -H "Authorization: Bearer {gw.token}" {base}/api/v1/migrations')
        if not serve_after:
            return 0 if status == "applied" else 1
        print("schemashift demo: the service keeps running; Ctrl-C stops it", flush=True)
        child.wait()
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=60)
