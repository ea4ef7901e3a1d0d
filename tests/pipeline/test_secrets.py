"""Secrets: database passwords never leave the encrypted connection registry, and comparing
two databases never changes either of them.

The leak test gives a dedicated PostgreSQL role an unmistakable password, lets it own the
databases of several flows (applied, failed on a statement, failed on a wrong password at
comparison and at execution, rejected, rolled back, replayed), and then looks for that password
(and the wrong ones) everywhere the service writes: every message and header on every
``schemashift.`` topic from the beginning, every API response, the logs of every role, every
span the roles exported (the service traces: tests/pipeline/conftest.py), and every table of the
metadata database.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import stat
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.fernet import Fernet

from schemashift.consumers.common.drivers.mysql import DRIVER as MYSQL
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.comparator.introspect.postgres import introspect_connection
from schemashift.schemas.events import ALL_TOPICS, TOPIC_PREFIX
from tests.support.infra import ENV_FILE, REPO_ROOT, infra_env, with_database
from tests.support.mysql_engine import execute as mysql_execute
from tests.support.mysql_engine import rows as mysql_rows
from tests.support.mysql_engine import server_url as mariadb_server_url
from tests.support.otlp import OtlpReceiver
from tests.support.schema_snapshot import assert_same_schema, snapshot
from tests.support.service import ALL_HAZARDS, Service, settled_events, wait_for_status

pytestmark = pytest.mark.integration


TARGET = """
CREATE TABLE customers (id integer PRIMARY KEY, email varchar(100) NOT NULL);
CREATE TABLE legacy (id integer);
INSERT INTO customers VALUES (1, 'a@example.com');
"""
SOURCE = """
CREATE TABLE customers (
    id integer PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
    id integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    total numeric(12,2) CHECK (total >= 0)
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
"""
# The CHECK cannot be added: the target holds a row that violates it.
FAILING_TARGET = "CREATE TABLE t (id integer PRIMARY KEY, n integer); INSERT INTO t VALUES (1, -5);"
FAILING_SOURCE = (
    "CREATE TABLE t (id integer PRIMARY KEY, n integer CONSTRAINT n_positive CHECK (n > 0));"
)


# --------------------------------------------------------------------------------------------
# Looking for a secret in text


def _b64_needles(secret: str) -> set[str]:
    """Fragments that any base64 (standard or URL-safe) encoding of a text holding ``secret``
    contains, whatever the secret's offset modulo 3."""
    needles = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret.encode()).decode()
        middle = encoded[4 if pad else 0 : -4]
        needles |= {middle, middle.replace("+", "-").replace("/", "_")}
    return needles


_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEXISH = re.compile(r"[0-9a-fA-F-]+")


def _decoded_base64_tokens(text: str) -> list[str]:
    """Every long base64-looking token of ``text``, decoded (when it decodes)."""
    decoded = []
    for token in _B64_TOKEN.findall(text):
        if _HEXISH.fullmatch(token):
            continue  # a UUID or a digest
        body = token.rstrip("=")
        for alphabet in (None, b"-_"):
            try:
                raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=alphabet)
            except (binascii.Error, ValueError):
                continue
            decoded.append(raw.decode("utf-8", errors="replace"))
    return decoded


def find_secrets(text: str, secrets: list[str]) -> list[str]:
    """The secrets that occur in ``text``: raw, percent-encoded or base64-encoded."""
    decoded = "\n".join(_decoded_base64_tokens(text))
    found = []
    for secret in secrets:
        plain = {secret, quote(secret, safe=""), quote(secret), *_b64_needles(secret)}
        if any(n in text for n in plain) or secret in decoded:
            found.append(secret)
    return found


