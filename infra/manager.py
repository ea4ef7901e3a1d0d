"""Bring the local infrastructure schemashift needs up and down: Kafka (KRaft) and PostgreSQL.

Public API (used by ``python -m infra`` and ``schemashift infra``)::

    up(state_dir=None, *, kafka=True, postgres=True, topics=None) -> dict[str, str]
    down(state_dir=None, *, kafka=True, postgres=True) -> None
    status(state_dir=None) -> list[tuple[str, str, str]]

All three are synchronous (they run their own event loop, in a worker thread if called from
inside a running loop) and raise :class:`InfraError` with a readable message on failure.

State lives in ``<repo>/.schemashift`` by default (``SCHEMASHIFT_STATE_DIR`` overrides)::

    env                  SCHEMASHIFT_KAFKA_BOOTSTRAP=... / SCHEMASHIFT_DATABASE_URL=... (0600)
    pgpass               generated password of the ``schemashift`` role (0600)
    run/kafka.json       pid record of the broker we started (removed by ``down``)
    run/postgres.json    pid record of the postmaster we started (removed by ``down``)
    kafka/, postgres/    see infra/kafka.py and infra/postgres.py

Environment: ``SCHEMASHIFT_KAFKA_PORT`` (19092), ``SCHEMASHIFT_PG_PORT`` (54329). If
``SCHEMASHIFT_KAFKA_BOOTSTRAP`` / ``SCHEMASHIFT_DATABASE_URL`` point somewhere other than what
``up`` itself would produce, that service is treated as external: nothing is started for it,
Kafka topics are still ensured and both are checked to answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from infra import kafka as kafka_mod
from infra import postgres as pg_mod

KAFKA_ENV = "SCHEMASHIFT_KAFKA_BOOTSTRAP"
DATABASE_ENV = "SCHEMASHIFT_DATABASE_URL"
STATE_ENV = "SCHEMASHIFT_STATE_DIR"

# Component states reported by status().
RUNNING = "running"  # started by us, pid alive, answers
EXTERNAL = "external"  # not ours (env var or foreign server on our port), answers
UNHEALTHY = "unhealthy"  # our pid is alive but the service does not answer
UNREACHABLE = "unreachable"  # external service configured but it does not answer
STOPPED = "stopped"  # nothing of ours is running

T = TypeVar("T")


class InfraError(RuntimeError):
    """Local infrastructure could not be brought up, inspected or stopped."""


def _log(message: str) -> None:
    print(f"[infra] {message}", file=sys.stderr, flush=True)


def _say(message: str) -> None:
    # The outcome ("what it started") goes to stdout; progress chatter goes to stderr.
    print(message, flush=True)


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even if a loop is already running."""

    async def main() -> T:
        return await coro_factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Called from async code (e.g. a pytest-asyncio test): a nested asyncio.run() is not
    # allowed, so use a private loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    # The component modules raise their own error types; callers only need InfraError.
    try:
        yield
    except (kafka_mod.KafkaError, pg_mod.PostgresError) as exc:
        raise InfraError(str(exc)) from exc


# --------------------------------------------------------------------------- state directory


def default_state_dir() -> Path:
    """``$SCHEMASHIFT_STATE_DIR``, else ``<repo root>/.schemashift``.

    The repo root is the directory holding ``pyproject.toml`` next to the ``infra`` package
    (editable install / checkout); for a regular install it is searched upwards from the cwd.
    """
    override = os.environ.get(STATE_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "pyproject.toml").is_file():
        return package_parent / ".schemashift"
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate / ".schemashift"
    return cwd / ".schemashift"


