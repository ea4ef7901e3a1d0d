"""Prometheus metrics, in memory: each counter and histogram moves when the code it watches
runs, the lag is the high-water mark minus the committed position, a role's listener survives a
taken port, and what is served parses back as the Prometheus text format.

Metrics live in prometheus_client's process-wide registry, so every check is a difference
between a reading before and one after.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker, TestKafkaBroker
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from schemashift.consumers.common import kafka, metrics
from schemashift.consumers.common.deadletter import DeadLetters, PermanentError
from schemashift.consumers.common.lanes import Lanes, _fetch_position
from schemashift.consumers.common.metrics_http import start_listener
from schemashift.consumers.common.settings import Settings
from schemashift.consumers.tracker.store import _ends, project
from schemashift.gateway.supervisor import ROLES, metrics_ports, metrics_urls
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.events import (
    DEAD_LETTER_TOPIC,
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    Event,
    EventType,
    MigrationApplied,
    MigrationFailed,
    Mode,
    Stage,
)
from tests.support.consumer import FakeConsumer, FakeSource

TOPIC = EventType.MIGRATION_APPLIED.topic
SETTINGS = Settings(handler_retries=2, handler_backoff_s=0.001)


def value(name: str, **labels: str) -> float:
    """A sample of the default registry (0 for a labelled series not created yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def consumed(outcome: str, topic: str = TOPIC) -> float:
    return value("schemashift_messages_consumed_total", topic=topic, outcome=outcome)


def published(topic: str, outcome: str) -> float:
    return value("schemashift_messages_published_total", topic=topic, outcome=outcome)


# --- lanes: what a role reads ----------------------------------------------------------------


class RecordingDeadLetters(DeadLetters):
    """The real retry policy; the letters are kept instead of published."""

    def __init__(self) -> None:
        super().__init__(KafkaBroker(), "test", SETTINGS)
        self.letters: list[int] = []

    async def send(self, msg, reason: str) -> None:
        self.letters.append(msg.raw_message.offset)


def event(*, replayed: bool = False) -> Event:
    return Event(
        type=EventType.MIGRATION_APPLIED,
        migration_id=uuid.uuid4(),
        target="t",
        replayed=replayed,
        payload=MigrationApplied(statements_applied=1, duration_ms=1.0, checksum="x"),
    )


def message(partition: int, offset: int, body: bytes | Event) -> SimpleNamespace:
    value_bytes = body.model_dump_json().encode() if isinstance(body, Event) else body
    record = ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"t",
        value=value_bytes,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value_bytes),
        headers=(),
    )
    return SimpleNamespace(raw_message=record, body=value_bytes)


def lanes_for(handler=None, *, batch_handler=None, highwater=None) -> tuple[Lanes, FakeConsumer]:
    lanes = Lanes(RecordingDeadLetters(), handler=handler, batch_handler=batch_handler)
    consumer = FakeConsumer(highwater)
    lanes.bind(FakeSource(consumer))
    return lanes, consumer


async def test_each_consumed_message_is_counted_once_by_its_outcome():
    async def handler(e: Event) -> None:
        if e.target == "bad":
            raise PermanentError("no")

    before = {o: consumed(o) for o in ("handled", "skipped", "dead_lettered", "redelivered")}
    lanes, _ = lanes_for(handler)
    lanes.accept(message(0, 0, event()))
    lanes.accept(message(0, 1, event()))
    lanes.accept(message(0, 2, event(replayed=True)))
    lanes.accept(message(0, 3, b"{not json"))
    bad = event().model_copy(update={"target": "bad"})
    lanes.accept(message(0, 4, bad))
    await lanes.idle()
    moved = {o: consumed(o) - before[o] for o in before}
    assert moved == {"handled": 2, "skipped": 1, "dead_lettered": 2, "redelivered": 0}
    assert lanes._dead_letters.letters == [3, 4]