def test_the_leak_detector_finds_encoded_secrets() -> None:
    """The detector itself: a check that cannot fail would prove nothing."""
    secret = f"Leak-Canary-{uuid.uuid4().hex}"
    url = f"postgresql://u:{quote(secret + '/@:%', safe='')}@h/db"
    for shift in ("", "x", "xy"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            assert find_secrets(encode((shift + url).encode()).decode(), [secret]) == [secret]
    assert find_secrets(json.dumps({"u": url}), [secret]) == [secret]
    assert find_secrets("postgresql://u:***@h/db", [secret]) == []


# --------------------------------------------------------------------------------------------
# A login role with an unmistakable password, owning fresh databases


@dataclass
class Canary:
    role: str
    core: str  # the unique part: found raw in any encoding of the password that keeps hex
    password: str
    server_url: str  # superuser URL
    databases: list[str] = field(default_factory=list)

    def url(self, database: str, password: str | None = None) -> str:
        parts = urlsplit(self.server_url)
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{self.role}:{quote(password or self.password, safe='')}@{host}"
        return urlunsplit((parts.scheme, netloc, f"/{database}", "", ""))


def canary_secret(label: str) -> tuple[str, str]:
    """(unique core, password): the password needs percent-encoding in a URL."""
    core = uuid.uuid4().hex
    return core, f"{label}-Canary-{core}!p@ss:w/rd%"


@pytest.fixture
async def canary(database_url: str, new_database) -> AsyncIterator[tuple[Canary, Callable]]:
    """A LOGIN role with a canary password and a factory of databases it owns.

    ``url = await owned(sql)`` creates a database (with ``new_database``), hands it to the role
    and runs ``sql`` in it as the role, so that the role owns every object; returns the role's
    URL of it.
    """
    core, password = canary_secret("Leak")
    role = Canary(f"ss_canary_{uuid.uuid4().hex[:10]}", core, password, database_url)
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE ROLE {role.role} LOGIN PASSWORD '{password}'")
    finally:
        await admin.close()

    async def owned(sql: str) -> str:
        name = (await new_database(prefix="ss_leak")).rpartition("/")[2]
        role.databases.append(name)
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" OWNER TO {role.role}')
        finally:
            await admin.close()
        url = role.url(name)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
        return url

    yield role, owned

    # The role owns the databases: drop them before it (new_database's own drop then no-ops).
    admin = await asyncpg.connect(database_url)
    try:
        for name in role.databases:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f"DROP ROLE IF EXISTS {role.role}")
    finally:
        await admin.close()


# --------------------------------------------------------------------------------------------
# Everything the service said


