"""Prometheus metrics of every process: the one owner of the metric objects.

The instrumented seams (:mod:`.lanes` for what a role reads, :mod:`.kafka` and
:mod:`.deadletter` for what it publishes, the roles' handlers for their stages, the tracker's
store for migrations that end) only call the functions here. Labels are bounded: topics, roles,
outcomes, stages, statuses and dialects, never a migration id or a target name.

Every process (the gateway and each role) exposes the same catalogue at ``/metrics``
(:mod:`.metrics_http` for the roles, a route of the gateway's app); a metric that a process
never moves shows only its help text there. The README's "Metrics" section lists them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import NamedTuple

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

# How a consumed message ended (its partition's offset moves past it in all but REDELIVERED).
HANDLED = "handled"
SKIPPED = "skipped"  # a replayed copy: never acted on
DEAD_LETTERED = "dead_lettered"
REDELIVERED = "redelivered"  # infrastructure away after the retries: read again later

# How a published message ended.
CONFIRMED = "confirmed"
FAILED = "failed"

# From milliseconds (a generate) to half an hour (an end to end that waited for approval).
DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST

# The text format would show a ``*_created`` gauge beside every counter and histogram: one
# more series each, that no dashboard here reads.
disable_created_metrics()

MESSAGES_CONSUMED = Counter(
    "schemashift_messages_consumed_total",
    "Messages a role read, by topic and how they ended: handled, skipped (a replayed copy), "
    "dead_lettered, or redelivered (the infrastructure was away: read again later).",
    ["topic", "outcome"],
)
MESSAGES_PUBLISHED = Counter(
    "schemashift_messages_published_total",
    "Messages a process published, by topic and outcome: confirmed (acknowledged by the "
    "broker) or failed.",
    ["topic", "outcome"],
)
DEAD_LETTERS = Counter(
    "schemashift_dead_letters_total",
    "Messages sent to the dead-letter topic, by the topic they were read from.",
    ["topic"],
)
HANDLER_RETRIES = Counter(
    "schemashift_handler_retries_total",
    "Handler calls that failed and were tried again (with backoff) before succeeding, "
    "being dead-lettered or redelivered.",
)
MIGRATIONS = Counter(
    "schemashift_migrations_total",
    "Migrations that ended, by final status (applied, failed, rejected) and the target's "
    "dialect; counted once per migration, by the tracker.",
    ["status", "dialect"],
)
STAGE_DURATION = Histogram(
    "schemashift_stage_duration_seconds",
    "Time a role spent on one migration's stage: compare (comparator, one request), "
    "generate (generator), apply (executor, running the script with its retries).",
    ["stage"],
    buckets=DURATION_BUCKETS,
)
MIGRATION_DURATION = Histogram(
    "schemashift_migration_duration_seconds",
    "End to end: from the request to the outcome (their occurred_at), by final status and "
    "dialect; observed by the tracker as it stores the outcome.",
    ["status", "dialect"],
    buckets=DURATION_BUCKETS,
)
BUILD_INFO = Gauge(
    "schemashift_build_info",
    "Always 1: the version of schemashift this process runs and its role.",
    ["version", "role"],
)

COMPARE = "compare"
GENERATE = "generate"
APPLY = "apply"


def version() -> str:
    """The installed package's version (``unknown`` when run from a tree not installed)."""
    try:
        return metadata.version("schemashift")
    except metadata.PackageNotFoundError:
        return "unknown"


def describe_process(role: str) -> None:
    """Say in :data:`BUILD_INFO` which role this process runs."""
    BUILD_INFO.labels(version=version(), role=role).set(1)


def message_consumed(topic: str, outcome: str) -> None:
    """One message of ``topic`` read, ending with ``outcome`` (:data:`HANDLED`, ...)."""
    MESSAGES_CONSUMED.labels(topic=topic, outcome=outcome).inc()


def message_published(topic: str, outcome: str) -> None:
    """One message published on ``topic``: :data:`CONFIRMED` or :data:`FAILED`."""
    MESSAGES_PUBLISHED.labels(topic=topic, outcome=outcome).inc()


async def counted_send(
    topic: str, sending: Awaitable[asyncio.Future[object]]
) -> asyncio.Future[object]:
    """Await ``sending`` (a send whose future resolves on the broker's acknowledgement) and
    count the message once that future settles; a send that fails at once counts as failed."""
    try:
        sent = await sending
    except Exception:
        message_published(topic, FAILED)
        raise

    def settled(future: asyncio.Future[object]) -> None:
        ok = not future.cancelled() and future.exception() is None
        message_published(topic, CONFIRMED if ok else FAILED)

    sent.add_done_callback(settled)
    return sent


def dead_lettered(topic: str) -> None:
    """A message read from ``topic`` went to the dead-letter topic."""
    DEAD_LETTERS.labels(topic=topic).inc()


def handler_retried() -> None:
    """A handler call failed and is tried again."""
    HANDLER_RETRIES.inc()


@contextmanager
def timed_stage(stage: str) -> Iterator[None]:
    """Observe the time spent inside the block as ``stage`` (:data:`COMPARE`, ...), whether
    it ends with a result or an exception."""
    start = time.perf_counter()
    try:
        yield
    finally:
        STAGE_DURATION.labels(stage=stage).observe(time.perf_counter() - start)


def migration_ended(status: str, dialect: str, duration_s: float) -> None:
    """A migration reached its final ``status`` ``duration_s`` after it was requested."""
    MIGRATIONS.labels(status=status, dialect=dialect).inc()
    MIGRATION_DURATION.labels(status=status, dialect=dialect).observe(max(duration_s, 0.0))


class PartitionOffsets(NamedTuple):
    """Where a consumer stands on one partition it owns (``None``: not known yet)."""

    topic: str
    partition: int
    highwater: int | None
    committed: int | None


LagSource = Callable[[], Iterable[PartitionOffsets]]


class ConsumerLag(Collector):
    """``schemashift_consumer_lag_messages``: per partition owned, the high-water mark minus
    the committed position, computed from what the sources know at scrape time (no call to
    the broker). A partition whose high-water mark or position is not known yet is left out."""

    def __init__(self) -> None:
        self._sources: list[LagSource] = []

    def watch(self, source: LagSource) -> None:
        """Include the partitions ``source`` reports (a role's lanes)."""
        self._sources.append(source)

    def forget(self, source: LagSource) -> None:
        """Stop including ``source``."""
        if source in self._sources:
            self._sources.remove(source)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "schemashift_consumer_lag_messages",
            "Messages not yet committed on a partition this process owns: the high-water "
            "mark minus the committed position.",
            labels=["topic", "partition"],
        )
        lags: dict[tuple[str, str], int] = {}
        for source in list(self._sources):
            for offsets in source():
                if offsets.highwater is None or offsets.committed is None:
                    continue
                key = (offsets.topic, str(offsets.partition))
                lags[key] = max(offsets.highwater - offsets.committed, 0)
        for (topic, partition), lag in sorted(lags.items()):
            family.add_metric([topic, partition], lag)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registered without collecting: no source is asked anything at registration.
        yield GaugeMetricFamily("schemashift_consumer_lag_messages", "", labels=[])


CONSUMER_LAG = ConsumerLag()
REGISTRY.register(CONSUMER_LAG)


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """Every metric of ``registry`` in the Prometheus text format (:data:`CONTENT_TYPE`)."""
    return generate_latest(registry)
