"""Every Kafka topic: what it carries, how it is keyed, and which roles publish and subscribe.

This table is the contract the AsyncAPI document (``/asyncapi``) is built from, so the gateway
never imports the roles to describe them. The roles declare their own subscribers and publishers;
tests/unit/test_topics.py checks that those match this table.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemashift.schemas.events import (
    DEAD_LETTER_TOPIC,
    PAYLOAD_MODELS,
    REPLAY_TOPIC,
    DeadLetter,
    Event,
    EventType,
)


class RoleName(StrEnum):
    """The processes that publish or subscribe; consumer roles subscribe as group
    ``schemashift-<role>``."""

    GATEWAY = "gateway"
    COMPARATOR = "comparator"
    GENERATOR = "generator"
    EXECUTOR = "executor"
    TRACKER = "tracker"


CONSUMER_ROLES: tuple[RoleName, ...] = (
    RoleName.COMPARATOR,
    RoleName.GENERATOR,
    RoleName.EXECUTOR,
    RoleName.TRACKER,
)

TARGET_KEY = "the name of the target connection (Event.target)"


class Topic(BaseModel):
    """One topic of the table."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    message: type[BaseModel]
    """The model of every message's value: the envelope, or the dead letter."""
    payload: type[BaseModel] | None = None
    """The envelope's payload on this topic, when the topic carries one event type."""
    key: str
    description: str
    publishers: tuple[RoleName, ...]
    subscribers: tuple[RoleName, ...] = ()


def _pipeline(
    event_type: EventType,
    description: str,
    *,
    publishers: tuple[RoleName, ...],
    subscribers: tuple[RoleName, ...],
) -> Topic:
    # The tracker keeps the event log: it reads every pipeline topic.
    return Topic(
        name=event_type.topic,
        message=Event,
        payload=PAYLOAD_MODELS[event_type],
        key=TARGET_KEY,
        description=description,
        publishers=publishers,
        subscribers=(*subscribers, RoleName.TRACKER),
    )


TOPICS: tuple[Topic, ...] = (
    _pipeline(
        EventType.COMPARISON_REQUESTED,
        "A user asked to make a target match a source (or to roll a migration back).",
        publishers=(RoleName.GATEWAY,),
        subscribers=(RoleName.COMPARATOR,),
    ),
    _pipeline(
        EventType.DIFF_COMPUTED,
        "The operations that make the target match the source, with both fingerprints.",
        publishers=(RoleName.COMPARATOR,),
        subscribers=(RoleName.GENERATOR,),
    ),
    _pipeline(
        EventType.SCRIPT_GENERATED,
        "The ordered statements (and the reverse script) for the target's dialect.",
        publishers=(RoleName.GENERATOR,),
        subscribers=(RoleName.EXECUTOR,),
    ),
    _pipeline(
        EventType.MIGRATION_APPROVED,
        "A migration awaiting approval may run.",
        publishers=(RoleName.GATEWAY,),
        subscribers=(RoleName.EXECUTOR,),
    ),
    _pipeline(
        EventType.MIGRATION_REJECTED,
        "A migration awaiting approval was turned down: it ends without touching the target.",
        publishers=(RoleName.GATEWAY,),
        subscribers=(RoleName.COMPARATOR, RoleName.EXECUTOR),
    ),
    _pipeline(
        EventType.MIGRATION_PROGRESS,
        "One statement of the migration finished on the target (not yet committed).",
        publishers=(RoleName.EXECUTOR,),
        subscribers=(),
    ),
    _pipeline(
        EventType.MIGRATION_APPLIED,
        "The migration was committed on the target.",
        publishers=(RoleName.EXECUTOR,),
        subscribers=(RoleName.COMPARATOR,),
    ),
    _pipeline(
        EventType.MIGRATION_FAILED,
        "The migration ended without changing the target; the stage and reason say why.",
        publishers=(RoleName.COMPARATOR, RoleName.GENERATOR, RoleName.EXECUTOR),
        subscribers=(RoleName.COMPARATOR,),
    ),
    Topic(
        name=DEAD_LETTER_TOPIC,
        message=DeadLetter,
        key="the key of the message that could not be processed",
        description="Messages a role could not process, with the reason and original bytes.",
        publishers=CONSUMER_ROLES,
    ),
    Topic(
        name=REPLAY_TOPIC,
        message=Event,
        key=TARGET_KEY,
        description=(
            "Copies of stored events, in their original order, marked replayed; no role acts on "
            "them. A replay may also go to another topic its caller names."
        ),
        publishers=(RoleName.GATEWAY,),
    ),
)

TOPICS_BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}


def published_by(role: str) -> tuple[str, ...]:
    """The topics ``role`` publishes on."""
    return tuple(t.name for t in TOPICS if role in t.publishers)


def subscribed_by(role: str) -> tuple[str, ...]:
    """The topics ``role`` subscribes to."""
    return tuple(t.name for t in TOPICS if role in t.subscribers)