class Recorder:
    """An httpx client that keeps every response (status line, headers, body) it received."""

    def __init__(self, service: Service) -> None:
        self.responses: list[str] = []
        self.client = httpx.AsyncClient(
            base_url=service.base_url,
            timeout=30,
            headers={"Authorization": f"Bearer {service.admin_token}"},
            event_hooks={"response": [self._keep]},
        )

    async def _keep(self, response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        self.responses.append(
            f"{response.request.method} {response.request.url} -> {response.status_code}\n"
            f"{headers}\n\n{response.text}"
        )


async def read_every_topic(bootstrap: str) -> dict[str, list[str]]:
    """Every record (key, value, headers) of every ``schemashift.`` topic, from the beginning
    to the end offsets as of now; by topic, each record rendered as text."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        topics = {t for t in await consumer.topics() if t.startswith(TOPIC_PREFIX)}
        assert set(ALL_TOPICS) <= topics, f"missing topics: {set(ALL_TOPICS) - topics}"
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(t, p) for t in sorted(topics) for p in consumer.partitions_for_topic(t)
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: dict[str, list[str]] = {t: [] for t in topics}
        pending = {tp for tp in tps if await consumer.position(tp) < end[tp]}
        deadline = time.monotonic() + 60
        while pending:
            assert time.monotonic() < deadline, f"could not read to the end of {pending}"
            batch = await consumer.getmany(*pending, timeout_ms=500, max_records=10_000)
            for tp, items in batch.items():
                for r in items:
                    if r.offset >= end[tp]:
                        continue
                    headers = "\n".join(f"{k}: {v.decode(errors='replace')}" for k, v in r.headers)
                    key = (r.key or b"").decode(errors="replace")
                    value = (r.value or b"").decode(errors="replace")
                    records[tp.topic].append(f"{key}\n{headers}\n{value}")
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return records
    finally:
        await consumer.stop()


async def metadata_rows_with(database_url: str, needles: list[str]) -> dict[str, int]:
    """Rows of every table of the metadata database whose text holds one of ``needles``."""
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        found = {}
        for schema, table in tables:
            count = await conn.fetchval(
                f'SELECT count(*) FROM "{schema}"."{table}" AS r WHERE EXISTS '
                "(SELECT 1 FROM unnest($1::text[]) AS n WHERE strpos(r::text, n) > 0)",
                needles,
            )
            if count:
                found[f"{schema}.{table}"] = count
        return found
    finally:
        await conn.close()


def _secret_key() -> bytes | None:
    env = infra_env() | {k: v for k, v in os.environ.items() if k.startswith("SCHEMASHIFT_")}
    if env.get("SCHEMASHIFT_SECRET_KEY"):
        return env["SCHEMASHIFT_SECRET_KEY"].encode()
    path = Path(env.get("SCHEMASHIFT_SECRET_KEY_FILE") or REPO_ROOT / ".schemashift/secret.key")
    return path.read_bytes().strip() if path.exists() else None


# --------------------------------------------------------------------------------------------
# The leak test


async def _register(api: httpx.AsyncClient, name: str, url: str) -> None:
    response = await api.post("/api/v1/connections", json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    assert "***" in response.json()["url"]


async def _compare(api: httpx.AsyncClient, source: str, target: str, mode: str) -> str:
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": mode, "allow_hazards": ALL_HAZARDS},
    )
    assert response.status_code == 202, response.text
    return response.json()["migration_id"]


async def _spans_of(receiver: OtlpReceiver, migration_ids: Iterable[str]) -> str:
    """Every span the service exported so far, as text, once those of each migration came."""
    wanted = set(migration_ids)
    deadline = time.monotonic() + 30
    while True:
        spans = receiver.received()
        seen = {s.attributes.get("schemashift.migration.id") for s in spans}
        if wanted <= seen or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert wanted <= seen, f"no spans of {wanted - seen}"
    return "\n".join(
        " ".join(
            [s.service, s.name, s.status_message, *(f"{k}={v}" for k, v in s.attributes.items())]
        )
        for s in spans
    )


async def test_passwords_never_leak(
    service: Service,
    canary: tuple[Canary, Callable[[str], Awaitable[str]]],
    kafka_bootstrap: str,
    database_url: str,
    otlp_receiver: OtlpReceiver,
) -> None:
    role, owned = canary
    wrong_core, wrong_password = canary_secret("Wrong")  # refused when comparing
    late_core, late_password = canary_secret("Late")  # refused when executing
    secrets = [role.core, wrong_core, late_core]
    tag = uuid.uuid4().hex[:8]
    names = {k: f"leak-{k}-{tag}" for k in ("src", "tgt", "fsrc", "ftgt", "bad", "late", "rej")}

    source_url = await owned(SOURCE)
    target_url = await owned(TARGET)
    failing_source_url = await owned(FAILING_SOURCE)
    failing_target_url = await owned(FAILING_TARGET)
    late_url = await owned(TARGET)
    rejected_url = await owned(TARGET)
    urls = {
        "src": source_url,
        "tgt": target_url,
        "fsrc": failing_source_url,
        "ftgt": failing_target_url,
        # The right user, a wrong password: the driver's authentication error passes through.
        "bad": role.url(target_url.rpartition("/")[2], wrong_password),
        "late": late_url,
        "rej": rejected_url,
    }

    recorder = Recorder(service)
    api = recorder.client
    migrations: dict[str, str] = {}
    try:
        for key, url in urls.items():
            await _register(api, names[key], url)

        # 1. Applied.
        migrations["applied"] = await _compare(api, names["src"], names["tgt"], "apply")
        applied = await wait_for_status(api, migrations["applied"], {"applied", "failed"})
        assert applied["status"] == "applied", applied["error"]
        await assert_same_schema(source_url, target_url)

        # 2. A statement fails on existing data.
        migrations["statement"] = await _compare(api, names["fsrc"], names["ftgt"], "apply")
        failed = await wait_for_status(api, migrations["statement"], {"applied", "failed"})
        assert failed["status"] == "failed" and failed["error"]["stage"] == "execute", failed

        # 3. The target refuses the password when it is compared.
        migrations["auth_compare"] = await _compare(api, names["src"], names["bad"], "apply")
        failed = await wait_for_status(api, migrations["auth_compare"], {"applied", "failed"})
        assert failed["status"] == "failed" and failed["error"]["stage"] == "compare", failed
        assert "auth" in json.dumps(failed["error"]).lower(), failed["error"]

        # 4. ...and when the approved plan is executed (the connection changed meanwhile).
        migrations["auth_execute"] = await _compare(api, names["src"], names["late"], "plan")
        planned = await wait_for_status(
            api, migrations["auth_execute"], {"awaiting_approval", "failed"}
        )
        assert planned["status"] == "awaiting_approval", planned["error"]
        await _register(api, names["late"], role.url(late_url.rpartition("/")[2], late_password))
        approve = await api.post(f"/api/v1/migrations/{migrations['auth_execute']}/approve")
        assert approve.status_code == 202, approve.text
        failed = await wait_for_status(api, migrations["auth_execute"], {"applied", "failed"})
        assert failed["status"] == "failed" and failed["error"]["stage"] == "execute", failed

        # 5. Rejected.
        migrations["rejected"] = await _compare(api, names["src"], names["rej"], "plan")
        planned = await wait_for_status(
            api, migrations["rejected"], {"awaiting_approval", "failed"}
        )
        assert planned["status"] == "awaiting_approval", planned["error"]
        reject = await api.post(
            f"/api/v1/migrations/{migrations['rejected']}/reject", json={"comment": "no"}
        )
        assert reject.status_code == 202, reject.text
        await wait_for_status(api, migrations["rejected"], {"rejected"})

        # 6. The applied one rolled back, and its events replayed.
        rollback = await api.post(
            f"/api/v1/migrations/{migrations['applied']}/rollback",
            json={"mode": "apply", "allow_hazards": ALL_HAZARDS},
        )
        assert rollback.status_code == 202, rollback.text
        migrations["rollback"] = rollback.json()["migration_id"]
        undone = await wait_for_status(api, migrations["rollback"], {"applied", "failed"})
        assert undone["status"] == "applied", undone["error"]
        for key in ("applied", "statement", "auth_compare", "auth_execute", "rollback"):
            await settled_events(api, migrations[key])
        replay = await api.post("/api/v1/replays", json={"migration_id": migrations["applied"]})
        assert replay.status_code == 200, replay.text

        # Read back everything the API shows about them.
        await api.get("/api/v1/connections")
        await api.get("/api/v1/migrations", params={"limit": 500})
        for key in ("src", "tgt", "bad", "late"):
            await api.get("/api/v1/migrations", params={"target": names[key]})
        for migration_id in migrations.values():
            await api.get(f"/api/v1/migrations/{migration_id}")
            await api.get(f"/api/v1/migrations/{migration_id}/events")
            stream = await api.get(
                f"/api/v1/migrations/{migration_id}/events",
                headers={"Accept": "text/event-stream"},
            )
            assert "event: end" in stream.text
    finally:
        await api.aclose()

    # The engine alone, too: `schemashift diff` with the wrong password exits 2 with a reason.
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemashift.gateway.cli",
        "diff",
        source_url,
        urls["bad"],
        cwd=REPO_ROOT,
        env=service.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    cli_out, cli_err = await asyncio.wait_for(cli.communicate(), 60)
    cli_output = (cli_out + cli_err).decode(errors="replace")
    assert cli.returncode == 2, cli_output

    # Positive controls: the places searched hold this test's traces.
    topics = await read_every_topic(kafka_bootstrap)
    kafka_text = "\n".join(record for records in topics.values() for record in records)
    for migration_id in migrations.values():
        assert migration_id in kafka_text
    responses = "\n".join(recorder.responses)
    assert f"{role.role}:***@" in responses
    assert all(names[key] in responses for key in names)
    logs = service.logs()
    assert logs.strip()

    places = {f"kafka topic {topic}": "\n".join(records) for topic, records in topics.items()}
    places["API responses"] = responses
    places["service logs"] = logs
    places["`schemashift diff` output"] = cli_output
    places["spans"] = await _spans_of(otlp_receiver, migrations.values())
    leaks = {
        place: found for place, text in places.items() if (found := find_secrets(text, secrets))
    }
    assert not leaks, f"passwords leaked into: {leaks}"

    needles = sorted({n for s in secrets for n in {s, *_b64_needles(s)}})
    assert await metadata_rows_with(database_url, needles) == {}
    # The target's own history table holds no credential either.
    target = await asyncpg.connect(with_database(database_url, target_url.rpartition("/")[2]))
    try:
        history = await target.fetch("SELECT h::text AS row FROM _schemashift.history h")
    finally:
        await target.close()
    assert history and not find_secrets("\n".join(r["row"] for r in history), secrets)

    # At rest: the URL is encrypted (Fernet) and only a masked copy is kept for display.
    conn = await asyncpg.connect(database_url)
    try:
        rows = {
            r["name"]: r
            for r in await conn.fetch(
                "SELECT name, url_encrypted, display_url FROM connections WHERE name = ANY($1)",
                list(names.values()),
            )
        }
    finally:
        await conn.close()
    assert set(rows) == set(names.values())
    key = _secret_key()
    final_urls = urls | {"late": role.url(late_url.rpartition("/")[2], late_password)}
    for short, name in names.items():
        row = rows[name]
        assert row["url_encrypted"].startswith("gAAAAA"), "not a Fernet token"
        assert not find_secrets(row["url_encrypted"] + row["display_url"], secrets)
        assert row["display_url"].startswith(f"postgresql://{role.role}:***@")
        if key is not None:
            assert Fernet(key).decrypt(row["url_encrypted"].encode()).decode() == final_urls[short]


MARIADB_TARGET = "CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL);"
MARIADB_SOURCE = """
CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL,
    CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id));
