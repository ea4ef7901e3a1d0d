"""The Kafka broker component: our local KRaft broker, or an external one that answers.

How to prepare, start, probe and stop the broker is in infra/kafka.py; this module decides
when: pid record ``run/kafka.json``, reuse, adoption of a broker whose record was lost, and
external brokers (``SCHEMASHIFT_KAFKA_BOOTSTRAP`` pointing elsewhere, or a broker we did not
start answering on our port). ``up`` also ensures the schemashift topics exist.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence

from schemashift.consumers.common.settings import get_settings
from schemashift.infra import kafka as kafka_mod
from schemashift.infra.components.interface import (
    Component,
    InfraError,
    State,
    Status,
    raised_as_infra_error,
    run_sync,
)
from schemashift.infra.console import progress, report
from schemashift.infra.state import StateDir
from schemashift.schemas.events import ALL_TOPICS

KAFKA_ENV = "SCHEMASHIFT_KAFKA_BOOTSTRAP"


def external_bootstrap(port: int) -> str | None:
    """The bootstrap from the environment if it is not our own local broker's address."""
    value = os.environ.get(KAFKA_ENV, "").strip()
    # Sourcing <state>/env exports our own address; that must not turn `up` into a no-op.
    if not value or value in (kafka_mod.bootstrap_for(port), f"localhost:{port}"):
        return None
    return value


def _errors() -> contextlib.AbstractContextManager[None]:
    return raised_as_infra_error(kafka_mod.KafkaError)


