"""Tracing, in memory: trace context through Kafka headers, span kinds and attributes, the
comparator's resumed comparisons, the gateway's server spans, and nothing at all when off.

Spans go to the SDK's in-memory exporter; messages through FastStream's in-memory broker, whose
records carry headers as Kafka does (a list of (str, bytes)). The same chain on the real broker,
across the five processes of `schemashift serve`, is tests/pipeline/test_tracing.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from fastapi import APIRouter, FastAPI, HTTPException
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from schemashift.consumers.common import kafka, tracing
from schemashift.consumers.common.deadletter import DeadLetters, PermanentError
from schemashift.consumers.common.lanes import Lanes
from schemashift.consumers.common.settings import Settings
from schemashift.gateway.api.app import create_app
from schemashift.gateway.api.tracing import ServerSpans
from schemashift.schemas.events import (
    DEAD_LETTER_TOPIC,
    ComparisonRequested,
    Event,
    EventType,
    MigrationApplied,
)
from tests.support.consumer import FakeSource
from tests.support.infra import REPO_ROOT
from tests.support.otlp import start_receiver

TOPIC = EventType.COMPARISON_REQUESTED.topic
SETTINGS = Settings(handler_retries=0, handler_backoff_s=0.001)
PASSWORD = "s3cr3t-pw"


@dataclass
class Traced:
    """Tracing on for one test: ``tracer`` makes the test's own spans in the same provider."""

    exporter: InMemorySpanExporter
    tracer: trace.Tracer

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def of_kind(self, kind: SpanKind) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.kind is kind]


