"""Lanes, in memory: partitions side by side and each in order, commits after the effect, dead
letters, rewinds, batches, pauses and rebalances.

The Kafka consumer is replaced by a recorder of what lanes ask of it (commit, seek, pause); the
same behaviour on the real broker is covered by tests/pipeline (flows, crashes, two instances).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import uuid
from types import SimpleNamespace

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaBroker, TestKafkaBroker
from sqlalchemy.exc import OperationalError

from schemashift.consumers.common.deadletter import DeadLetters, PermanentError
from schemashift.consumers.common.lanes import Lanes
from schemashift.consumers.common.settings import Settings
from schemashift.schemas.events import (
    DEAD_LETTER_TOPIC,
    DeadLetter,
    Event,
    EventType,
    MigrationApplied,
)
from tests.support.consumer import FakeSource

TOPIC = EventType.MIGRATION_APPLIED.topic
SETTINGS = Settings(handler_retries=2, handler_backoff_s=0.001)


class RecordingDeadLetters(DeadLetters):
    def __init__(self) -> None:
        super().__init__(KafkaBroker(), "test", SETTINGS)
        self.letters: list[tuple[int, str]] = []

    async def send(self, msg, reason: str) -> None:
        self.letters.append((msg.raw_message.offset, reason))


def event(target: str = "t") -> Event:
    return Event(
        type=EventType.MIGRATION_APPLIED,
        migration_id=uuid.uuid4(),
        target=target,
        payload=MigrationApplied(statements_applied=1, duration_ms=1.0, checksum="x"),
    )


def message(partition: int, offset: int, body: bytes | Event) -> SimpleNamespace:
    value = body.model_dump_json().encode() if isinstance(body, Event) else body
    record = ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"t",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=(),
    )
    return SimpleNamespace(raw_message=record, body=value)


def lanes_for(handler=None, *, batch_handler=None, **options) -> tuple[Lanes, FakeSource]:
    lanes = Lanes(RecordingDeadLetters(), handler=handler, batch_handler=batch_handler, **options)
    source = FakeSource()
    lanes.bind(source)
    return lanes, source


async def test_one_partition_in_order_and_committed_after_each_effect():
    seen: list[uuid.UUID] = []
    commits: list[dict[TopicPartition, int]] = []

    async def handler(e: Event) -> None:
        # Nothing of this message is committed while it is in hand.
        assert all(c[TopicPartition(TOPIC, 0)] <= len(seen) for c in commits)
        await asyncio.sleep(0.001)
        seen.append(e.event_id)

    lanes, source = lanes_for(handler)
    commits = source.consumer.commits
    events = [event() for _ in range(5)]
    for offset, e in enumerate(events):
        lanes.accept(message(0, offset, e))
    await lanes.idle()
    assert seen == [e.event_id for e in events]
    assert commits == [{TopicPartition(TOPIC, 0): n} for n in range(1, 6)]


async def test_partitions_run_side_by_side_up_to_the_concurrency():
    running, most = 0, 0
    release = asyncio.Event()

    async def handler(e: Event) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    lanes, source = lanes_for(handler, slots=asyncio.Semaphore(3))
    for partition in range(6):
        lanes.accept(message(partition, 0, event()))
    await asyncio.sleep(0.01)
    assert running == 3, "three partitions should be in hand at once"
    release.set()
    await lanes.idle()
    assert most == 3
    assert source.consumer.committed() == {TopicPartition(TOPIC, p): 1 for p in range(6)}


async def test_partitions_finished_while_a_commit_is_out_share_the_next_one():
    in_flight, answer = asyncio.Event(), asyncio.Event()
    handled: list[tuple[int, int]] = []

    async def handler(e: Event) -> None:
        handled.append((int(e.target), len(handled)))

    lanes, source = lanes_for(handler, slots=asyncio.Semaphore(4))
    fake = source.consumer
    answered = fake.commit

    async def slow_first_commit(offsets: dict[TopicPartition, int]) -> None:
        if not fake.commits:
            in_flight.set()
            await answer.wait()
        await answered(offsets)

    fake.commit = slow_first_commit  # type: ignore[method-assign]
    lanes.accept(message(0, 0, event("0")))
    await in_flight.wait()
    # The first commit is out: partition 0 goes on with its next message meanwhile, and three
    # other partitions finish theirs.
    lanes.accept(message(0, 1, event("0")))
    for partition in (1, 2, 3):
        lanes.accept(message(partition, 0, event(str(partition))))
    await asyncio.sleep(0.01)
    assert len(handled) == 5, "lanes must not wait for the commit of what they handled"
    answer.set()
    await lanes.idle()
    tp = functools.partial(TopicPartition, TOPIC)
    assert fake.commits == [{tp(0): 1}, {tp(0): 2, tp(1): 1, tp(2): 1, tp(3): 1}]


async def test_an_offset_of_a_partition_no_longer_owned_is_not_committed():
    lanes, source = lanes_for(lambda e: asyncio.sleep(0))
    owned = {TopicPartition(TOPIC, 1)}
    source.consumer.assignment = lambda: owned  # type: ignore[method-assign]
    lanes.accept(message(0, 0, event()))
    lanes.accept(message(1, 5, event()))
    await lanes.idle()
    assert source.consumer.commits == [{TopicPartition(TOPIC, 1): 6}]


async def test_a_slow_partition_does_not_hold_another_up():
    slow = asyncio.Event()
    done: list[int] = []

    async def handler(e: Event) -> None:
        if e.target == "slow":
            await slow.wait()
        done.append(1 if e.target == "slow" else 2)

    lanes, _ = lanes_for(handler, slots=asyncio.Semaphore(2))
    lanes.accept(message(0, 0, event("slow")))
    for offset in range(3):
        lanes.accept(message(1, offset, event("fast")))
    await asyncio.sleep(0.01)
    assert done == [2, 2, 2]
    slow.set()
    await lanes.idle()
    assert done == [2, 2, 2, 1]


async def test_a_malformed_message_is_dead_lettered_committed_and_the_next_handled():
    handled: list[Event] = []

    async def handler(e: Event) -> None:
        handled.append(e)

    lanes, source = lanes_for(handler)
    lanes.accept(message(0, 0, b"{not json"))
    lanes.accept(message(0, 1, event()))
    await lanes.idle()
    letters = lanes._dead_letters.letters
    assert [offset for offset, _ in letters] == [0]
    assert "invalid event" in letters[0][1]
    assert len(handled) == 1
    assert source.consumer.commits[-1] == {TopicPartition(TOPIC, 0): 2}


async def test_a_permanent_error_is_dead_lettered_without_retries():
    calls = 0

    async def handler(e: Event) -> None:
        nonlocal calls
        calls += 1
        raise PermanentError("unexpected event type 'x' on this topic")

    lanes, source = lanes_for(handler)
    lanes.accept(message(0, 7, event()))
    await lanes.idle()
    assert calls == 1
    assert lanes._dead_letters.letters == [
        (7, "PermanentError: unexpected event type 'x' on this topic")
    ]
    assert source.consumer.commits == [{TopicPartition(TOPIC, 0): 8}]


async def test_an_error_that_outlasts_the_retries_is_dead_lettered():
    calls = 0

    async def handler(e: Event) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    lanes, source = lanes_for(handler)
    lanes.accept(message(0, 0, event()))
    await lanes.idle()
    assert calls == 1 + SETTINGS.handler_retries
    assert lanes._dead_letters.letters[0][1] == "RuntimeError: boom"
    assert source.consumer.commits == [{TopicPartition(TOPIC, 0): 1}]


async def test_infrastructure_away_rewinds_the_partition_and_drops_stale_reads():
    away = True
    handled: list[int] = []

    async def handler(e: Event) -> None:
        if away:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("metadata DB down"))
        handled.append(int(e.target))

    lanes, source = lanes_for(handler)
    events = [event(str(n)) for n in range(3)]
    for offset, e in enumerate(events):
        lanes.accept(message(0, 10 + offset, e))
    await lanes.idle()
    tp = TopicPartition(TOPIC, 0)
    assert source.consumer.seeks == [(tp, 10)]
    assert source.consumer.commits == []
    assert lanes._dead_letters.letters == []
    # Read before the seek, arriving late: dropped, since offset 10 comes again first.
    lanes.accept(message(0, 12, events[2]))
    await lanes.idle()
    assert handled == []
    away = False
    for offset, e in enumerate(events):
        lanes.accept(message(0, 10 + offset, e))
    await lanes.idle()
    assert handled == [0, 1, 2]
    assert source.consumer.commits[-1] == {tp: 13}


async def test_a_batch_takes_every_partition_waiting_and_commits_each():
    batches: list[list[str]] = []

    async def store(events: list[Event]) -> None:
        batches.append([e.target for e in events])

    lanes, source = lanes_for(batch_handler=store, max_batch=100)
    for offset in range(4):
        for partition in range(3):
            lanes.accept(message(partition, offset, event(f"{partition}:{offset}")))
    await lanes.idle()
    assert sum(len(b) for b in batches) == 12
    assert len(batches) <= 2, "the waiting events go in one call (the first may run alone)"
    committed: dict[TopicPartition, int] = {}
    for commit in source.consumer.commits:
        committed.update(commit)
    assert committed == {TopicPartition(TOPIC, p): 4 for p in range(3)}


async def test_a_poison_event_in_a_batch_is_dead_lettered_and_the_others_stored():
    stored: list[str] = []

    async def store(events: list[Event]) -> None:
        if any(e.target == "poison" for e in events):
            raise ValueError("cannot store this one")
        stored.extend(e.target for e in events)

    lanes, _ = lanes_for(batch_handler=store)
    for offset, target in enumerate(["a", "poison", "b"]):
        lanes.accept(message(0, offset, event(target)))
    await lanes.idle()
    assert sorted(stored) == ["a", "b"]
    assert [offset for offset, _ in lanes._dead_letters.letters] == [1]


async def test_a_revoked_partition_finishes_its_message_in_hand_and_drops_the_rest():
    started, release = asyncio.Event(), asyncio.Event()
    handled: list[str] = []

    async def handler(e: Event) -> None:
        started.set()
        await release.wait()
        handled.append(e.target)

    lanes, source = lanes_for(handler)
    for offset in range(3):
        lanes.accept(message(0, offset, event(str(offset))))
    await started.wait()
    revoking = asyncio.create_task(lanes.release({TopicPartition(TOPIC, 0)}))
    await asyncio.sleep(0.01)
    assert not revoking.done(), "the message in hand must finish before the partition goes"
    release.set()
    await revoking
    assert handled == ["0"]
    assert source.consumer.commits == [{TopicPartition(TOPIC, 0): 1}]


async def test_a_partition_with_many_waiting_is_paused_then_resumed():
    release = asyncio.Event()

    async def handler(e: Event) -> None:
        await release.wait()

    lanes, source = lanes_for(handler, pause_above=4)
    tp = TopicPartition(TOPIC, 0)
    for offset in range(6):
        lanes.accept(message(0, offset, event()))
    assert tp in source.consumer.paused()
    release.set()
    await lanes.idle()
    assert tp not in source.consumer.paused()


async def test_a_dead_letter_carries_the_reason_and_the_original_bytes():
    broker = KafkaBroker()
    letters = DeadLetters(broker, "generator", SETTINGS)
    async with TestKafkaBroker(broker):
        await letters.send(message(2, 5, b"{not json"), "not JSON")
        publisher = next(p for p in broker.publishers if p.topic == DEAD_LETTER_TOPIC)
        letter = DeadLetter.model_validate(publisher.mock.call_args[0][0])
    assert letter.consumer == "generator"
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        TOPIC,
        2,
        5,
    )
    assert base64.b64decode(letter.original_value_b64) == b"{not json"
    assert letter.reason == "not JSON"


def test_one_handler_kind_only():
    with pytest.raises(ValueError):
        Lanes(RecordingDeadLetters())