"""
MARIADB_FAILING_TARGET = "CREATE TABLE t (id INT PRIMARY KEY, n INT); INSERT INTO t VALUES (1, -5);"
MARIADB_FAILING_SOURCE = (
    "CREATE TABLE t (id INT PRIMARY KEY, n INT, CONSTRAINT n_pos CHECK (n > 0));"
)


async def test_mariadb_passwords_never_leak(
    service: Service, kafka_bootstrap: str, database_url: str
) -> None:
    """The leak test's flows with a MariaDB user of a canary password: applied, failed on a
    statement, refused at comparison with a wrong password; then the same places searched."""
    server = mariadb_server_url()
    core, password = canary_secret("Maria")
    wrong_core, wrong_password = canary_secret("MariaWrong")
    secrets = [core, wrong_core]
    user = f"leak_{core[:12]}"
    databases = {k: f"ss_leak_{core[:12]}_{k}" for k in ("src", "tgt", "fsrc", "ftgt")}
    schemas = {
        "src": MARIADB_SOURCE,
        "tgt": MARIADB_TARGET,
        "fsrc": MARIADB_FAILING_SOURCE,
        "ftgt": MARIADB_FAILING_TARGET,
    }
    host = urlsplit(server).netloc.rpartition("@")[2]

    def url(database: str, secret: str = password) -> str:
        return f"mariadb://{user}:{quote(secret, safe='')}@{host}/{database}"

    names = {k: f"leak-my-{k}-{core[:8]}" for k in (*databases, "bad")}
    urls = {k: url(db) for k, db in databases.items()} | {
        "bad": url(databases["tgt"], wrong_password)
    }
    async with MYSQL.connect(server, timeout=10) as admin:
        async with admin.cursor() as cur:
            await cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, password))
        for key, name in databases.items():
            await mysql_execute(admin, f"CREATE DATABASE `{name}`")
            await mysql_execute(admin, f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%'")
            await mysql_execute(admin, f"USE `{name}`; {schemas[key]}")
        recorder = Recorder(service)
        api = recorder.client
        migrations: dict[str, str] = {}
        try:
            for key, value in urls.items():
                await _register(api, names[key], value)
            migrations["applied"] = await _compare(api, names["src"], names["tgt"], "apply")
            applied = await wait_for_status(api, migrations["applied"], {"applied", "failed"})
            assert applied["status"] == "applied", applied["error"]
            migrations["statement"] = await _compare(api, names["fsrc"], names["ftgt"], "apply")
            failed = await wait_for_status(api, migrations["statement"], {"applied", "failed"})
            assert failed["status"] == "failed" and failed["error"]["stage"] == "execute", failed
            migrations["auth"] = await _compare(api, names["src"], names["bad"], "apply")
            refused = await wait_for_status(api, migrations["auth"], {"applied", "failed"})
            assert refused["status"] == "failed" and refused["error"]["stage"] == "compare"
            assert "access denied" in json.dumps(refused["error"]).lower(), refused["error"]
            for migration_id in migrations.values():
                await settled_events(api, migration_id)
                await api.get(f"/api/v1/migrations/{migration_id}")
                await api.get(f"/api/v1/migrations/{migration_id}/events")
            await api.get("/api/v1/connections")
        finally:
            await api.aclose()
            history = await mysql_rows(
                admin, f"SELECT * FROM `{databases['tgt']}`.`_schemashift_history`"
            )
            for name in databases.values():
                await mysql_execute(admin, f"DROP DATABASE IF EXISTS `{name}`")
            await mysql_execute(admin, f"DROP USER IF EXISTS '{user}'@'%'")

    topics = await read_every_topic(kafka_bootstrap)
    kafka_text = "\n".join(record for records in topics.values() for record in records)
    assert all(migration_id in kafka_text for migration_id in migrations.values())
    responses = "\n".join(recorder.responses)
    assert f"mariadb://{user}:***@" in responses
    assert [str(h["migration_id"]) for h in history] == [migrations["applied"]]
    places = {
        "kafka": kafka_text,
        "API responses": responses,
        "service logs": service.logs(),
        "target history": json.dumps(history, default=str),
    }
    leaks = {
        place: found for place, text in places.items() if (found := find_secrets(text, secrets))
    }
    assert not leaks, f"passwords leaked into: {leaks}"
    needles = sorted({n for s in secrets for n in {s, *_b64_needles(s)}})
    assert await metadata_rows_with(database_url, needles) == {}


# --------------------------------------------------------------------------------------------
# Passwords in other places of a URL, and URLs the API refuses


async def test_password_in_the_query_string_is_masked(api, database_url) -> None:
    """libpq and asyncpg also take the password as ``?password=``: it must be masked too."""
    core, password = canary_secret("Query")
    role = f"ss_query_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        parts = urlsplit(database_url)
        url = urlunsplit(
            (
                parts.scheme,
                f"{role}@{parts.netloc.rpartition('@')[2]}",
                parts.path,
                f"password={quote(password, safe='')}",
                "",
            )
        )
        conn = await asyncpg.connect(url)  # a working credential, not a made-up one
        await conn.close()
        name = f"leak-query-{uuid.uuid4().hex[:8]}"
        created = await api.post("/api/v1/connections", json={"name": name, "url": url})
        assert created.status_code == 201, created.text
        listed = await api.get("/api/v1/connections")
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()
    assert not find_secrets(created.text, [core]), created.text
    assert not find_secrets(listed.text, [core])


@pytest.mark.parametrize(
    "url",
    [
        "oracle://app:{pw}@db.internal:1521/app",  # unsupported scheme
        "postgresql://app:{pw}@db.internal:5432/" + "x" * 2048,  # too long
    ],
    ids=["unsupported-scheme", "too-long"],
)
async def test_a_refused_url_is_not_echoed(api, url) -> None:
    core, password = canary_secret("Refused")
    response = await api.post(
        "/api/v1/connections",
        json={"name": f"refused-{uuid.uuid4().hex[:8]}", "url": url.format(pw=password)},
    )
    assert response.status_code == 422, response.text
    assert not find_secrets(response.text, [core]), response.text


async def test_a_multi_host_url_is_accepted_or_refused_not_a_server_error(api, service) -> None:
    """``host1:port1,host2:port2`` is a valid libpq/asyncpg URL (failover)."""
    core, password = canary_secret("Multi")
    url = f"postgresql://app:{quote(password, safe='')}@db1.internal:5432,db2.internal:5433/app"
    response = await api.post(
        "/api/v1/connections", json={"name": f"multi-{uuid.uuid4().hex[:8]}", "url": url}
    )
    assert not find_secrets(response.text, [core]) and not find_secrets(service.logs(), [core])
    assert response.status_code in (201, 422), response.text


# --------------------------------------------------------------------------------------------
# Secrets at rest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_and_env_files_are_private() -> None:
    env = infra_env()
    if ENV_FILE.exists():
        # It holds the metadata database's URL with its password.
        assert _mode(ENV_FILE) == 0o600, oct(_mode(ENV_FILE))
    key_file = env.get("SCHEMASHIFT_SECRET_KEY_FILE")
    if not key_file:
        pytest.skip("no key file configured (SCHEMASHIFT_SECRET_KEY is used instead)")
    path = Path(key_file)
    assert path.exists(), key_file
    assert _mode(path) == 0o600, f"{path} has mode {oct(_mode(path))}"
    Fernet(path.read_bytes().strip())  # a valid key


# --------------------------------------------------------------------------------------------
# Comparing never writes


# Created last: from then on, any DDL run in the database is recorded (if it commits).
_DDL_LOG = """
CREATE TABLE ddl_log (tag text, at timestamptz DEFAULT now());
CREATE FUNCTION record_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.ddl_log (tag) VALUES (tg_tag); END $$;
CREATE EVENT TRIGGER record_ddl ON ddl_command_start EXECUTE FUNCTION record_ddl();
"""


async def _ddl_log(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [r["tag"] for r in await conn.fetch("SELECT tag FROM ddl_log")]
    finally:
        await conn.close()


async def _writes(url: str) -> int:
    """Rows inserted, updated and deleted in every table of the database, its catalogs included
    (cumulative statistics; a closed backend has flushed its own). Shared catalogs
    (pg_database, pg_authid, ...) are left out: other databases' activity writes them. So are
    the planner statistics and their TOAST table: autovacuum's ANALYZE rewrites them whenever
    it visits a freshly loaded database, and ANALYZE cannot run in the READ ONLY transaction
    that the witness proves introspection uses."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return await conn.fetchval(
            "WITH statistics AS (SELECT oid, reltoastrelid FROM pg_class"
            "   WHERE oid IN ('pg_statistic'::regclass, 'pg_statistic_ext_data'::regclass))"
            " SELECT coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)"
            " FROM pg_stat_all_tables s JOIN pg_class c ON c.oid = s.relid"
            " WHERE NOT c.relisshared"
            "   AND c.oid NOT IN (SELECT oid FROM statistics)"
            "   AND c.oid NOT IN (SELECT reltoastrelid FROM statistics)"
        )
    finally:
        await conn.close()


