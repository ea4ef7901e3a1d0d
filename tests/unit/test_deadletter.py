"""Dead letters, in memory: a bad message goes aside with its reason and bytes; the next is handled.

The same behaviour on the real broker is covered by tests/pipeline/test_flows.py.
"""

import base64
import uuid

from faststream.kafka import TestKafkaBroker

from schemashift.consumers.generator.app import role
from schemashift.schemas.events import (
    DEAD_LETTER_TOPIC,
    DeadLetter,
    DiffComputed,
    DiffSummary,
    Event,
    EventType,
    MigrationApplied,
    Mode,
)


def _dead_letter_mock():
    for publisher in role.broker.publishers:
        if DEAD_LETTER_TOPIC in getattr(publisher, "topics", [getattr(publisher, "topic", "")]):
            return publisher
    raise AssertionError("the generator declares no dead-letter publisher")


def diff_event() -> Event:
    return Event(
        type=EventType.DIFF_COMPUTED,
        migration_id=uuid.uuid4(),
        target="t",
        payload=DiffComputed(
            source="s",
            target="t",
            mode=Mode.APPLY,
            dialect="postgresql",
            operations=[],
            summary=DiffSummary(),
            source_fingerprint="a",
            target_fingerprint="a",
        ),
    )


async def test_malformed_message_is_dead_lettered_with_reason_and_bytes():
    async with TestKafkaBroker(role.broker) as broker:
        publisher = _dead_letter_mock()
        await broker.publish(b"{not json", topic=EventType.DIFF_COMPUTED.topic, key=b"t")
        publisher.mock.assert_called_once()
        letter = DeadLetter.model_validate(publisher.mock.call_args[0][0])
        assert letter.consumer == "generator"
        assert letter.original_topic == EventType.DIFF_COMPUTED.topic
        assert base64.b64decode(letter.original_value_b64) == b"{not json"
        assert letter.reason


async def test_event_on_the_wrong_topic_is_dead_lettered():
    event = diff_event()
    async with TestKafkaBroker(role.broker) as broker:
        publisher = _dead_letter_mock()
        await broker.publish(event.model_dump_json().encode(), topic=EventType.DIFF_COMPUTED.topic)
        publisher.mock.assert_not_called()
        wrong = event.follow(
            MigrationApplied(statements_applied=1, duration_ms=1.0, checksum="x"), producer="t"
        )
        await broker.publish(wrong.model_dump_json().encode(), topic=EventType.DIFF_COMPUTED.topic)
        publisher.mock.assert_called_once()
        assert "unexpected event type" in publisher.mock.call_args[0][0]["reason"]
