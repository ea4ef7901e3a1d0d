"""A local single-node Apache Kafka (KRaft, combined broker + controller) without Docker.

The broker is not downloaded as a tarball: Maven resolves ``org.apache.kafka:kafka_2.13`` and
its runtime jars from Maven Central (see ``infra/kafka-config/pom.xml``), and we run ``kafka.Kafka``
straight from that classpath. Everything lives under ``<state>/kafka``::

    libs/              runtime jars (cached; ``.complete`` marks a finished download)
    data/              log.dirs, including the KRaft ``__cluster_metadata`` log
    logs/server.log    broker log (log4j2, see ``infra/kafka-config/log4j2.properties``)
    kafka.out          JVM stdout/stderr (crashes, GC warnings)
    server.properties  rendered from ``infra/kafka-config/server.properties``
    cluster.id         the KRaft cluster id the storage was formatted with
    format.json        ports the storage was formatted with

This module only knows how to prepare, start, probe and stop the broker; the component in
infra/components/kafka.py decides when (pid records, idempotency, external brokers).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import string
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemashift.infra.console import progress
from schemashift.infra.processes import pid_alive, port_open, proc_cmdline, terminate

KAFKA_VERSION = "4.4.0"
DEFAULT_PORT = 19092
HOST = "127.0.0.1"
NODE_ID = 1
TOPIC_REPLICATION_FACTOR = 1
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
HEAP = "-Xmx512m"

_TEMPLATES = Path(__file__).resolve().parent / "kafka-config"
POM = _TEMPLATES / "pom.xml"
SERVER_PROPERTIES_TEMPLATE = _TEMPLATES / "server.properties"
LOG4J2_CONFIG = _TEMPLATES / "log4j2.properties"

# Kafka error codes we tolerate when creating topics (the rest are raised).
_TOPIC_ALREADY_EXISTS = 36


class KafkaError(RuntimeError):
    """The local Kafka broker could not be prepared, started, reached or stopped."""


log = progress  # progress line on stderr (stdout stays clean for machine-readable output)


@dataclass(frozen=True)
class KafkaPaths:
    """Where the broker's files live under the state directory."""

    root: Path

    @classmethod
    def for_state(cls, state_dir: Path) -> KafkaPaths:
        """Layout for ``<state_dir>/kafka``."""
        return cls(Path(state_dir).resolve() / "kafka")

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def console_log(self) -> Path:
        return self.root / "kafka.out"

    @property
    def config(self) -> Path:
        return self.root / "server.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.root / "cluster.id"

    @property
    def format_record(self) -> Path:
        return self.root / "format.json"


# --------------------------------------------------------------------------- configuration


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise KafkaError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise KafkaError(f"{name}={port} is out of range")
    return port


def client_port() -> int:
    """PLAINTEXT port: ``SCHEMASHIFT_KAFKA_PORT`` or 19092."""
    return _env_port("SCHEMASHIFT_KAFKA_PORT", DEFAULT_PORT)


def controller_port(port: int) -> int:
    """KRaft controller port: ``SCHEMASHIFT_KAFKA_CONTROLLER_PORT`` or the client port + 1."""
    return _env_port("SCHEMASHIFT_KAFKA_CONTROLLER_PORT", port + 1)


def bootstrap_for(port: int) -> str:
    """The bootstrap address clients use for the local broker."""
    return f"{HOST}:{port}"


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise KafkaError("java not found: Kafka 4.x needs a Java 17+ runtime on PATH or JAVA_HOME")
    return found


def _pom_fingerprint() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- preparation