def _state(state_dir: Path | str | None) -> Path:
    path = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir()
    # 0755, not 0700: the postgres OS user must be able to traverse into <state>/postgres.
    # Secrets inside (env, pgpass) are 0600 files.
    path.mkdir(parents=True, exist_ok=True, mode=0o755)
    (path / "run").mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(state: Path) -> Iterator[None]:
    """Serialise up/down on one state dir (two `up`s racing would start two brokers)."""
    with open(state / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _log(f"waiting for another infra command holding {state / '.lock'}...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_private(path: Path, text: str) -> None:
    # Create with 0600 from the start (no window where the secret is world-readable), then
    # rename over the old file atomically.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def env_file(state_dir: Path | str | None = None) -> Path:
    """Path of the ``KEY=VALUE`` env file ``up`` writes."""
    return _state(state_dir) / "env"


def read_env(state_dir: Path | str | None = None) -> dict[str, str]:
    """Parse ``<state>/env`` (empty dict if ``up`` never ran)."""
    try:
        lines = env_file(state_dir).read_text().splitlines()
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value
    return values


def _record_path(state: Path, component: str) -> Path:
    return state / "run" / f"{component}.json"


def _read_record(state: Path, component: str) -> dict[str, Any] | None:
    try:
        record = json.loads(_record_path(state, component).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def _write_record(state: Path, component: str, record: dict[str, Any]) -> None:
    record = {**record, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _record_path(state, component).write_text(json.dumps(record, indent=2) + "\n")


def _drop_record(state: Path, component: str) -> None:
    _record_path(state, component).unlink(missing_ok=True)


# --------------------------------------------------------------------------- external services


def _external_kafka(port: int) -> str | None:
    """The bootstrap from the environment if it is not our own local broker's address."""
    value = os.environ.get(KAFKA_ENV, "").strip()
    # Sourcing <state>/env exports our own address; that must not turn `up` into a no-op.
    if not value or value in (kafka_mod.bootstrap_for(port), f"localhost:{port}"):
        return None
    return value


def _external_database(state: Path, port: int) -> str | None:
    """The DSN from the environment if it is not the URL of our own local cluster."""
    value = os.environ.get(DATABASE_ENV, "").strip()
    if not value:
        return None
    password = pg_mod.read_password(state)
    if password and value == pg_mod.database_url(password, port):
        return None
    return value


def _default_topics() -> tuple[str, ...]:
    try:
        from schemas.events import ALL_TOPICS
    except ImportError as exc:
        raise InfraError(
            f"cannot import schemas.events.ALL_TOPICS for topic creation: {exc}"
        ) from exc
    return tuple(ALL_TOPICS)


# --------------------------------------------------------------------------- kafka


def _ensure_topics(bootstrap: str, topics: Sequence[str]) -> list[str]:
    with _errors():
        try:
            return _run(lambda: kafka_mod.ensure_topics(bootstrap, topics))
        except kafka_mod.KafkaError:
            raise
        except Exception as exc:
            # aiokafka's own errors (connection, authorization, policy...) as InfraError.
            raise InfraError(f"creating topics on {bootstrap} failed: {exc!r}") from exc


def _topics_note(created: list[str], topics: Sequence[str]) -> str:
    if created:
        return f"created {len(created)} of {len(topics)} topics"
    return f"all {len(topics)} topics present"


def _write_kafka_record(
    state: Path, paths: kafka_mod.KafkaPaths, pid: int, port: int, cport: int
) -> None:
    _write_record(
        state,
        "kafka",
        {
            "pid": pid,
            "bootstrap": kafka_mod.bootstrap_for(port),
            "port": port,
            "controller_port": cport,
            "config": str(paths.config),
            "log": str(paths.server_log),
        },
    )


def _up_kafka(state: Path, topics: Sequence[str]) -> str:
    port = kafka_mod.client_port()
    external = _external_kafka(port)
    if external:
        _log(f"kafka: {KAFKA_ENV}={external} is set; not starting a local broker")
        if _run(lambda: kafka_mod.probe(external, timeout_s=15.0)) is None:
            raise InfraError(f"Kafka at {KAFKA_ENV}={external} does not answer")
        created = _ensure_topics(external, topics)
        _say(f"kafka:    external  {external} ({_topics_note(created, topics)})")
        return external

    paths = kafka_mod.KafkaPaths.for_state(state)
    record = _read_record(state, "kafka")
    if record and kafka_mod.is_our_broker(record["pid"], paths):
        pid, bootstrap = record["pid"], record["bootstrap"]
        if record.get("port") != port:
            _log(f"kafka: already running on {bootstrap}; restart (down/up) to use port {port}")
        with _errors():
            _run(lambda: kafka_mod.wait_ready(bootstrap, pid=pid, paths=paths))
        created = _ensure_topics(bootstrap, topics)
        _say(f"kafka:    running   pid {pid} on {bootstrap} ({_topics_note(created, topics)})")
        return bootstrap
    if record:
        _log(f"kafka: dropping stale pid record (pid {record['pid']} is gone)")
        _drop_record(state, "kafka")

    bootstrap = kafka_mod.bootstrap_for(port)
    orphan = kafka_mod.find_our_broker(paths)
    if orphan is not None:
        # Our own broker whose pid record was lost: adopt it rather than calling it foreign.
        # Its port is whatever the current server.properties says.
        _log(f"kafka: found our broker running as pid {orphan} without a pid record; adopting")
        ports = kafka_mod.configured_ports(paths) or (port, kafka_mod.controller_port(port))
        bootstrap = kafka_mod.bootstrap_for(ports[0])
        with _errors():
            _run(lambda: kafka_mod.wait_ready(bootstrap, pid=orphan, paths=paths))
        _write_kafka_record(state, paths, orphan, *ports)
        created = _ensure_topics(bootstrap, topics)
        _say(f"kafka:    adopted   pid {orphan} on {bootstrap} ({_topics_note(created, topics)})")
        return bootstrap

    if kafka_mod.port_open(port):
        # E.g. the docker-compose broker: same address, not ours to manage. Use it if it is
        # a Kafka broker, refuse if it is something else.
        if _run(lambda: kafka_mod.probe(bootstrap, timeout_s=10.0)) is None:
            raise InfraError(
                f"port {port} is in use by something that is not a Kafka broker; "
                "stop it or set SCHEMASHIFT_KAFKA_PORT"
            )
        _log(f"kafka: a broker not started by schemashift answers on {bootstrap}; using it")
        created = _ensure_topics(bootstrap, topics)
        _say(f"kafka:    external  {bootstrap} ({_topics_note(created, topics)})")
        return bootstrap

    cport = kafka_mod.controller_port(port)
    started = time.monotonic()
    with _errors():
        kafka_mod.resolve_jars(paths)
        kafka_mod.render_config(paths, port, cport)
        kafka_mod.format_storage(paths, port, cport)
        pid = kafka_mod.start(paths)
    _write_kafka_record(state, paths, pid, port, cport)
    _log(
        f"kafka: started pid {pid}, waiting for {bootstrap} "
        f"(up to {kafka_mod.READY_TIMEOUT_S:.0f}s)"
    )
    try:
        with _errors():
            _run(lambda: kafka_mod.wait_ready(bootstrap, pid=pid, paths=paths))
    except InfraError:
        # Do not leave a half-started broker behind that the next `up` would "reuse".
        kafka_mod.stop(pid, paths, timeout=5.0)
        _drop_record(state, "kafka")
        raise
    created = _ensure_topics(bootstrap, topics)
    _say(
        f"kafka:    started   pid {pid} on {bootstrap} in {time.monotonic() - started:.1f}s "
        f"({_topics_note(created, topics)}; log {paths.server_log})"
    )
    return bootstrap


# --------------------------------------------------------------------------- postgres


def _wait_database(url: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        version = _run(lambda: pg_mod.probe(url, timeout_s=5.0))
        if version:
            return version
        if time.monotonic() > deadline:
            raise InfraError(f"PostgreSQL at {pg_mod.redact(url)} does not answer")
        time.sleep(0.3)


def _pg_bin_dir(layout: pg_mod.PgLayout) -> Path:
    major = layout.major_version()
    bin_dir = pg_mod.find_bin_dir(major)
    if bin_dir is None:
        _log("postgres: PostgreSQL binaries not found, installing with apt-get (takes a while)")
        pg_mod.install_postgres()
        bin_dir = pg_mod.find_bin_dir(major)
    if bin_dir is None:
        raise InfraError(
            f"cluster {layout.data} was created with PostgreSQL {major}, whose binaries "
            f"({pg_mod.DEBIAN_PG_ROOT / str(major) / 'bin'}) are not installed"
        )
    return bin_dir


def _up_postgres(state: Path) -> str:
    port = pg_mod.client_port()
    external = _external_database(state, port)
    if external:
        _log(f"postgres: {DATABASE_ENV} is set; not starting a local server")
        version = _wait_database(external, timeout=10.0)
        _say(f"postgres: external  {pg_mod.redact(external)} ({version})")
        return external

    record = _read_record(state, "postgres")
    with _errors():
        password = pg_mod.ensure_password(state)
        layout = pg_mod.PgLayout(Path(record["root"])) if record else pg_mod.existing_layout(state)
        pid = pg_mod.postmaster_pid(layout) if layout else None
        if record and layout and pid == record["pid"]:
            rec_port = int(record["port"])
            if rec_port != port:
                _log(f"postgres: already running on port {rec_port}; restart to use {port}")
            url = pg_mod.database_url(password, rec_port)
            if _run(lambda: pg_mod.probe(url, timeout_s=5.0)) is None:
                # Running, but e.g. the pgpass file was regenerated: re-sync the role.
                pg_mod.ensure_role_and_database(layout, Path(record["bin_dir"]), rec_port, password)
            version = _wait_database(url)
            _say(f"postgres: running   pid {pid} on {pg_mod.HOST}:{rec_port} ({version})")
            return url
        if record:
            _log(f"postgres: dropping stale pid record (pid {record['pid']} is gone)")
            _drop_record(state, "postgres")

        started = time.monotonic()
        if pid is None and pg_mod.port_open(port):
            # Checked before apt/initdb: no point preparing a cluster that cannot start.
            raise InfraError(
                f"port {port} is already in use by another server; stop it, or set "
                f"SCHEMASHIFT_PG_PORT, or point {DATABASE_ENV} at it"
            )
        if layout is None:
            # Install first: choosing the location asks whether the `postgres` OS user (which
            # the package creates) can traverse the state directory.
            if pg_mod.find_bin_dir() is None:
                _log("postgres: PostgreSQL binaries not found, installing with apt-get")
                pg_mod.install_postgres()
            layout = pg_mod.choose_layout(state)
        bin_dir = _pg_bin_dir(layout)
        pg_mod.initdb(layout, bin_dir)
        if pid is not None:
            # Our data dir is already being served (pid record lost): adopt it as-is.
            _log(f"postgres: {layout.data} is already served by pid {pid}; adopting it")
            port = pg_mod.postmaster_port(layout) or port
            action = "adopted"
        else:
            pg_mod.write_config(layout, port)
            _log(f"postgres: starting on {pg_mod.HOST}:{port} (data {layout.data})")
            pid = pg_mod.start(layout, bin_dir)
            action = "started"
        _write_record(
            state,
            "postgres",
            {
                "pid": pid,
                "port": port,
                "root": str(layout.root),
                "data_dir": str(layout.data),
                "bin_dir": str(bin_dir),
                "log": str(layout.log_file),
            },
        )
        pg_mod.ensure_role_and_database(layout, bin_dir, port, password)
    url = pg_mod.database_url(password, port)
    version = _wait_database(url)
    _say(
        f"postgres: {action:<9} pid {pid} on {pg_mod.HOST}:{port} in "
        f"{time.monotonic() - started:.1f}s ({version}; db {pg_mod.DATABASE}, "
        f"log {layout.log_file})"
    )
    return url


# --------------------------------------------------------------------------- public API


def up(
    state_dir: Path | str | None = None,
    *,
    kafka: bool = True,
    postgres: bool = True,
    topics: Sequence[str] | None = None,
) -> dict[str, str]:
    """Ensure Kafka and/or PostgreSQL are running, topics exist, and ``<state>/env`` is written.

    Idempotent: a recorded pid that is alive and answers is reused; otherwise the component is
    (installed,) initialised and started. ``topics`` defaults to ``schemas.events.ALL_TOPICS``
    (3 partitions, replication factor 1 each).

    Returns the env mapping written to ``<state>/env``: ``SCHEMASHIFT_KAFKA_BOOTSTRAP`` and
    ``SCHEMASHIFT_DATABASE_URL`` (the latter contains the password; do not print it).
    Raises :class:`InfraError` if something cannot be started or does not answer.
    """
    state = _state(state_dir)
    wanted_topics = tuple(topics) if topics is not None else (_default_topics() if kafka else ())
    with _locked(state):
        values = read_env(state)
        if kafka:
            values[KAFKA_ENV] = _up_kafka(state, wanted_topics)
        if postgres:
            values[DATABASE_ENV] = _up_postgres(state)
        if not os.environ.get("SCHEMASHIFT_SECRET_KEY"):
            # Connection URLs are encrypted at rest with this key (see consumers.common.secrets).
            from consumers.common.secrets import create_key_file

            key_file = state / "secret.key"
            if create_key_file(key_file):
                _say(f"secret:   created {key_file} (0600): keep it, stored URLs need it")
            values["SCHEMASHIFT_SECRET_KEY_FILE"] = str(key_file)
        path = state / "env"
        _write_private(path, "".join(f"{key}={value}\n" for key, value in values.items()))
        _say(f"env:      {path}  (load with: set -a; . {path}; set +a)")
    return {key: values[key] for key in (KAFKA_ENV, DATABASE_ENV) if key in values}


def down(state_dir: Path | str | None = None, *, kafka: bool = True, postgres: bool = True) -> None:
    """Stop the processes ``up`` started (by recorded pid) and remove their pid records.

    Kafka gets SIGTERM, then SIGKILL after 20s; PostgreSQL gets ``pg_ctl stop -m fast``.
    External services and processes we did not start are never touched. Data is kept.
    """
    state = _state(state_dir)
    with _locked(state):
        if kafka:
            record = _read_record(state, "kafka")
            if record is None:
                _say("kafka:    nothing to stop (not started by schemashift)")
            else:
                paths = kafka_mod.KafkaPaths.for_state(state)
                _log(f"kafka: stopping pid {record['pid']}")
                outcome = kafka_mod.stop(record["pid"], paths)
                _drop_record(state, "kafka")
                _say(f"kafka:    {outcome} (pid {record['pid']})")
        if postgres:
            record = _read_record(state, "postgres")
            if record is None:
                _say("postgres: nothing to stop (not started by schemashift)")
            else:
                layout = pg_mod.PgLayout(Path(record["root"]))
                _log(f"postgres: stopping pid {record['pid']} (pg_ctl stop -m fast)")
                with _errors():
                    outcome = pg_mod.stop(layout, Path(record["bin_dir"]), record["pid"])
                _drop_record(state, "postgres")
                _say(f"postgres: {outcome} (pid {record['pid']})")


def _kafka_status(state: Path) -> tuple[str, str, str]:
    port = kafka_mod.client_port()
    paths = kafka_mod.KafkaPaths.for_state(state)
    record = _read_record(state, "kafka")
    try:
        expected: tuple[str, ...] | None = _default_topics()
    except InfraError:
        expected = None

    def describe(found: list[str]) -> str:
        if expected is None:
            return f"{len(found)} topics"
        return f"{len(set(expected) & set(found))}/{len(expected)} schemashift topics"

    if record and kafka_mod.is_our_broker(record["pid"], paths):
        bootstrap = record["bootstrap"]
        found = _run(lambda: kafka_mod.probe(bootstrap))
        if found is None:
            return (
                "kafka",
                UNHEALTHY,
                f"pid {record['pid']} not answering on {bootstrap}; see {paths.server_log}",
            )
        return ("kafka", RUNNING, f"pid {record['pid']}, {bootstrap}, {describe(found)}")
    external = _external_kafka(port) or (
        kafka_mod.bootstrap_for(port) if kafka_mod.port_open(port) else None
    )
    if external:
        found = _run(lambda: kafka_mod.probe(external))
        if found is None:
            return ("kafka", UNREACHABLE, f"{external} does not answer")
        return ("kafka", EXTERNAL, f"{external} (not started by schemashift), {describe(found)}")
    detail = f"stale pid record {record['pid']}" if record else "not started"
    return ("kafka", STOPPED, detail)


def _postgres_status(state: Path) -> tuple[str, str, str]:
    port = pg_mod.client_port()
    record = _read_record(state, "postgres")
    password = pg_mod.read_password(state)
    if record:
        layout = pg_mod.PgLayout(Path(record["root"]))
        if pg_mod.postmaster_pid(layout) == record["pid"]:
            where = f"{pg_mod.HOST}:{record['port']}"
            version = (
                _run(lambda: pg_mod.probe(pg_mod.database_url(password, int(record["port"]))))
                if password
                else None
            )
            if version is None:
                return (
                    "postgres",
                    UNHEALTHY,
                    f"pid {record['pid']} on {where} rejects or "
                    f"ignores connections; see {layout.log_file}",
                )
            return (
                "postgres",
                RUNNING,
                f"pid {record['pid']}, {where}, {version}, db {pg_mod.DATABASE}",
            )
    external = _external_database(state, port)
    if external:
        version = _run(lambda: pg_mod.probe(external))
        if version is None:
            return ("postgres", UNREACHABLE, f"{pg_mod.redact(external)} does not answer")
        return ("postgres", EXTERNAL, f"{pg_mod.redact(external)}, {version}")
    if pg_mod.port_open(port):
        return ("postgres", EXTERNAL, f"port {port} is served by a server we did not start")
    detail = f"stale pid record {record['pid']}" if record else "not started"
    return ("postgres", STOPPED, detail)


def status(state_dir: Path | str | None = None) -> list[tuple[str, str, str]]:
    """Report ``(component, state, detail)`` for ``kafka`` and ``postgres``.

    ``state`` is one of ``running`` (started by ``up``, answering), ``external`` (not ours,
    answering), ``unhealthy`` (our process is alive but does not answer), ``unreachable``
    (configured external service does not answer) or ``stopped``. Details never contain the
    database password.
    """
    state = _state(state_dir)
    return [_kafka_status(state), _postgres_status(state)]