class ReadOnlyWitness:
    """Wraps an asyncpg connection: before each of the caller's queries, asks the server
    whether the current transaction is read-only, and keeps the answers."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.seen: list[tuple[str, str, bool]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def _witness(self, sql: str) -> None:
        read_only = await self._conn.fetchval("SELECT current_setting('transaction_read_only')")
        self.seen.append((sql, read_only, self._conn.is_in_transaction()))

    async def execute(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._witness(sql)
        return await self._conn.execute(sql, *args, **kw)

    async def fetch(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._witness(sql)
        return await self._conn.fetch(sql, *args, **kw)

    async def fetchval(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._witness(sql)
        return await self._conn.fetchval(sql, *args, **kw)

    async def fetchrow(self, sql: str, *args: Any, **kw: Any) -> Any:
        await self._witness(sql)
        return await self._conn.fetchrow(sql, *args, **kw)

    async def cursor(self, *a: Any, **kw: Any) -> Any:  # pragma: no cover - not used today
        raise AssertionError("introspection used a cursor: extend the witness")

    def not_read_only(self) -> list[str]:
        return [sql for sql, read_only, in_tx in self.seen if read_only != "on" or not in_tx]


SCHEMA = """
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE SEQUENCE counter;
CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, m mood DEFAULT 'ok');
CREATE INDEX people_name ON people (name);
CREATE VIEW names AS SELECT name FROM people;
CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT x + 1';
INSERT INTO people (name) VALUES ('a'), ('b');
"""


async def test_introspection_runs_in_one_read_only_transaction_and_writes_nothing(
    new_database,
) -> None:
    url = await new_database(SCHEMA + _DDL_LOG)

    # The witness can tell: a plain transaction is seen as writable.
    conn = await asyncpg.connect(url)
    try:
        control = ReadOnlyWitness(conn)
        async with conn.transaction():
            await control.fetchval("SELECT 1")
        assert control.not_read_only() == ["SELECT 1"]
    finally:
        await conn.close()
    # ...and so can the statistics: a write shows.
    before = await _settled_writes(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO people (name) VALUES ('c'); DELETE FROM people WHERE name = 'c'"
        )
    finally:
        await conn.close()
    after_control = await _settled_writes(url, more_than=before + 1)

    conn = await asyncpg.connect(url)
    try:
        witness = ReadOnlyWitness(conn)
        catalog = await introspect_connection(witness)  # type: ignore[arg-type]
    finally:
        await conn.close()
    assert witness.seen, "the witness saw no query"
    assert witness.not_read_only() == [], "queries outside a READ ONLY transaction"
    assert catalog.table("public", "people") is not None

    # The public entry point, on its own connection.
    before = await snapshot(url)
    assert (await introspect(url)).fingerprint() == catalog.fingerprint()
    assert await snapshot(url) == before
    assert await _ddl_log(url) == []
    # Both backends have exited, so their counters are flushed: still only the control's.
    assert await _settled_writes(url) == after_control


async def _settled_writes(url: str, *, more_than: int = -1, timeout: float = 15) -> int:
    """:func:`_writes` once it exceeds ``more_than`` and has not moved for half a second: a
    closed connection's backend flushes its counters as it exits, just after the client left."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        now = await _writes(url)
        if now != last:
            last, since = now, time.monotonic()
        elif now > more_than and time.monotonic() - since >= 0.5:
            return now
        assert time.monotonic() < deadline, f"writes did not settle (last {now})"
        await asyncio.sleep(0.05)