async def test_retries_are_counted_and_an_outage_counts_as_redelivered():
    calls = 0

    async def handler(e: Event) -> None:
        nonlocal calls
        calls += 1
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))

    retries = value("schemashift_handler_retries_total")
    redelivered, handled = consumed("redelivered"), consumed("handled")
    lanes, consumer = lanes_for(handler)
    lanes.accept(message(0, 0, event()))
    await lanes.idle()
    assert calls == SETTINGS.handler_retries + 1
    assert value("schemashift_handler_retries_total") - retries == SETTINGS.handler_retries
    assert consumed("redelivered") - redelivered == 1
    assert consumed("handled") == handled
    assert consumer.commits == []


async def test_a_batch_counts_every_message_and_finds_the_one_that_fails():
    async def batch_handler(events: list[Event]) -> None:
        if any(e.target == "bad" for e in events):
            raise PermanentError("no")

    handled, dead = consumed("handled"), consumed("dead_lettered")
    lanes, _ = lanes_for(batch_handler=batch_handler)
    for offset in range(3):
        lanes.accept(message(offset, offset, event()))
    lanes.accept(message(3, 0, event().model_copy(update={"target": "bad"})))
    await lanes.idle()
    assert consumed("handled") - handled == 3
    assert consumed("dead_lettered") - dead == 1


async def test_a_dead_letter_sent_is_counted_by_its_original_topic_and_as_published():
    broker = KafkaBroker()
    letters = DeadLetters(broker, "generator", SETTINGS)
    dead = value("schemashift_dead_letters_total", topic=TOPIC)
    sent = published(DEAD_LETTER_TOPIC, "confirmed")
    async with TestKafkaBroker(broker):
        await letters.send(message(2, 5, b"{not json"), "not JSON")
    assert value("schemashift_dead_letters_total", topic=TOPIC) - dead == 1
    assert published(DEAD_LETTER_TOPIC, "confirmed") - sent == 1


# --- publishing ----------------------------------------------------------------------------

REQUESTED = Event(
    type=EventType.COMPARISON_REQUESTED,
    migration_id=uuid.uuid4(),
    target="t",
    payload=ComparisonRequested(source="s", target="t"),
)
REQUESTED_TOPIC = EventType.COMPARISON_REQUESTED.topic