@pytest.fixture
def spans() -> Iterator[Traced]:
    """Tracing on for the test, every span ended kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield Traced(exporter, provider.get_tracer("test"))
    finally:
        tracing.use(None)
        provider.shutdown()


def request_event(target: str = "tgt") -> Event:
    return Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target=target,
        producer="gateway",
        payload=ComparisonRequested(source="src", target=target),
    )


def applied_event() -> Event:
    return Event(
        type=EventType.MIGRATION_APPLIED,
        migration_id=uuid.uuid4(),
        target="tgt",
        payload=MigrationApplied(statements_applied=1, duration_ms=1.0, checksum="x"),
    )


async def published(*events: Event) -> list[KafkaMessage]:
    """``events`` sent with kafka.send_event through the in-memory broker, as read back."""
    broker = KafkaBroker()
    received: list[KafkaMessage] = []

    @broker.subscriber(*{e.topic for e in events})
    async def keep(body: dict, msg: KafkaMessage) -> None:
        received.append(msg)

    async with TestKafkaBroker(broker) as test_broker:
        for event in events:
            await kafka.confirmed(await kafka.send_event(test_broker, event))
    assert len(received) == len(events)
    return received


class _DeadLetters(DeadLetters):
    def __init__(self) -> None:
        super().__init__(KafkaBroker(), "test", SETTINGS)
        self.reasons: list[str] = []

    async def send(self, msg: KafkaMessage, reason: str) -> None:
        self.reasons.append(reason)
        tracing.dead_lettered(reason)


async def run_lanes(messages: list[KafkaMessage], **handlers) -> FakeSource:
    lanes = Lanes(_DeadLetters(), **handlers)
    source = FakeSource()
    lanes.bind(source)
    for msg in messages:
        lanes.accept(msg)
    await lanes.idle()
    return source


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


# --- Kafka hops ----------------------------------------------------------------------------


async def test_the_consumer_span_continues_the_producer_span_through_kafka_headers(spans):
    event = request_event()
    with spans.tracer.start_as_current_span("request") as root:
        (msg,) = await published(event)
    record = msg.raw_message
    # As Kafka carries them: (name, bytes) pairs, beside the CloudEvents headers.
    headers = dict(record.headers)
    assert all(isinstance(v, bytes) for v in headers.values())
    assert headers["ce_id"] == str(event.event_id).encode()
    traceparent = headers["traceparent"].decode()

    seen: list[trace.SpanContext] = []

    async def handler(e: Event) -> None:
        seen.append(trace.get_current_span().get_span_context())

    source = await run_lanes([msg], handler=handler)
    (producer,) = spans.of_kind(SpanKind.PRODUCER)
    (consumer,) = spans.of_kind(SpanKind.CONSUMER)
    trace_id = root.get_span_context().trace_id
    # version, trace id, parent id, flags (sampled; the SDK also flags its ids as random)
    version, traced, parent, flags = traceparent.split("-")
    assert (version, traced) == ("00", f"{trace_id:032x}")
    assert parent == f"{producer.context.span_id:016x}"
    assert int(flags, 16) & 1
    assert producer.context.trace_id == consumer.context.trace_id == trace_id
    assert parent_id(producer) == root.get_span_context().span_id
    assert parent_id(consumer) == producer.context.span_id
    # The handler runs inside the consumer span: what it publishes is its child.
    assert seen == [consumer.context]
    assert source.consumer.commits == [{TopicPartition(TOPIC, record.partition): record.offset + 1}]

    assert producer.name == f"send {TOPIC}"
    assert consumer.name == f"process {TOPIC}"
    assert dict(producer.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.destination.name": TOPIC,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.kafka.message.key": "tgt",
        "messaging.message.id": str(event.event_id),
        "schemashift.migration.id": str(event.migration_id),
        "schemashift.event.type": "comparison.requested",
    }
    attributes = dict(consumer.attributes or {})
    assert attributes["messaging.system"] == "kafka"
    assert attributes["messaging.destination.name"] == TOPIC
    assert attributes["messaging.destination.partition.id"] == str(record.partition)
    assert attributes["messaging.kafka.offset"] == record.offset
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["schemashift.migration.id"] == str(event.migration_id)


async def test_an_acknowledgement_ends_the_producer_span_and_a_refusal_fails_it(spans):
    class Unconfirmed:
        def __init__(self) -> None:
            self.future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            self.headers: dict[str, str] = {}

        async def publish(self, *args: object, headers: dict[str, str], **kwargs: object):
            self.headers = headers
            return self.future

    broker = Unconfirmed()
    sent = await kafka.send_event(broker, request_event())  # type: ignore[arg-type]
    assert "traceparent" in broker.headers
    assert spans.finished() == ()  # in flight until the broker answers
    broker.future.set_exception(OSError(f"postgresql://u:{PASSWORD}@db/x unreachable"))
    with pytest.raises(OSError):
        await kafka.confirmed(sent)
    (span,) = spans.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert PASSWORD not in (span.status.description or "")
    assert "OSError" in (span.status.description or "")


async def test_every_event_of_a_batch_gets_a_consumer_span_in_its_own_trace(spans):
    tracer = spans.tracer
    events = [request_event(f"t{i}") for i in range(3)]
    roots, messages = [], []
    for event in events:
        with tracer.start_as_current_span("request") as root:
            roots.append(root.get_span_context())
            messages += await published(event)
    handled: list[int] = []

    async def batch_handler(batch: list[Event]) -> None:
        handled.append(len(batch))

    await run_lanes(messages, batch_handler=batch_handler)
    assert handled == [3]
    producers = {s.context.span_id: s for s in spans.of_kind(SpanKind.PRODUCER)}
    consumers = spans.of_kind(SpanKind.CONSUMER)
    assert len(consumers) == 3
    for root, consumer in zip(roots, consumers, strict=True):
        assert consumer.context.trace_id == root.trace_id
        assert parent_id(producers[parent_id(consumer)]) == root.span_id  # type: ignore[index]
        assert (consumer.attributes or {})["messaging.batch.message_count"] == 3


async def test_a_dead_lettered_message_fails_its_span_without_its_secrets(spans):
    async def handler(e: Event) -> None:
        raise PermanentError(f"cannot reach mysql://root:{PASSWORD}@host/db")

    (msg,) = await published(request_event())
    await run_lanes([msg], handler=handler)
    (consumer,) = spans.of_kind(SpanKind.CONSUMER)
    assert consumer.status.status_code is StatusCode.ERROR
    assert (consumer.attributes or {})["schemashift.dead_lettered"] is True
    assert PASSWORD not in (consumer.status.description or "")
    assert "cannot reach" in (consumer.status.description or "")


async def test_a_dead_letter_carries_the_trace_of_the_message_it_holds(spans):
    broker = KafkaBroker()
    letters = DeadLetters(broker, "test", SETTINGS)
    received: list[KafkaMessage] = []

    @broker.subscriber(DEAD_LETTER_TOPIC)
    async def keep(body: dict, msg: KafkaMessage) -> None:
        received.append(msg)

    async with TestKafkaBroker(broker):
        (msg,) = await published(request_event())
        with spans.tracer.start_as_current_span("process") as consuming:
            await letters.send(msg, "not valid")
    (letter,) = received
    (send,) = [s for s in spans.of_kind(SpanKind.PRODUCER) if s.name.endswith(DEAD_LETTER_TOPIC)]
    assert send.name == f"send {DEAD_LETTER_TOPIC}"
    assert parent_id(send) == consuming.get_span_context().span_id
    traceparent = dict(letter.headers)["traceparent"]
    assert traceparent.split("-")[1:3] == [
        f"{send.context.trace_id:032x}",
        f"{send.context.span_id:016x}",
    ]


async def test_a_message_without_trace_context_starts_a_trace(spans):
    record = ConsumerRecord(
        topic=TOPIC,
        partition=3,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=b"tgt",
        value=b"",
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=0,
        headers=[("ce_id", b"x")],
    )
    with tracing.consuming(record, request_event()):
        pass
    (span,) = spans.finished()
    assert span.parent is None
    assert span.kind is SpanKind.CONSUMER


# --- the comparator's queue ------------------------------------------------------------------


def test_a_request_that_waited_is_compared_in_its_own_trace_linked_to_what_released_it(spans):
    tracer = spans.tracer
    request = request_event()
    with tracer.start_as_current_span("arrival") as arrival:
        stored = tracing.current_context()
    assert stored is not None and set(stored) >= {"traceparent"}
    json.dumps(stored)  # it goes into a JSONB column
    with (
        tracer.start_as_current_span("previous migration ended") as releaser,
        tracing.resumed(stored, "compare", request),
    ):
        inner = trace.get_current_span().get_span_context()
    compare = next(s for s in spans.finished() if s.name == "compare")
    assert compare.kind is SpanKind.INTERNAL
    assert compare.context == inner
    assert compare.context.trace_id == arrival.get_span_context().trace_id
    assert parent_id(compare) == arrival.get_span_context().span_id
    assert [link.context for link in compare.links] == [releaser.get_span_context()]
    assert (compare.attributes or {})["schemashift.migration.id"] == str(request.migration_id)


def test_a_request_compared_at_once_is_a_plain_child(spans):
    tracer = spans.tracer
    # The context is read once the arrival's span is current (as the comparator reads it).
    with (
        tracer.start_as_current_span("arrival") as arrival,
        tracing.resumed(tracing.current_context(), "compare", request_event()),
    ):
        pass
    compare = next(s for s in spans.finished() if s.name == "compare")
    assert parent_id(compare) == arrival.get_span_context().span_id
    assert compare.links == ()


# --- the gateway ---------------------------------------------------------------------------


def _gateway(broker: object) -> FastAPI:
    app = FastAPI()
    app.add_middleware(ServerSpans)
    router = APIRouter(prefix="/things")  # included under a prefix, as the gateway's are

    @router.post("/{thing}")
    async def publish(thing: str) -> dict[str, str]:
        await kafka.confirmed(await kafka.send_event(broker, request_event(thing)))  # type: ignore[arg-type]
        return {"thing": thing}

    app.include_router(router, prefix="/api/v1")

    @app.get("/broken")
    async def broken() -> None:
        raise HTTPException(503, "away")

    @app.get("/healthz")
    async def healthz() -> None:
        return None

    return app


class _Recorder:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def publish(self, *args: object, headers: dict[str, str], **kwargs: object) -> None:
        self.headers.append(headers)


async def test_a_rest_call_continues_the_callers_trace_into_the_events_it_publishes(spans):
    broker = _Recorder()
    caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    transport = httpx.ASGITransport(app=_gateway(broker))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        response = await client.post(
            "/api/v1/things/one?token=" + PASSWORD,
            headers={
                "traceparent": f"00-{caller_trace}-{caller_span}-01",
                "authorization": "Bearer " + PASSWORD,
            },
        )
        assert response.status_code == 200
        assert (await client.get("/broken")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200
    servers = spans.of_kind(SpanKind.SERVER)
    (producer,) = spans.of_kind(SpanKind.PRODUCER)
    assert [s.name for s in servers] == ["POST /api/v1/things/{thing}", "GET /broken"]
    post, broken = servers
    assert f"{post.context.trace_id:032x}" == caller_trace
    assert parent_id(post) == int(caller_span, 16)
    assert parent_id(producer) == post.context.span_id
    assert broker.headers[0]["traceparent"].split("-")[1] == caller_trace
    assert dict(post.attributes or {}) == {
        "http.request.method": "POST",
        "url.path": "/api/v1/things/one",
        "http.route": "/api/v1/things/{thing}",
        "http.response.status_code": 200,
    }
    assert broken.status.status_code is StatusCode.ERROR
    assert all(PASSWORD not in repr(dict(s.attributes or {})) for s in spans.finished())


async def test_the_gateways_spans_are_named_after_its_routes(spans):
    # No lifespan here, so no database: the endpoints fail, after routing.
    transport = httpx.ASGITransport(
        app=create_app(Settings(tracing="otlp")), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for path in (
            "/api/v1/comparisons",
            f"/api/v1/migrations/{uuid.uuid4()}/approve",
            f"/api/v1/migrations/{uuid.uuid4()}/rollback",
        ):
            assert (await client.post(path, json={})).status_code >= 400
    assert [s.name for s in spans.of_kind(SpanKind.SERVER)] == [
        "POST /api/v1/comparisons",
        "POST /api/v1/migrations/{migration_id}/approve",
        "POST /api/v1/migrations/{migration_id}/rollback",
    ]


def test_the_gateway_has_server_spans_only_with_tracing_on():
    def middleware(settings: Settings) -> list[type]:
        return [m.cls for m in create_app(settings).user_middleware]  # type: ignore[misc]

    assert ServerSpans in middleware(Settings(tracing="otlp"))
    assert ServerSpans not in middleware(Settings())


# --- off, and on for real --------------------------------------------------------------------


async def test_with_tracing_off_no_header_is_added_and_no_span_made():
    assert not tracing.enabled()
    event = request_event()
    # Even inside a live span of someone else's (another instrumentation's provider).
    other = TracerProvider()
    with other.get_tracer("other").start_as_current_span("request"):
        (msg,) = await published(event)
        assert tracing.current_context() is None
    names = {name for name, _ in msg.raw_message.headers}
    assert names.isdisjoint({"traceparent", "tracestate"})
    assert {name for name in event.cloudevents_headers()} <= names


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_with_tracing_off_nothing_of_the_sdk_is_imported_or_created():
    out = _python(
        """
        import asyncio, sys
        from opentelemetry import trace
        from schemashift.consumers.common import tracing
        from schemashift.consumers.common.settings import Settings
        import schemashift.consumers.comparator.app, schemashift.consumers.tracker.app
        import schemashift.gateway.api.app
        from schemashift.schemas.events import ComparisonRequested, Event, EventType
        tracing.setup("comparator", Settings())
        event = Event(type=EventType.COMPARISON_REQUESTED, migration_id="0" * 32, target="t",
                      payload=ComparisonRequested(source="s", target="t"))
        headers = event.cloudevents_headers()
        print(tracing.start_send(event, headers), tracing.enabled(), "traceparent" in headers)
        print(type(trace.get_tracer_provider()).__name__)
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")))
        """,
        {"SCHEMASHIFT_TRACING": "off"},
    )
    assert out.stdout.splitlines() == ["None False False", "ProxyTracerProvider", "[]"]


def test_with_tracing_on_each_role_exports_over_otlp_under_its_own_name():
    receiver = start_receiver()
    try:
        out = _python(
            """
            import asyncio
            from schemashift.consumers.common import tracing
            from schemashift.consumers.common.settings import Settings
            from schemashift.schemas.events import ComparisonRequested, Event, EventType
            import logging
            logging.basicConfig(level=logging.INFO, format="%(message)s")
            tracing.setup("generator", Settings(tracing="otlp"))
            assert tracing.enabled()
            event = Event(type=EventType.COMPARISON_REQUESTED, migration_id="0" * 32,
                          target="t", payload=ComparisonRequested(source="s", target="t"))
            tracing.send_failed(tracing.start_send(event, {}), RuntimeError("no broker"))
            # Not the global provider: FastAPI would then make server spans of its own.
            from opentelemetry import trace
            assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
            asyncio.run(tracing.shutdown())  # exports what is buffered
            """,
            {
                "SCHEMASHIFT_TRACING": "off",  # the setting given wins over the environment
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.traces_endpoint,
                "OTEL_SERVICE_NAME": "ignored",
            },
        )
        # The role says where its spans go.
        assert f"as schemashift-generator to {receiver.traces_endpoint}" in out.stderr
        (span,) = receiver.spans
        assert span.service == "schemashift-generator"
        assert span.kind == "PRODUCER"
        assert span.name == f"send {TOPIC}"
        assert span.attributes["schemashift.migration.id"] == str(uuid.UUID(int=0))
    finally:
        receiver.stop()