def resolve_jars(paths: KafkaPaths) -> Path:
    """Download the broker's runtime jars into ``paths.libs`` once (cached).

    The cache is keyed on the pom's content, so bumping the Kafka version re-resolves.
    """
    marker = paths.libs / ".complete"
    fingerprint = f"kafka {KAFKA_VERSION}\npom-sha256 {_pom_fingerprint()}\n"
    if marker.is_file() and marker.read_text() == fingerprint:
        return paths.libs

    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaError("mvn not found: Maven is needed once to fetch the Kafka jars")
    paths.root.mkdir(parents=True, exist_ok=True)
    # Download into a scratch dir and rename, so an interrupted run never leaves a half
    # classpath that a later run would mistake for a complete one.
    staging = paths.root / f"libs.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    log(f"resolving Kafka {KAFKA_VERSION} jars from Maven Central (first run only, ~45 MB)...")
    started = time.monotonic()
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    proc = subprocess.run(
        cmd, cwd=paths.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise KafkaError(
            f"Maven could not resolve the Kafka jars (exit {proc.returncode}):\n{tail}"
        )
    shutil.rmtree(paths.libs, ignore_errors=True)
    staging.rename(paths.libs)
    marker.write_text(fingerprint)
    count = len(list(paths.libs.glob("*.jar")))
    log(f"resolved {count} jars in {time.monotonic() - started:.1f}s -> {paths.libs}")
    return paths.libs


def render_config(paths: KafkaPaths, port: int, cport: int) -> Path:
    """Write ``server.properties`` for these ports from the template (every run: cheap)."""
    template = string.Template(SERVER_PROPERTIES_TEMPLATE.read_text())
    text = template.substitute(
        node_id=NODE_ID, port=port, controller_port=cport, log_dir=str(paths.data)
    )
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(text)
    return paths.config


def _new_cluster_id() -> str:
    # Same shape as Kafka's Uuid.toString(): URL-safe base64 of 16 random bytes, no padding.
    # Kafka never hands out ids starting with '-' (they look like CLI flags), so neither do we.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _java_base(paths: KafkaPaths, *jvm_options: str) -> list[str]:
    return [
        java_executable(),
        *jvm_options,
        f"-Dkafka.logs.dir={paths.logs}",
        f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
        "-Djava.awt.headless=true",
        "-cp",
        # The JVM expands "dir/*" itself; no shell involved.
        f"{paths.libs}/*",
    ]


def format_storage(paths: KafkaPaths, port: int, cport: int) -> bool:
    """Format the KRaft storage once (``kafka-storage.sh format --standalone``).

    Returns True if it formatted, False if the storage was already formatted. Raises if it was
    formatted for a different controller port: a standalone dynamic quorum records the
    controller's endpoint in the metadata log, so moving the port needs a fresh data dir.
    """
    if (paths.data / "meta.properties").is_file():
        if paths.format_record.is_file():
            formatted = json.loads(paths.format_record.read_text())
            if formatted.get("controller_port") != cport:
                raise KafkaError(
                    f"Kafka storage in {paths.data} was formatted for controller port "
                    f"{formatted.get('controller_port')}, now {cport}. Run `down`, delete "
                    f"{paths.data} (this drops all messages), then `up` again."
                )
        return False

    paths.data.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    if paths.cluster_id_file.is_file():
        cluster_id = paths.cluster_id_file.read_text().strip()
    else:
        cluster_id = _new_cluster_id()
        paths.cluster_id_file.write_text(cluster_id + "\n")
    log(f"formatting KRaft storage in {paths.data} (cluster id {cluster_id})")
    cmd = [
        *_java_base(paths),
        "kafka.tools.StorageTool",
        "format",
        "--standalone",
        "--cluster-id",
        cluster_id,
        "--config",
        str(paths.config),
    ]
    proc = subprocess.run(
        cmd, cwd=paths.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise KafkaError(f"kafka StorageTool format failed (exit {proc.returncode}):\n{tail}")
    paths.format_record.write_text(
        json.dumps({"cluster_id": cluster_id, "port": port, "controller_port": cport}) + "\n"
    )
    return True


# --------------------------------------------------------------------------- processes


def is_our_broker(pid: int, paths: KafkaPaths) -> bool:
    """The pid is alive and is a ``kafka.Kafka`` JVM running our config (not a recycled pid)."""
    if not pid_alive(pid):
        return False
    cmdline = proc_cmdline(pid)
    return "kafka.Kafka" in cmdline and str(paths.config) in cmdline


def configured_ports(paths: KafkaPaths) -> tuple[int, int] | None:
    """(client port, controller port) from the rendered server.properties, if any."""
    try:
        text = paths.config.read_text()
    except OSError:
        return None
    found = dict(re.findall(r"(PLAINTEXT|CONTROLLER)://[^:,\s]+:(\d+)", text))
    if "PLAINTEXT" not in found or "CONTROLLER" not in found:
        return None
    return int(found["PLAINTEXT"]), int(found["CONTROLLER"])


def find_our_broker(paths: KafkaPaths) -> int | None:
    """Pid of a live broker running our config, found via /proc (for a lost pid record)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_our_broker(int(entry.name), paths):
            return int(entry.name)
    return None


def start(paths: KafkaPaths) -> int:
    """Start the broker detached (own session, output to ``kafka.out``); return its pid."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    cmd = [
        *_java_base(paths, HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"),
        "kafka.Kafka",
        str(paths.config),
    ]
    with open(paths.console_log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting kafka ===\n".encode())
        out.flush()
        # start_new_session: Ctrl-C in the terminal that ran `up` must not kill the broker,
        # and the broker must outlive this Python process.
        proc = subprocess.Popen(
            cmd,
            cwd=paths.root,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def stop(pid: int, paths: KafkaPaths, timeout: float = STOP_TIMEOUT_S) -> str:
    """SIGTERM the broker, SIGKILL after ``timeout`` seconds. Returns what happened.

    Only signals ``pid`` if it still is our broker, so a stale record never kills a stranger.
    """
    if not is_our_broker(pid, paths):
        return "not running"
    return terminate(pid, "kafka", timeout)


def log_tail(paths: KafkaPaths, lines: int = 15) -> str:
    """The broker's ERROR lines plus the tail of its JVM output, for error messages."""
    parts: list[str] = []
    try:
        errors = [
            line
            for line in paths.server_log.read_text(errors="replace").splitlines()
            if " ERROR " in line or " FATAL " in line or line.startswith("Caused by:")
        ]
    except OSError:
        errors = []
    if errors:
        # The last start's errors are at the end; the stack traces are in the file.
        parts.append(f"--- ERROR lines in {paths.server_log} ---\n" + "\n".join(errors[-6:]))
    try:
        console = paths.console_log.read_text(errors="replace").split("=== ")[-1]
        console_lines = console.strip().splitlines()[1:]  # drop the "starting kafka" header
    except OSError:
        console_lines = []
    if console_lines:
        parts.append(f"--- {paths.console_log} ---\n" + "\n".join(console_lines[-lines:]))
    return "\n".join(parts)


# --------------------------------------------------------------------------- client side


@contextlib.contextmanager
def quiet_aiokafka() -> Iterator[None]:
    """aiokafka logs every refused connection at ERROR; while probing that is expected noise."""
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


async def probe(bootstrap: str, timeout_s: float = 5.0) -> list[str] | None:
    """Return the broker's topic list, or None if it does not answer within ``timeout_s``."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000), client_id="infra"
    )
    with quiet_aiokafka():
        try:
            async with asyncio.timeout(timeout_s):
                await admin.start()
                return list(await admin.list_topics())
        except Exception:
            return None
        finally:
            with contextlib.suppress(Exception):
                await admin.close()


async def wait_ready(
    bootstrap: str,
    *,
    pid: int | None = None,
    paths: KafkaPaths | None = None,
    timeout_s: float = READY_TIMEOUT_S,
) -> None:
    """Wait until the broker answers metadata requests; fail fast if its process dies."""
    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout_s
    where = f" (see {paths.server_log} and {paths.console_log})" if paths else ""
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            tail = log_tail(paths) if paths else ""
            raise KafkaError(f"Kafka exited during startup{where}\n{tail}".rstrip())
        # A plain TCP check first: cheap, and avoids spinning up a client per attempt.
        if port_open(int(port), host or HOST) and await probe(bootstrap, timeout_s=5.0) is not None:
            return
        await asyncio.sleep(0.5)
    tail = log_tail(paths) if paths else ""
    raise KafkaError(
        f"Kafka did not answer on {bootstrap} within {timeout_s:.0f}s{where}\n{tail}".rstrip()
    )


def _topic_error(code: int, topic: str, message: str | None) -> Exception:
    from aiokafka.errors import for_code

    return for_code(code)(f"{topic}: {message or 'error'}")


async def ensure_topics(
    bootstrap: str,
    topics: Sequence[str],
    *,
    partitions: int,
    replication_factor: int = TOPIC_REPLICATION_FACTOR,
    timeout_s: float = 30.0,
) -> tuple[list[str], list[str]]:
    """Create missing topics (and grow under-partitioned ones) idempotently.

    Returns the names of the topics it created and of those it grew. Partition counts are
    explicit because messages are keyed per target connection and spread over ``partitions``
    for ordering + parallelism. (A grown topic sends a target's new messages to another
    partition than its old ones: grow it when no migration is in flight.)
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic

    wanted = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        # list_topics() asks for all topics; asking for specific names could auto-create them
        # with default settings on a broker that has auto.create.topics.enable=true.
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(t, partitions, replication_factor) for t in missing],
                timeout_ms=int(timeout_s * 1000),
            )
            for topic, code, *rest in response.topic_errors:
                if code and code != _TOPIC_ALREADY_EXISTS:
                    raise _topic_error(code, topic, rest[0] if rest else None)

        present = [t for t in wanted if t in existing]
        grow: dict[str, Any] = {}
        if present:
            grow = {
                meta["topic"]: NewPartitions(partitions)
                for meta in await admin.describe_topics(present)
                if not meta["error_code"] and len(meta["partitions"]) < partitions
            }
            if grow:
                await admin.create_partitions(grow, timeout_ms=int(timeout_s * 1000))

        # Creation is asynchronous in KRaft: wait until every partition has a leader so that
        # a producer started right after `up` does not race the metadata propagation.
        deadline = time.monotonic() + timeout_s
        while True:
            metas = await admin.describe_topics(wanted)
            pending = [
                m["topic"]
                for m in metas
                if m["error_code"]
                or len(m["partitions"]) < partitions
                or any(p["leader"] < 0 for p in m["partitions"])
            ]
            if not pending:
                return missing, sorted(grow)
            if time.monotonic() > deadline:
                raise KafkaError(f"topics not ready after {timeout_s:.0f}s: {', '.join(pending)}")
            await asyncio.sleep(0.3)
    finally:
        await admin.close()
