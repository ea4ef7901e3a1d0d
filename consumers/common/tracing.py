"""OpenTelemetry tracing: one trace per migration, from the REST call across every Kafka hop.

Off unless ``SCHEMASHIFT_TRACING=otlp``. Off, every function here returns at once: no span, no
header, nothing of the SDK imported (only the API, whose calls nobody makes). On, each process
exports its spans over OTLP (HTTP/protobuf) as ``schemashift-<role>``, configured by the
standard ``OTEL_*`` variables (endpoint, headers, sampler, batch sizes).

The spans of one migration, parent to child:

- the gateway's SERVER span of the REST call (continuing the caller's ``traceparent``, if any);
- a PRODUCER span per event published (``send <topic>``), whose context travels in the
  message's W3C ``traceparent``/``tracestate`` headers, beside the CloudEvents ones;
- a CONSUMER span (``process <topic>``) around each role's handling of a message, parented on
  the headers it came with; the tracker's batches get one per event;
- the comparator's INTERNAL ``compare`` and the executor's ``execute`` spans, parented on the
  request (the script) even when it waited, in the per-target queue behind another migration
  (for approval), its context stored with it; linked to the event that let it go on.
- a PRODUCER span for a dead letter (under the handling that gave up) and for each copy a
  replay publishes (under the replay's REST call), their context in the copies' headers.

Attributes follow OpenTelemetry's messaging conventions, plus the migration id and the event
type. No URL, query string, header or exception text goes into a span unredacted.

FastStream's telemetry middleware is not used: it wraps FastStream's own handler calls and
publishers, and the roles read through their lanes (``get_one``) and publish through
:mod:`.kafka`, so the spans are made at those seams instead. Their names follow the current
conventions (``send <topic>``, ``process <topic>``; FastStream's are ``<topic> publish``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from schemashift.consumers.common.redact import redact_text, redact_url
from schemashift.consumers.common.settings import Settings

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord

    from schemashift.schemas.events import Event

log = logging.getLogger("schemashift.tracing")

SCOPE = "schemashift"
# Attribute names of the messaging conventions (written out: the semantic-conventions package
# is still unstable), and ours.
MESSAGING_SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
PARTITION = "messaging.destination.partition.id"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
MESSAGE_ID = "messaging.message.id"
MESSAGE_KEY = "messaging.kafka.message.key"
OFFSET = "messaging.kafka.offset"
BATCH_COUNT = "messaging.batch.message_count"
MIGRATION_ID = "schemashift.migration.id"
EVENT_TYPE = "schemashift.event.type"

# The active tracer, None while tracing is off (the hot paths test only this).
_tracer: trace.Tracer | None = None
# What setup() made, so that shutdown() flushes it (a provider given to use() is the caller's).
_owned: Any = None
_NOTHING: AbstractContextManager[None] = nullcontext()


def enabled() -> bool:
    """Whether spans are being made in this process."""
    return _tracer is not None


def setup(role: str, settings: Settings) -> None:
    """Turn tracing on for this process as ``role`` if ``settings.tracing`` asks for it.

    Off, this does nothing (and leaves a provider given to :func:`use` in place). On, spans are
    batched and exported over OTLP/HTTP by the SDK, which reads ``OTEL_EXPORTER_OTLP_*`` (the
    endpoint defaults to http://localhost:4318), ``OTEL_TRACES_SAMPLER`` and ``OTEL_BSP_*``.
    """
    global _owned
    if settings.tracing == "off" or _owned is not None:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise RuntimeError(
            f"SCHEMASHIFT_TRACING={settings.tracing} needs the OpenTelemetry SDK and its OTLP "
            "exporter: pip install 'schemashift[tracing]'"
        ) from exc
    # Ours win over OTEL_SERVICE_NAME: the roles of `serve` share one environment, and each
    # must be told apart. OTEL_RESOURCE_ATTRIBUTES adds to them.
    resource = Resource.create(
        {
            "service.name": f"schemashift-{role}",
            "service.namespace": "schemashift",
            "service.version": _version(),
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # Not made the global provider: recent FastAPI releases trace every request by themselves
    # once there is one, which would double the gateway's server spans and add spans of their
    # own (dependencies, serialization) to every trace.
    _owned = provider
    use(provider)
    log.info("tracing: exporting spans as schemashift-%s to %s", role, redact_url(_endpoint()))


def _endpoint() -> str:
    # Where the SDK's exporter sends spans, by its rules (for the start-up line only).
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")
    return base.rstrip("/") + "/v1/traces"


def use(provider: trace.TracerProvider | None) -> None:
    """Make spans with ``provider`` from now on (None: tracing off). Tests give one whose
    exporter keeps the spans in memory."""
    global _tracer
    _tracer = provider.get_tracer(SCOPE, _version()) if provider is not None else None


async def shutdown() -> None:
    """Export what is still buffered and stop (what :func:`setup` started, if anything)."""
    global _owned
    provider, _owned = _owned, None
    if provider is None:
        return
    use(None)
    # The SDK's shutdown blocks while it exports the last batch.
    await asyncio.to_thread(provider.shutdown)


def _version() -> str:
    try:
        return version("schemashift")
    except PackageNotFoundError:  # pragma: no cover - run from a tree without installing
        return "0"


# --- propagation ---------------------------------------------------------------------------


class _KafkaHeaders(Getter[Sequence[tuple[str, bytes]]]):
    """Reads a propagator's fields from Kafka record headers: (name, bytes) pairs."""

    def get(self, carrier: Sequence[tuple[str, bytes]], key: str) -> list[str] | None:
        values = [value.decode("latin-1") for name, value in carrier if name.lower() == key]
        return values or None

    def keys(self, carrier: Sequence[tuple[str, bytes]]) -> list[str]:
        return [name for name, _ in carrier]


_KAFKA_HEADERS = _KafkaHeaders()


class _AsgiHeaders(Getter[Sequence[tuple[bytes, bytes]]]):
    """Reads a propagator's fields from ASGI request headers: lower-case (bytes, bytes) pairs."""

    def get(self, carrier: Sequence[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.encode("latin-1")
        values = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return values or None

    def keys(self, carrier: Sequence[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_ASGI_HEADERS = _AsgiHeaders()


def current_context() -> dict[str, str] | None:
    """The current span's context as W3C trace-context fields (to store beside a request that
    waits); None while tracing is off or outside any span."""
    if _tracer is None or not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


# --- spans ---------------------------------------------------------------------------------


def _event_attributes(event: Event) -> dict[str, str]:
    return {
        MESSAGING_SYSTEM: "kafka",
        MESSAGE_ID: str(event.event_id),
        MIGRATION_ID: str(event.migration_id),
        EVENT_TYPE: event.type.value,
    }


def _fail(span: Span, exc: BaseException) -> None:
    # Not record_exception(): its message and stack may quote a connection URL.
    reason = redact_text(f"{type(exc).__name__}: {exc}")[:500]
    span.set_status(Status(StatusCode.ERROR, reason))
    span.set_attribute("error.type", type(exc).__qualname__)


def start_send(event: Event, headers: dict[str, str]) -> Span | None:
    """Start the PRODUCER span of publishing ``event`` (a child of the current span) and add
    its trace context to ``headers``; None (and ``headers`` untouched) while tracing is off.
    End it with :func:`end_when_sent`, or :func:`send_failed`."""
    if _tracer is None:
        return None
    return _start_producer(_tracer, event.topic, event.target, headers, _event_attributes(event))


def _start_producer(
    tracer: trace.Tracer,
    topic: str,
    key: str | None,
    headers: dict[str, str],
    attributes: Mapping[str, str],
) -> Span:
    span = tracer.start_span(
        f"send {topic}",
        kind=SpanKind.PRODUCER,
        attributes={
            MESSAGING_SYSTEM: "kafka",
            **attributes,
            DESTINATION: topic,
            OPERATION_TYPE: "send",
            OPERATION_NAME: "send",
            **({MESSAGE_KEY: key} if key else {}),
        },
    )
    propagate.inject(headers, context=trace.set_span_in_context(span))
    return span


def sending(
    topic: str, key: str | None, headers: dict[str, str], event: Event | None = None
) -> AbstractContextManager[None]:
    """The PRODUCER span of an awaited send of a message that is not a pipeline event of its
    own (a dead letter, a replayed copy of ``event``): a child of the current span, its trace
    context added to ``headers``. Nothing while tracing is off."""
    if _tracer is None:
        return _NOTHING
    return _sending(_tracer, topic, key, headers, event)


@contextmanager
def _sending(
    tracer: trace.Tracer,
    topic: str,
    key: str | None,
    headers: dict[str, str],
    event: Event | None,
) -> Iterator[None]:
    attributes = _event_attributes(event) if event is not None else {}
    span = _start_producer(tracer, topic, key, headers, attributes)
    try:
        yield
    except BaseException as exc:
        _fail(span, exc)
        raise
    finally:
        span.end()


def end_when_sent(span: Span | None, sent: asyncio.Future[object]) -> None:
    """End ``span`` once the broker acknowledged the message (or refused it)."""
    if span is None:
        return

    def done(future: asyncio.Future[object]) -> None:
        exc = None if future.cancelled() else future.exception()
        if exc is not None:
            _fail(span, exc)
        span.end()

    sent.add_done_callback(done)


def send_failed(span: Span | None, exc: BaseException) -> None:
    """End ``span``: the message could not be handed to the producer."""
    if span is not None:
        _fail(span, exc)
        span.end()


def _consumer_attributes(record: ConsumerRecord[bytes, bytes], event: Event) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        **_event_attributes(event),
        DESTINATION: record.topic,
        PARTITION: str(record.partition),
        OFFSET: record.offset,
        OPERATION_TYPE: "process",
        OPERATION_NAME: "process",
    }
    if record.key is not None:
        attributes[MESSAGE_KEY] = record.key.decode(errors="replace")
    return attributes


def consuming(record: ConsumerRecord[bytes, bytes], event: Event) -> AbstractContextManager[None]:
    """The CONSUMER span of handling ``event`` (read as ``record``), current while the block
    runs, a child of the span that published it (from the record's headers)."""
    if _tracer is None:
        return _NOTHING
    return _consuming(_tracer, record, event)


@contextmanager
def _consuming(
    tracer: trace.Tracer, record: ConsumerRecord[bytes, bytes], event: Event
) -> Iterator[None]:
    parent = propagate.extract(record.headers or (), getter=_KAFKA_HEADERS)
    with _span(
        tracer,
        f"process {record.topic}",
        kind=SpanKind.CONSUMER,
        context=parent,
        attributes=_consumer_attributes(record, event),
    ):
        yield


def consuming_batch(
    received: Iterable[tuple[ConsumerRecord[bytes, bytes], Event]],
) -> AbstractContextManager[None]:
    """One CONSUMER span per event of a batch handled in one call, each a child of its own
    message's publisher, all ending when the block does (none is made current). ``received``
    is read only while tracing is on (a generator costs nothing otherwise)."""
    if _tracer is None:
        return _NOTHING
    return _consuming_batch(_tracer, list(received))


@contextmanager
def _consuming_batch(
    tracer: trace.Tracer, received: Sequence[tuple[ConsumerRecord[bytes, bytes], Event]]
) -> Iterator[None]:
    spans = [
        tracer.start_span(
            f"process {record.topic}",
            kind=SpanKind.CONSUMER,
            context=propagate.extract(record.headers or (), getter=_KAFKA_HEADERS),
            attributes={**_consumer_attributes(record, event), BATCH_COUNT: len(received)},
        )
        for record, event in received
    ]
    try:
        yield
    except BaseException as exc:
        for span in spans:
            _fail(span, exc)
        raise
    finally:
        for span in spans:
            span.end()


def resumed(
    stored: Mapping[str, str] | None, name: str, event: Event
) -> AbstractContextManager[None]:
    """An INTERNAL span ``name`` of work on ``event`` that continues the trace ``stored`` (by
    :func:`current_context`) when it was set aside; linked to the current span when that
    belongs to another trace (the event that let the work go on)."""
    if _tracer is None:
        return _NOTHING
    return _resumed(_tracer, stored, name, event)


@contextmanager
def _resumed(
    tracer: trace.Tracer, stored: Mapping[str, str] | None, name: str, event: Event
) -> Iterator[None]:
    parent = propagate.extract(dict(stored)) if stored else None
    links = []
    current = trace.get_current_span().get_span_context()
    waited = trace.get_current_span(parent).get_span_context() if parent else None
    if current.is_valid and waited is not None and waited.trace_id != current.trace_id:
        links.append(Link(current, {"schemashift.link": "released by"}))
    with _span(
        tracer,
        name,
        kind=SpanKind.INTERNAL,
        context=parent,
        links=links,
        attributes={MIGRATION_ID: str(event.migration_id), EVENT_TYPE: event.type.value},
    ):
        yield


def dead_lettered(reason: str) -> None:
    """Mark the current span: its message went to the dead-letter topic for ``reason``."""
    if _tracer is None:
        return
    span = trace.get_current_span()
    span.set_status(Status(StatusCode.ERROR, redact_text(reason)[:500]))
    span.set_attribute("schemashift.dead_lettered", True)


class ServerSpan:
    """What the gateway's middleware learns about a request as it is answered."""

    def __init__(self, span: Span, method: str) -> None:
        self._span = span
        self._method = method

    def responded(self, status: int) -> None:
        """The response's status code (5xx marks the span as failed)."""
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))

    def routed(self, route: str) -> None:
        """The path template the request matched, e.g. ``/api/v1/migrations/{migration_id}``."""
        self._span.set_attribute("http.route", route)
        self._span.update_name(f"{self._method} {route}")


def serving(
    method: str, path: str, headers: Sequence[tuple[bytes, bytes]]
) -> AbstractContextManager[ServerSpan | None]:
    """The SERVER span of one HTTP request, continuing the caller's trace context if it sent
    one; yields None while tracing is off. Only the method and the path are recorded."""
    if _tracer is None:
        return nullcontext()
    return _serving(_tracer, method, path, headers)


@contextmanager
def _serving(
    tracer: trace.Tracer, method: str, path: str, headers: Sequence[tuple[bytes, bytes]]
) -> Iterator[ServerSpan]:
    parent = propagate.extract(headers, getter=_ASGI_HEADERS)
    # Named after the method until the route is known (the path would make a name per id).
    with _span(
        tracer,
        method,
        kind=SpanKind.SERVER,
        context=parent,
        attributes={"http.request.method": method, "url.path": path},
    ) as span:
        yield ServerSpan(span, method)


@contextmanager
def _span(tracer: trace.Tracer, name: str, **options: Any) -> Iterator[Span]:
    with tracer.start_as_current_span(
        name, record_exception=False, set_status_on_exception=False, **options
    ) as span:
        try:
            yield span
        except BaseException as exc:
            _fail(span, exc)
            raise