class KafkaBroker(Component):
    """The single-node broker the roles talk to, with the topics they need."""

    name = "kafka"

    def __init__(self, topics: Sequence[str] | None = None) -> None:
        """``topics``: what ``up`` ensures exists; None means every topic (``ALL_TOPICS``)."""
        self.topics = tuple(topics) if topics is not None else None

    # ----------------------------------------------------------------------- up

    def up(self, state: StateDir) -> Status:
        """Reuse, adopt or start the broker (or check the external one); ensure the topics."""
        topics = self.topics if self.topics is not None else ALL_TOPICS
        port = kafka_mod.client_port()
        external = external_bootstrap(port)
        if external:
            progress(f"kafka: {KAFKA_ENV}={external} is set; not starting a local broker")
            if run_sync(lambda: kafka_mod.probe(external, timeout_s=15.0)) is None:
                raise InfraError(f"Kafka at {KAFKA_ENV}={external} does not answer")
            return self._external(external, topics)

        paths = kafka_mod.KafkaPaths.for_state(state.root)
        record = state.read_record(self.name)
        if record and kafka_mod.is_our_broker(record["pid"], paths):
            pid, bootstrap = record["pid"], record["bootstrap"]
            if record.get("port") != port:
                progress(
                    f"kafka: already running on {bootstrap}; restart (down/up) to use port {port}"
                )
            with _errors():
                run_sync(lambda: kafka_mod.wait_ready(bootstrap, pid=pid, paths=paths))
            return self._ours("running", pid, bootstrap, topics)
        if record:
            progress(f"kafka: dropping stale pid record (pid {record['pid']} is gone)")
            state.drop_record(self.name)

        bootstrap = kafka_mod.bootstrap_for(port)
        orphan = kafka_mod.find_our_broker(paths)
        if orphan is not None:
            # Our own broker whose pid record was lost: adopt it rather than calling it foreign.
            # Its port is whatever the current server.properties says.
            progress(
                f"kafka: found our broker running as pid {orphan} without a pid record; adopting"
            )
            ports = kafka_mod.configured_ports(paths) or (port, kafka_mod.controller_port(port))
            bootstrap = kafka_mod.bootstrap_for(ports[0])
            with _errors():
                run_sync(lambda: kafka_mod.wait_ready(bootstrap, pid=orphan, paths=paths))
            self._write_record(state, paths, orphan, *ports)
            return self._ours("adopted", orphan, bootstrap, topics)

        if kafka_mod.port_open(port):
            # E.g. the docker-compose broker: same address, not ours to manage. Use it if it is
            # a Kafka broker, refuse if it is something else.
            if run_sync(lambda: kafka_mod.probe(bootstrap, timeout_s=10.0)) is None:
                raise InfraError(
                    f"port {port} is in use by something that is not a Kafka broker; "
                    "stop it or set SCHEMASHIFT_KAFKA_PORT"
                )
            progress(f"kafka: a broker not started by schemashift answers on {bootstrap}; using it")
            return self._external(bootstrap, topics)

        return self._start(state, paths, port, topics)

    def _start(
        self, state: StateDir, paths: kafka_mod.KafkaPaths, port: int, topics: Sequence[str]
    ) -> Status:
        cport = kafka_mod.controller_port(port)
        bootstrap = kafka_mod.bootstrap_for(port)
        started = time.monotonic()
        with _errors():
            kafka_mod.resolve_jars(paths)
            kafka_mod.render_config(paths, port, cport)
            kafka_mod.format_storage(paths, port, cport)
            pid = kafka_mod.start(paths)
        self._write_record(state, paths, pid, port, cport)
        progress(
            f"kafka: started pid {pid}, waiting for {bootstrap} "
            f"(up to {kafka_mod.READY_TIMEOUT_S:.0f}s)"
        )
        try:
            with _errors():
                run_sync(lambda: kafka_mod.wait_ready(bootstrap, pid=pid, paths=paths))
        except InfraError:
            # Do not leave a half-started broker behind that the next `up` would "reuse".
            kafka_mod.stop(pid, paths, timeout=5.0)
            state.drop_record(self.name)
            raise
        note = _ensure_topics(bootstrap, topics)
        detail = (
            f"pid {pid} on {bootstrap} in {time.monotonic() - started:.1f}s "
            f"({note}; log {paths.server_log})"
        )
        report(self.name, f"{'started':<9} {detail}")
        return Status(
            self.name, State.RUNNING, detail, pid=pid, address=bootstrap, env={KAFKA_ENV: bootstrap}
        )

    def _ours(self, action: str, pid: int, bootstrap: str, topics: Sequence[str]) -> Status:
        detail = f"pid {pid} on {bootstrap} ({_ensure_topics(bootstrap, topics)})"
        report(self.name, f"{action:<9} {detail}")
        return Status(
            self.name, State.RUNNING, detail, pid=pid, address=bootstrap, env={KAFKA_ENV: bootstrap}
        )

    def _external(self, bootstrap: str, topics: Sequence[str]) -> Status:
        detail = f"{bootstrap} ({_ensure_topics(bootstrap, topics)})"
        report(self.name, f"{'external':<9} {detail}")
        return Status(
            self.name, State.EXTERNAL, detail, address=bootstrap, env={KAFKA_ENV: bootstrap}
        )

    def _write_record(
        self, state: StateDir, paths: kafka_mod.KafkaPaths, pid: int, port: int, cport: int
    ) -> None:
        state.write_record(
            self.name,
            {
                "pid": pid,
                "bootstrap": kafka_mod.bootstrap_for(port),
                "port": port,
                "controller_port": cport,
                "config": str(paths.config),
                "log": str(paths.server_log),
            },
        )

    # ----------------------------------------------------------------------- down

    def down(self, state: StateDir) -> bool:
        """SIGTERM the broker ``up`` started (SIGKILL after 20s) and drop its pid record."""
        record = state.read_record(self.name)
        if record is None:
            report(self.name, "nothing to stop (not started by schemashift)")
            return False
        paths = kafka_mod.KafkaPaths.for_state(state.root)
        progress(f"kafka: stopping pid {record['pid']}")
        outcome = kafka_mod.stop(record["pid"], paths)
        state.drop_record(self.name)
        report(self.name, f"{outcome} (pid {record['pid']})")
        return True

    # ----------------------------------------------------------------------- status

    def status(self, state: StateDir) -> Status:
        """Ours (running or unhealthy), external (answering or not), or stopped."""
        port = kafka_mod.client_port()
        paths = kafka_mod.KafkaPaths.for_state(state.root)
        record = state.read_record(self.name)
        expected = self.topics if self.topics is not None else ALL_TOPICS

        def describe(found: list[str]) -> str:
            return f"{len(set(expected) & set(found))}/{len(expected)} schemashift topics"

        if record and kafka_mod.is_our_broker(record["pid"], paths):
            pid, bootstrap = record["pid"], record["bootstrap"]
            found = run_sync(lambda: kafka_mod.probe(bootstrap))
            if found is None:
                return Status(
                    self.name,
                    State.UNHEALTHY,
                    f"pid {pid} not answering on {bootstrap}; see {paths.server_log}",
                    pid=pid,
                    address=bootstrap,
                )
            return Status(
                self.name,
                State.RUNNING,
                f"pid {pid}, {bootstrap}, {describe(found)}",
                pid=pid,
                address=bootstrap,
                env={KAFKA_ENV: bootstrap},
            )
        external = external_bootstrap(port) or (
            kafka_mod.bootstrap_for(port) if kafka_mod.port_open(port) else None
        )
        if external:
            found = run_sync(lambda: kafka_mod.probe(external))
            if found is None:
                return Status(
                    self.name, State.UNREACHABLE, f"{external} does not answer", address=external
                )
            return Status(
                self.name,
                State.EXTERNAL,
                f"{external} (not started by schemashift), {describe(found)}",
                address=external,
                env={KAFKA_ENV: external},
            )
        detail = f"stale pid record {record['pid']}" if record else "not started"
        return Status(self.name, State.STOPPED, detail)


def _ensure_topics(bootstrap: str, topics: Sequence[str]) -> str:
    """Create the missing ``topics`` and grow those with fewer partitions than the setting
    ``topic_partitions``; returns what it did, for the outcome line."""
    partitions = get_settings().topic_partitions
    with _errors():
        try:
            created, grown = run_sync(
                lambda: kafka_mod.ensure_topics(bootstrap, topics, partitions=partitions)
            )
        except kafka_mod.KafkaError:
            raise
        except Exception as exc:
            # aiokafka's own errors (connection, authorization, policy...) as InfraError.
            raise InfraError(f"creating topics on {bootstrap} failed: {exc!r}") from exc
    done = [
        *([f"created {len(created)} of {len(topics)} topics"] if created else []),
        *([f"grew {len(grown)} to {partitions} partitions"] if grown else []),
    ]
    return ", ".join(done) or f"all {len(topics)} topics present ({partitions} partitions)"
