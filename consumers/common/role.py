"""What every role's FastStream app has in common: broker, dead letters, metadata DB, lifecycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common import metrics, tracing
from schemashift.consumers.common.db import create_engine
from schemashift.consumers.common.deadletter import DeadLetters, PermanentError
from schemashift.consumers.common.kafka import (
    LIBRARY_LOGGER,
    make_broker,
    missing_topics,
    publish_events,
    send_event,
    subscriber_options,
)
from schemashift.consumers.common.lanes import BatchHandler, Handler, Lanes
from schemashift.consumers.common.metrics_http import MetricsListener, start_listener
from schemashift.consumers.common.settings import Settings, get_settings
from schemashift.schemas.events import DEAD_LETTER_TOPIC, Event, EventType

log = logging.getLogger("schemashift.role")


def should_handle(event: Event, *expected: EventType) -> bool:
    """False for replayed copies (never acted on); PermanentError for an event off its topic."""
    if event.replayed:
        return False
    if event.type not in expected:
        raise PermanentError(f"unexpected event type {event.type.value!r} on this topic")
    return True


class Role:
    """One pipeline role: a FastStream app whose handlers share a broker and a DB engine.

    Handlers are given to :meth:`handle` (or declared with :meth:`batch_subscriber`), one
    subscription in the role's own consumer group; :class:`~.lanes.Lanes` runs them, partitions
    side by side up to the role's concurrency, committing each after its effect. The metadata
    database is migrated and its engine opened at start-up, and the role's ``/metrics`` served
    (unless the settings turn them off).
    """

    def __init__(
        self, name: str, *, publishes: tuple[EventType, ...] = (), uses_database: bool = True
    ) -> None:
        self.name = name
        self.uses_database = uses_database
        self.settings: Settings = get_settings()
        self.broker: KafkaBroker = make_broker(name, self.settings)
        self.dead_letters = DeadLetters(self.broker, name, self.settings)
        self.app = FastStream(self.broker, logger=LIBRARY_LOGGER)
        self._engine: AsyncEngine | None = None
        self._closers: list[Callable[[], Any]] = []
        self._lanes: Lanes | None = None
        self.metrics: MetricsListener | None = None
        # Every topic the role reads or writes, checked at start (dict: ordered, no repeats).
        self._topics: dict[str, None] = dict.fromkeys(
            (*(event_type.topic for event_type in publishes), DEAD_LETTER_TOPIC)
        )
        for event_type in publishes:
            # What this role publishes, and its schema: for FastStream's own document of the
            # role, and checked against schemas/topics.py (the gateway's /asyncapi source).
            self.broker.publisher(
                event_type.topic, schema=Event, title=f"{event_type.topic}:Publish:{name}"
            )
        self.app.on_startup(self._start_metrics)
        self.app.on_startup(self._start)
        self.app.after_startup(self._start_lanes)
        self.app.on_shutdown(self._stop_lanes)
        self.app.after_shutdown(self._stop)
        self.app.after_shutdown(self._stop_metrics)

    @property
    def engine(self) -> AsyncEngine:
        """The metadata database engine (available once the app has started)."""
        if self._engine is None:
            raise RuntimeError(f"{self.name} has not started")
        return self._engine

    @property
    def concurrency(self) -> int:
        """How many messages of different partitions this role handles at once."""
        return self.settings.role_concurrency.get(self.name, self.settings.concurrency)

    def handle(self, routes: Mapping[EventType, Handler]) -> None:
        """Handle each event with the handler of its type, read from the topics of ``routes``
        through one subscription."""

        async def dispatch(event: Event) -> None:
            handler = routes.get(event.type)
            if handler is None:
                raise PermanentError(f"unexpected event type {event.type.value!r} on this topic")
            await handler(event)

        topics = tuple(dict.fromkeys(event_type.topic for event_type in routes))
        slots = asyncio.Semaphore(self.concurrency)
        self._subscribe(topics, Lanes(self.dead_letters, handler=dispatch, slots=slots))

    def batch_subscriber(
        self, *topics: str, max_batch: int = 500
    ) -> Callable[[BatchHandler], BatchHandler]:
        """Decorate a handler of every event waiting (up to ``max_batch``) in one call."""

        def register(handler: BatchHandler) -> BatchHandler:
            self._subscribe(
                topics, Lanes(self.dead_letters, batch_handler=handler, max_batch=max_batch)
            )
            return handler

        return register

    def _subscribe(self, topics: tuple[str, ...], lanes: Lanes) -> None:
        if self._lanes is not None:
            # Kafka's assignors expect every member of a group to read the same topics; with two
            # subscriptions in the role's group, aiokafka's leader assigned the other's topics
            # from its own metadata, and after a broker restart gave them no partition at all.
            raise RuntimeError(f"{self.name} reads through one subscription: give it all topics")
        self._topics.update(dict.fromkeys(topics))
        options = subscriber_options(self.name, self.settings)
        lanes.bind(self.broker.subscriber(*topics, listener=lanes.listener, **options))
        self._lanes = lanes

    def on_close(self, closer: Callable[[], Any]) -> None:
        """Run ``closer`` (sync or async) when the role stops."""
        self._closers.append(closer)

    async def publish(self, *events: Event) -> None:
        """Publish ``events`` in order, each acknowledged by the broker."""
        await publish_events(self.broker, events)

    async def send(self, event: Event) -> asyncio.Future[object]:
        """Publish ``event`` without waiting for its acknowledgement (see
        :func:`~schemashift.consumers.common.kafka.send_event`)."""
        return await metrics.counted_send(event.topic, send_event(self.broker, event))

    def partition_offsets(self) -> list[metrics.PartitionOffsets]:
        """Where the role's consumers stand on the partitions they own (for the lag)."""
        return self._lanes.offsets() if self._lanes is not None else []

    async def _start_metrics(self) -> None:
        metrics.describe_process(self.name)
        metrics.CONSUMER_LAG.watch(self.partition_offsets)
        if self.settings.metrics_enabled:
            self.metrics = await start_listener(
                self.settings.metrics_host, self.settings.metrics_port(self.name), role=self.name
            )

    async def _stop_metrics(self) -> None:
        metrics.CONSUMER_LAG.forget(self.partition_offsets)
        if self.metrics is not None:
            await self.metrics.close()
            self.metrics = None

    async def _start(self) -> None:
        tracing.setup(self.name, self.settings)
        if not self.uses_database:
            return
        from schemashift.infra.migrate import upgrade_async

        await upgrade_async(self.settings.database_url)
        self._engine = create_engine(self.settings.database_url, pool_size=self.concurrency)

    async def _start_lanes(self) -> None:
        await self._check_topics()
        if self._lanes is not None:
            await self._lanes.start()

    async def _check_topics(self) -> None:
        # Not fatal: a role that exited would be restarted into the same state every second.
        # Its consumer picks a topic up once created, at its next metadata refresh.
        missing = await missing_topics(self.broker, self._topics)
        if missing:
            log.error(
                "%s: topic(s) %s do not exist on the broker: nothing is read from or written "
                "to them until they are created (`schemashift infra up` creates them)",
                self.name,
                ", ".join(missing),
            )

    async def _stop_lanes(self) -> None:
        if self._lanes is not None:
            await self._lanes.stop()

    async def _stop(self) -> None:
        for closer in self._closers:
            result = closer()
            if hasattr(result, "__await__"):
                await result
        if self._engine is not None:
            await self._engine.dispose()
        await tracing.shutdown()

    async def run(self) -> None:
        """Run until SIGINT/SIGTERM; the message in hand is finished and committed first."""
        # FastStream looks for a stop request on a timer (every 0.1 s by default): once a
        # second is soon enough to begin a shutdown, and ten wakeups a second less when idle.
        await self.app.run(sleep_time=1.0)