async def test_a_comparison_needs_no_write_privilege_and_changes_nothing(
    api, new_database, database_url
) -> None:
    """Source and target are registered with a role that may only connect and read the
    catalogs (no TEMP, no CREATE): a plan is still computed, and nothing in either changes."""
    reader = f"ss_reader_{uuid.uuid4().hex[:10]}"
    core, password = canary_secret("Reader")
    source_url = await new_database(SOURCE + _DDL_LOG)
    target_url = await new_database(TARGET + _DDL_LOG)
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE ROLE {reader} LOGIN PASSWORD '{password}'")
        for url in (source_url, target_url):
            name = url.rpartition("/")[2]
            await admin.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
            await admin.execute(f'GRANT CONNECT ON DATABASE "{name}" TO {reader}')
    finally:
        await admin.close()
    try:
        role = Canary(reader, core, password, database_url)
        reader_urls = [role.url(u.rpartition("/")[2]) for u in (source_url, target_url)]
        # The role really cannot write.
        conn = await asyncpg.connect(reader_urls[1])
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TEMP TABLE x (id int)")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("INSERT INTO customers VALUES (2, 'b')")
        finally:
            await conn.close()

        before = [await snapshot(u) for u in (source_url, target_url)]
        tag = uuid.uuid4().hex[:8]
        source, target = f"ro-src-{tag}", f"ro-tgt-{tag}"
        await _register(api, source, reader_urls[0])
        await _register(api, target, reader_urls[1])
        migration_id = await _compare(api, source, target, "plan")
        migration = await wait_for_status(api, migration_id, {"awaiting_approval", "failed"})
        assert migration["status"] == "awaiting_approval", migration["error"]
        assert migration["statements"]
        rejected = await api.post(f"/api/v1/migrations/{migration_id}/reject", json={})
        assert rejected.status_code == 202, rejected.text
        await wait_for_status(api, migration_id, {"rejected"})

        assert [await snapshot(u) for u in (source_url, target_url)] == before
        for url in (source_url, target_url):
            assert await _ddl_log(url) == []
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            for url in (source_url, target_url):
                await admin.execute(
                    f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)'
                )
            await admin.execute(f"DROP ROLE IF EXISTS {reader}")
        finally:
            await admin.close()
