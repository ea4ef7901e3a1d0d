"""Replay: re-publish stored events from the event log, in the order they happened.

Copies are marked ``replayed`` (in the envelope and the ``schemashift_replayed`` header), go to
``schemashift.replay`` or a topic the caller names (never a pipeline topic), and no role acts
on a replayed event, so a replay never re-triggers a side effect.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common import metrics, tracing
from schemashift.consumers.tracker import store
from schemashift.schemas.events import PIPELINE_TOPICS, REPLAY_TOPIC


class ReplayRefused(ValueError):
    """The replay's destination is not allowed."""


async def topic_exists(bootstrap: str, topic: str) -> bool:
    """Whether ``topic`` exists on the cluster (topics are never created implicitly)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return topic in await admin.list_topics()
    finally:
        await admin.close()


async def replay(
    engine: AsyncEngine,
    broker: KafkaBroker,
    bootstrap: str,
    *,
    migration_id: uuid.UUID | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    topic: str | None = None,
) -> tuple[str, int]:
    """Publish the matching events onto ``topic``; returns (topic, how many were published)."""
    topic = topic or REPLAY_TOPIC
    if topic in PIPELINE_TOPICS:
        raise ReplayRefused(f"{topic} is a pipeline topic: replays go to their own topic")
    if topic != REPLAY_TOPIC and not await topic_exists(bootstrap, topic):
        raise ReplayRefused(f"topic {topic} does not exist: create it first")
    published = 0
    async for _, event in store.stream_events(
        engine, migration_id=migration_id, target=target, since=since, until=until
    ):
        copy = event.model_copy(update={"replayed": True})
        headers = copy.cloudevents_headers() | {"schemashift_original_topic": event.topic}
        try:
            with tracing.sending(topic, copy.target, headers, copy):
                await broker.publish(
                    copy.model_dump_json().encode(), topic=topic, key=copy.key, headers=headers
                )
        except Exception:
            metrics.message_published(topic, metrics.FAILED)
            raise
        metrics.message_published(topic, metrics.CONFIRMED)
        published += 1
    return topic, published
