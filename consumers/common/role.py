"""What every role's FastStream app has in common: broker, dead letters, metadata DB, lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.db import create_engine
from schemashift.consumers.common.deadletter import PermanentError, dead_letter_middleware
from schemashift.consumers.common.kafka import (
    make_broker,
    publish_events,
    send_event,
    subscriber_options,
)
from schemashift.consumers.common.settings import Settings, get_settings
from schemashift.schemas.events import Event, EventType

if TYPE_CHECKING:
    from faststream.kafka.subscriber.usecase import DefaultSubscriber


def should_handle(event: Event, *expected: EventType) -> bool:
    """False for replayed copies (never acted on); PermanentError for an event off its topic."""
    if event.replayed:
        return False
    if event.type not in expected:
        raise PermanentError(f"unexpected event type {event.type.value!r} on this topic")
    return True


class Role:
    """One pipeline role: a FastStream app whose handlers share a broker and a DB engine.

    Handlers are declared with :meth:`subscriber`, which subscribes in the role's own consumer
    group with commit-after-effect semantics. The metadata database is migrated and its engine
    opened at start-up.
    """

    def __init__(
        self, name: str, *, publishes: tuple[EventType, ...] = (), uses_database: bool = True
    ) -> None:
        self.name = name
        self.uses_database = uses_database
        self.settings: Settings = get_settings()
        self.broker: KafkaBroker = make_broker(name, self.settings)
        self.broker.add_middleware(dead_letter_middleware(self.broker, name))
        self.app = FastStream(self.broker)
        self._engine: AsyncEngine | None = None
        self._closers: list[Callable[[], Any]] = []
        for event_type in publishes:
            # What this role publishes, and its schema: for FastStream's own document of the
            # role, and checked against schemas/topics.py (the gateway's /asyncapi source).
            self.broker.publisher(
                event_type.topic, schema=Event, title=f"{event_type.topic}:Publish:{name}"
            )
        self.app.on_startup(self._start)
        self.app.after_shutdown(self._stop)

    @property
    def engine(self) -> AsyncEngine:
        """The metadata database engine (available once the app has started)."""
        if self._engine is None:
            raise RuntimeError(f"{self.name} has not started")
        return self._engine

    def subscriber(self, *topics: str, **overrides: Any) -> DefaultSubscriber:
        """Subscribe a handler to ``topics`` in this role's consumer group.

        The subscriber decorates the handler (FastStream's overloads cannot pick a return type
        for options passed as a dict, hence the annotation; ``batch=True`` is never passed).
        """
        options = subscriber_options(self.name, self.settings) | overrides
        return self.broker.subscriber(*topics, **options)

    def on_close(self, closer: Callable[[], Any]) -> None:
        """Run ``closer`` (sync or async) when the role stops."""
        self._closers.append(closer)

    async def publish(self, *events: Event) -> None:
        """Publish ``events`` in order, each acknowledged by the broker."""
        await publish_events(self.broker, events)

    async def send(self, event: Event) -> asyncio.Future[object]:
        """Publish ``event`` without waiting for its acknowledgement (see
        :func:`~schemashift.consumers.common.kafka.send_event`)."""
        return await send_event(self.broker, event)

    async def _start(self) -> None:
        if not self.uses_database:
            return
        from schemashift.infra.migrate import upgrade_async

        await upgrade_async(self.settings.database_url)
        self._engine = create_engine(self.settings.database_url)

    async def _stop(self) -> None:
        for closer in self._closers:
            result = closer()
            if hasattr(result, "__await__"):
                await result
        if self._engine is not None:
            await self._engine.dispose()

    async def run(self) -> None:
        """Run until SIGINT/SIGTERM; the message in hand is finished and committed first."""
        await self.app.run()