class _Acknowledging:
    """A broker whose acknowledgement ends with ``error`` (or succeeds without one)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def publish(self, *args: object, no_confirm: bool = False, **kwargs: object):
        future = asyncio.get_running_loop().create_future()
        if self.error is None:
            future.set_result(None)
        else:
            future.set_exception(self.error)
        return future


class _Refusing:
    async def publish(self, *args: object, **kwargs: object):
        raise TimeoutError("no metadata for the topic")


async def test_published_messages_are_counted_once_the_broker_answers():
    confirmed = published(REQUESTED_TOPIC, "confirmed")
    failed = published(REQUESTED_TOPIC, "failed")
    await kafka.publish_event(_Acknowledging(), REQUESTED)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await kafka.publish_event(_Acknowledging(ConnectionError("lost")), REQUESTED)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await kafka.publish_event(_Refusing(), REQUESTED)  # type: ignore[arg-type]
    await asyncio.sleep(0)  # the futures' callbacks run on the next turn of the loop
    assert published(REQUESTED_TOPIC, "confirmed") - confirmed == 1
    assert published(REQUESTED_TOPIC, "failed") - failed == 2


async def test_a_send_without_waiting_is_counted_when_it_is_acknowledged():
    confirmed = published(REQUESTED_TOPIC, "confirmed")
    pending: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    async def sending() -> asyncio.Future[object]:
        return pending

    sent = await metrics.counted_send(REQUESTED_TOPIC, sending())
    await asyncio.sleep(0)
    assert published(REQUESTED_TOPIC, "confirmed") == confirmed, "not acknowledged yet"
    sent.set_result(None)
    await asyncio.sleep(0)
    assert published(REQUESTED_TOPIC, "confirmed") - confirmed == 1


async def test_the_generator_times_its_stage_and_counts_what_it_publishes():
    from schemashift.consumers.generator import app as generator

    diff = Event(
        type=EventType.DIFF_COMPUTED,
        migration_id=uuid.uuid4(),
        target="t",
        payload=DiffComputed(
            source="s",
            target="t",
            mode=Mode.APPLY,
            dialect=Dialect.POSTGRESQL,
            operations=[],
            summary=DiffSummary(),
            source_fingerprint="a",
            target_fingerprint="b",
        ),
    )
    count = value("schemashift_stage_duration_seconds_count", stage="generate")
    topic = EventType.SCRIPT_GENERATED.topic
    sent = published(topic, "confirmed")
    async with TestKafkaBroker(generator.role.broker):
        await generator.on_diff_computed(diff)
        await asyncio.sleep(0)
    assert value("schemashift_stage_duration_seconds_count", stage="generate") - count == 1
    assert published(topic, "confirmed") - sent == 1


async def test_a_stage_is_timed_whether_it_returns_or_raises():
    count = value("schemashift_stage_duration_seconds_count", stage="apply")
    total = value("schemashift_stage_duration_seconds_sum", stage="apply")
    with metrics.timed_stage(metrics.APPLY):
        await asyncio.sleep(0.02)
    with pytest.raises(RuntimeError), metrics.timed_stage(metrics.APPLY):
        raise RuntimeError("failed")
    assert value("schemashift_stage_duration_seconds_count", stage="apply") - count == 2
    assert value("schemashift_stage_duration_seconds_sum", stage="apply") - total >= 0.02
    # The 20 ms run falls in the 25 ms bucket, not the 10 ms one.
    small = value("schemashift_stage_duration_seconds_bucket", stage="apply", le="0.01")
    assert value("schemashift_stage_duration_seconds_bucket", stage="apply", le="0.025") > small


# --- migrations that end (the tracker) ---------------------------------------------------


def test_a_migration_ends_once_whatever_comes_after_its_outcome():
    requested = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target="t",
        payload=ComparisonRequested(source="s", target="t", mode=Mode.APPLY),
    )
    applied = requested.follow(
        MigrationApplied(statements_applied=1, duration_ms=1.0, checksum="x"), producer="executor"
    )
    late_failure = requested.follow(
        MigrationFailed(stage=Stage.EXECUTE, reason="late"), producer="executor"
    )
    row = project(None, requested, 1)
    assert not _ends(None, row)
    done = project(row, applied, 2)
    assert _ends(row, done)
    assert not _ends(done, project(done, late_failure, 3)), "a second outcome is not an ending"
    assert _ends(None, project(None, applied, 1)), "an outcome stored first still ends it"


def test_an_ended_migration_is_counted_by_status_and_dialect_with_its_duration():
    labels = {"status": "applied", "dialect": "sqlite"}
    count = value("schemashift_migrations_total", **labels)
    observed = value("schemashift_migration_duration_seconds_count", **labels)
    below = value("schemashift_migration_duration_seconds_bucket", **labels, le="60.0")
    metrics.migration_ended("applied", "sqlite", timedelta(seconds=90).total_seconds())
    assert value("schemashift_migrations_total", **labels) - count == 1
    assert value("schemashift_migration_duration_seconds_count", **labels) - observed == 1
    assert value("schemashift_migration_duration_seconds_bucket", **labels, le="60.0") == below
    assert value("schemashift_migration_duration_seconds_sum", **labels) >= 90


# --- consumer lag --------------------------------------------------------------------------


def lag(topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "schemashift_consumer_lag_messages", {"topic": topic, "partition": str(partition)}
    )


@pytest.fixture
def watched() -> Iterator[list[metrics.LagSource]]:
    sources: list[metrics.LagSource] = []
    yield sources
    for source in sources:
        metrics.CONSUMER_LAG.forget(source)


def test_the_lag_is_the_highwater_mark_minus_the_committed_position(watched):
    offsets = [
        metrics.PartitionOffsets("lag.a", 0, highwater=10, committed=4),
        metrics.PartitionOffsets("lag.a", 1, highwater=7, committed=7),
        metrics.PartitionOffsets("lag.a", 2, highwater=None, committed=3),  # not fetched yet
        metrics.PartitionOffsets("lag.a", 3, highwater=5, committed=None),  # position unknown
        # Committed ahead of a stale high-water mark: no negative lag.
        metrics.PartitionOffsets("lag.a", 4, highwater=5, committed=6),
    ]
    watched.append(lambda: offsets)
    metrics.CONSUMER_LAG.watch(watched[0])
    assert [lag("lag.a", p) for p in range(5)] == [6, 0, None, None, 0]
    metrics.CONSUMER_LAG.forget(watched[0])
    assert lag("lag.a", 0) is None


async def test_lanes_report_what_they_committed_on_each_partition_they_own(watched):
    tp0, tp1, tp2 = (TopicPartition(TOPIC, p) for p in range(3))
    release = asyncio.Event()

    async def handler(e: Event) -> None:
        if e.target == "slow":
            await release.wait()

    lanes, consumer = lanes_for(handler, highwater={tp0: 10, tp1: 8, tp2: 3})
    watched.append(lanes.offsets)
    metrics.CONSUMER_LAG.watch(lanes.offsets)
    for offset in range(4, 7):  # partition 0 was committed up to 4 before: reading starts there
        lanes.accept(message(0, offset, event()))
    lanes.accept(message(1, 5, event().model_copy(update={"target": "slow"})))
    await asyncio.sleep(0.01)
    # Partition 0 committed past 6; partition 1's message in hand is not committed; nothing
    # was read from partition 2 (its position, from aiokafka, is not known to this fake).
    assert lag(TOPIC, 0) == 10 - 7
    assert lag(TOPIC, 1) == 8 - 5
    assert lag(TOPIC, 2) is None
    release.set()
    await lanes.idle()
    assert lag(TOPIC, 1) == 8 - 6
    await lanes.release({tp1})
    consumer.highwaters.pop(tp1)
    assert lag(TOPIC, 1) is None, "a partition given away is no longer reported"
    assert lanes.offsets()[0] == metrics.PartitionOffsets(TOPIC, 0, 10, 7)


async def test_the_position_of_a_partition_not_read_yet_comes_from_aiokafka():
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    tp = TopicPartition(TOPIC, 0)
    consumer.assign([tp])
    try:
        assert _fetch_position(consumer, tp) is None, "awaiting its reset: not known"
        # What the fetcher does once it has the committed offset.
        consumer._subscription.subscription.assignment.state_value(tp).seek(42)
        assert _fetch_position(consumer, tp) == 42
        lanes = Lanes(RecordingDeadLetters(), handler=lambda e: asyncio.sleep(0))
        lanes.bind(SimpleNamespace(consumer=consumer))
        (offsets,) = lanes.offsets()
        assert (offsets.committed, offsets.highwater) == (42, None)
    finally:
        await consumer.stop()


# --- serving ---------------------------------------------------------------------------------


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


async def scrape(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url)


async def test_a_role_listener_serves_the_text_format():
    metrics.describe_process("comparator")
    listener = await start_listener("127.0.0.1", 0, role="comparator")
    assert listener is not None
    try:
        response = await scrape(listener.url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        parsed = families(response.text)
        info = parsed["schemashift_build_info"]
        roles = {s.labels["role"]: s.labels["version"] for s in info.samples}
        assert roles["comparator"] == metrics.version()
        assert "schemashift_messages_consumed" in parsed
        missing = await scrape(listener.url.replace("/metrics", "/other"))
        assert missing.status_code == 404
    finally:
        await listener.close()


async def test_a_taken_port_falls_back_to_a_free_one_and_says_where(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="schemashift.metrics"):
            listener = await start_listener("127.0.0.1", port, role="executor")
        assert listener is not None
        try:
            assert listener.port not in (0, port)
            assert f"metrics port {port} is taken" in caplog.text
            assert listener.url in caplog.text
            assert (await scrape(listener.url)).status_code == 200
        finally:
            await listener.close()


async def test_an_address_that_cannot_be_had_leaves_the_role_without_metrics(caplog):
    # 192.0.2.1 (TEST-NET-1) is assigned to no interface here.
    with caplog.at_level(logging.ERROR, logger="schemashift.metrics"):
        assert await start_listener("192.0.2.1", 0, role="tracker") is None
    assert "running without" in caplog.text


async def test_the_gateway_serves_its_metrics_without_a_token():
    from schemashift.gateway.api.app import create_app

    app = create_app(Settings(database_url="postgresql://nobody:secret-pw@127.0.0.1:1/x"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    parsed = families(response.text)
    assert {s.labels["role"] for s in parsed["schemashift_build_info"].samples} >= {"gateway"}
    assert "secret-pw" not in response.text


def test_every_metric_is_named_and_described_by_the_conventions():
    parsed = families(metrics.exposition().decode())
    ours = {name: f for name, f in parsed.items() if name.startswith("schemashift_")}
    expected = {
        "schemashift_messages_consumed": "counter",
        "schemashift_messages_published": "counter",
        "schemashift_dead_letters": "counter",
        "schemashift_handler_retries": "counter",
        "schemashift_migrations": "counter",
        "schemashift_stage_duration_seconds": "histogram",
        "schemashift_migration_duration_seconds": "histogram",
        "schemashift_consumer_lag_messages": "gauge",
        "schemashift_build_info": "gauge",
    }
    assert {name: f.type for name, f in ours.items()} == expected
    for family in ours.values():
        assert family.documentation.strip(), f"{family.name} has no help text"
        for sample in family.samples:
            if family.type == "counter":
                assert sample.name.endswith("_total"), sample.name
            assert not {"migration_id", "target", "source"} & set(sample.labels)


# --- settings and `serve` ------------------------------------------------------------------


def test_each_role_has_its_own_metrics_port_and_serve_lists_them():
    settings = Settings(_env_file=None, gateway_port=8000)
    consumers = [role for role in ROLES if role != "gateway"]
    ports = [settings.metrics_port(role) for role in consumers]
    assert len(set(ports)) == len(ports) and settings.gateway_port not in ports
    urls = metrics_urls(ROLES, settings)
    assert urls["gateway"] == f"http://127.0.0.1:{settings.gateway_port}/metrics"
    assert urls["executor"] == f"http://127.0.0.1:{settings.executor_metrics_port}/metrics"
    off = metrics_urls(ROLES, Settings(metrics_enabled=False))
    assert list(off) == ["gateway"], "the gateway's route stays: it is part of its API"
    with pytest.raises(ValueError):
        settings.metrics_port("gateway")


def test_serve_replaces_a_taken_metrics_port_and_lists_the_one_the_role_gets():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        settings = Settings(_env_file=None, executor_metrics_port=busy, tracker_metrics_port=0)
        ports = metrics_ports(ROLES, settings)
        assert set(ports) == {"comparator", "generator", "executor", "tracker"}
        assert ports["executor"] != busy and ports["tracker"] != 0
        urls = metrics_urls(ROLES, settings, ports)
        assert urls["executor"] == f"http://127.0.0.1:{ports['executor']}/metrics"
        assert metrics_ports(ROLES, Settings(_env_file=None, metrics_enabled=False)) == {}


async def test_a_role_serves_its_metrics_from_start_to_stop(watched):
    from schemashift.consumers.common.role import Role

    role = Role("generator", uses_database=False)
    role.settings = Settings(generator_metrics_port=0)
    await role._start_metrics()
    watched.append(role.partition_offsets)
    assert role.metrics is not None
    url = role.metrics.url
    try:
        parsed = families((await scrape(url)).text)
        assert "generator" in {s.labels["role"] for s in parsed["schemashift_build_info"].samples}
    finally:
        await role._stop_metrics()
    assert role.metrics is None
    with pytest.raises(httpx.ConnectError):
        await scrape(url)
    role.settings = Settings(metrics_enabled=False)
    await role._start_metrics()
    assert role.metrics is None, "turned off: no listener"
    await role._stop_metrics()
