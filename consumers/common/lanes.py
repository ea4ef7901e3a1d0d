"""How a role works through one subscription: partitions side by side, each in order.

FastStream's subscriber owns the Kafka consumer (its group, its connection, its start and stop
with the broker); :class:`Lanes` decides what happens to each message it reads:

- messages of different partitions are handled concurrently, up to the role's concurrency;
  those of one partition (so of one target) one after another, in offset order;
- a partition's offset is committed once its message's effect is durable, and only that
  partition's (FastStream's ack commits the position of every partition at once, including
  messages still in hand elsewhere, so it is not used); the partitions finished while a commit
  is out share the next request (:mod:`.commits`);
- a batch subscription (the tracker) hands every message waiting, of all its partitions, to one
  call, and commits each partition after it;
- each call goes through the retry and dead-letter policy of :class:`~.deadletter.DeadLetters`;
  when the infrastructure stays away, the partition is rewound to the message, read again later;
- a partition with many messages waiting is paused, so that one slow target does not hold the
  others' messages up in memory;
- on a rebalance, a revoked partition's message in hand is finished and committed before the
  partition goes; what waited behind it is dropped (its new owner reads it again);
- each message's outcome is counted (:mod:`.metrics`), and the lanes know the position they
  committed on each partition they own, from which the consumer lag is computed at scrape time.

Messages are read with FastStream's ``get_one``, whose ``getmany`` lets a drained partition go
at once. Through ``getone``, a partition stays marked as buffered until the next read, so a
handler slower than aiokafka's prefetch backoff (100 ms) made the next fetch of its own partition
wait behind a fetch of the others, for up to ``fetch_max_wait_ms``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError
from pydantic import ValidationError

from schemashift.consumers.common import metrics, tracing
from schemashift.consumers.common.commits import Commits
from schemashift.consumers.common.deadletter import DeadLetters, Redeliver, reason_of
from schemashift.schemas.events import Event

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from faststream.kafka import KafkaMessage

log = logging.getLogger("schemashift.lanes")

Handler = Callable[[Event], Awaitable[None]]
BatchHandler = Callable[[list[Event]], Awaitable[None]]

# How long one read waits for a message before looking again (it returns as soon as one comes).
READ_WAIT_S = 30.0


class Source(Protocol):
    """What lanes need of a FastStream Kafka subscriber."""

    @property
    def consumer(self) -> AIOKafkaConsumer | None: ...

    async def get_one(self, *, timeout: float = ...) -> KafkaMessage | None: ...


def record_of(msg: KafkaMessage) -> ConsumerRecord[bytes, bytes]:
    """The Kafka record of ``msg`` (one record: subscriptions here are never FastStream batches)."""
    return cast("ConsumerRecord[bytes, bytes]", msg.raw_message)


def partition_of(msg: KafkaMessage) -> TopicPartition:
    """The topic and partition ``msg`` was read from."""
    record = record_of(msg)
    return TopicPartition(record.topic, record.partition)


def offset_of(msg: KafkaMessage) -> int:
    """The offset of ``msg`` in its partition."""
    return record_of(msg).offset


def _in_partition(tp: TopicPartition, msg: KafkaMessage) -> bool:
    return partition_of(msg) == tp


def _next_offsets(batch: Iterable[KafkaMessage]) -> dict[TopicPartition, int]:
    """Each partition's offset to commit once ``batch`` is handled: the one after its last."""
    offsets: dict[TopicPartition, int] = {}
    for msg in batch:
        tp = partition_of(msg)
        offsets[tp] = max(offsets.get(tp, 0), offset_of(msg) + 1)
    return offsets


def _outcome(event: Event, reason: str | None) -> str:
    if reason is not None:
        return metrics.DEAD_LETTERED
    return metrics.SKIPPED if event.replayed else metrics.HANDLED


def _fetch_position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    # aiokafka's position() is a coroutine only because it may wait for a reset; the value it
    # returns is this one, read as its highwater() reads the high-water mark.
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)
    except AttributeError:
        return None
    if state is None or not state.has_valid_position:
        return None
    return int(state.position)


@dataclass
class _Lane:
    waiting: deque[KafkaMessage] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class Lanes:
    """The messages of one subscription, worked through partition by partition.

    Give either ``handler`` (one event per call) or ``batch_handler`` (every event waiting, up
    to ``max_batch``, in one call; it must be idempotent for each event, as a batch is rewound
    whole). ``slots`` bounds the calls running at once (shared by a role's lanes; one at a
    time without it); ``pause_above`` the messages waiting in one partition before it is paused.
    """

    def __init__(
        self,
        dead_letters: DeadLetters,
        *,
        handler: Handler | None = None,
        batch_handler: BatchHandler | None = None,
        slots: asyncio.Semaphore | None = None,
        max_batch: int = 500,
        pause_above: int = 32,
    ) -> None:
        if (handler is None) == (batch_handler is None):
            raise ValueError("give one of handler and batch_handler")
        self._dead_letters = dead_letters
        self._handler = handler
        self._batch_handler = batch_handler
        self._slots = slots or asyncio.Semaphore(1)
        self._max_batch = max_batch
        self._pause_above = pause_above
        self._source: Source | None = None
        self._lanes: dict[TopicPartition | None, _Lane] = {}
        self._waiting: Counter[TopicPartition] = Counter()
        # After a rewind to an offset, messages read before it (stale) are dropped until it comes.
        self._rewound: dict[TopicPartition, int] = {}
        # The committed position of each partition owned: the last commit, else the first
        # offset read since it was assigned (reading starts at the committed offset).
        self._committed: dict[TopicPartition, int] = {}
        self._commits = Commits(lambda: self._consumer, self._committed.update)
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self.listener = _Listener(self)

    def bind(self, source: Source) -> None:
        """Read from ``source`` (the subscriber made with :attr:`listener`)."""
        self._source = source

    async def start(self) -> None:
        """Start reading (the subscriber must have started)."""
        self._closing = False
        self._reader = asyncio.create_task(self._read(), name="schemashift-lanes-reader")

    async def stop(self) -> None:
        """Stop reading; calls in hand finish and commit, messages waiting are dropped."""
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        for lane in self._lanes.values():
            self._drop(lane, lambda msg: True)
        await self._settle(self._lanes.values())
        await self._commits.flush()
        self._committed.clear()

    @property
    def _consumer(self) -> AIOKafkaConsumer:
        consumer = self._source.consumer if self._source else None
        if consumer is None:
            raise RuntimeError("the subscriber has not started")
        return consumer

    async def _read(self) -> None:
        assert self._source is not None, "bind() a subscriber first"
        while not self._closing:
            try:
                msg = await self._source.get_one(timeout=READ_WAIT_S)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.error("reading from Kafka failed (%s); trying again in 1 s", exc)
                await asyncio.sleep(1.0)
                continue
            if msg is not None:
                self.accept(msg)

    def accept(self, msg: KafkaMessage) -> None:
        """Queue ``msg`` in its partition's lane (or the batch lane) and start the lane."""
        tp = partition_of(msg)
        resume_at = self._rewound.get(tp)
        if resume_at is not None:
            if offset_of(msg) != resume_at:
                return  # read before the rewind: it comes again, in order
            del self._rewound[tp]
        self._committed.setdefault(tp, offset_of(msg))
        key = None if self._batch_handler else tp
        lane = self._lanes.setdefault(key, _Lane())
        lane.waiting.append(msg)
        self._waiting[tp] += 1
        if self._waiting[tp] == self._pause_above:
            self._consumer.pause(tp)
        if lane.task is None:
            lane.task = asyncio.create_task(self._run(lane))

    async def idle(self) -> None:
        """Wait until no message waits or is in hand, and what was handled is committed."""
        while any(lane.task for lane in self._lanes.values()):
            await self._settle(self._lanes.values())
        await self._commits.flush()

    async def _run(self, lane: _Lane) -> None:
        try:
            while lane.waiting:
                if self._batch_handler:
                    count = min(len(lane.waiting), self._max_batch)
                    batch = [lane.waiting.popleft() for _ in range(count)]
                else:
                    batch = [lane.waiting.popleft()]
                for msg in batch:
                    self._taken(partition_of(msg))
                async with self._slots:
                    await self._handle(batch)
        except Exception:
            # Nothing here is committed: the partition's messages come again after a restart.
            log.exception("a lane stopped on an unexpected error")
        finally:
            lane.task = None

    def _taken(self, tp: TopicPartition) -> None:
        self._waiting[tp] -= 1
        consumer = self._source.consumer if self._source else None
        if self._waiting[tp] == self._pause_above // 2 and consumer and tp in consumer.paused():
            consumer.resume(tp)
        if self._waiting[tp] <= 0:
            del self._waiting[tp]

    async def _handle(self, batch: list[KafkaMessage]) -> None:
        decoded: list[tuple[KafkaMessage, Event]] = []
        for msg in batch:
            try:
                decoded.append((msg, Event.model_validate_json(msg.body)))
            except ValidationError as exc:
                await self._dead_letters.send(msg, reason_of(exc))
                metrics.message_consumed(record_of(msg).topic, metrics.DEAD_LETTERED)
        ended: dict[int, str] = {}  # id of a message → its outcome, once it has one
        try:
            if self._batch_handler:
                with tracing.consuming_batch((record_of(m), e) for m, e in decoded):
                    await self._call_batch(self._batch_handler, decoded, ended)
            elif decoded:
                ((msg, event),) = decoded
                handler = self._handler
                assert handler is not None
                with tracing.consuming(record_of(msg), event):
                    ended[id(msg)] = await self._call_one(lambda: handler(event), msg, event)
        except Redeliver:
            self._count(decoded, ended, redelivered=True)
            self._rewind(batch)
            return
        self._count(decoded, ended, redelivered=False)
        self._commits.hand(_next_offsets(batch))

    @staticmethod
    def _count(
        decoded: list[tuple[KafkaMessage, Event]], ended: dict[int, str], *, redelivered: bool
    ) -> None:
        # A message without an outcome of its own shares the call's: handled (or skipped), or
        # read again later when the infrastructure stayed away.
        for msg, event in decoded:
            outcome = ended.get(id(msg))
            if outcome is None:
                outcome = metrics.REDELIVERED if redelivered else _outcome(event, None)
            metrics.message_consumed(record_of(msg).topic, outcome)

    async def _call_one(
        self, call: Callable[[], Awaitable[None]], msg: KafkaMessage, event: Event
    ) -> str:
        reason = await self._dead_letters.attempt(call)
        if reason is not None:
            await self._dead_letters.send(msg, reason)
        return _outcome(event, reason)

    async def _call_batch(
        self,
        handler: BatchHandler,
        decoded: list[tuple[KafkaMessage, Event]],
        ended: dict[int, str],
    ) -> None:
        if not decoded:
            return
        events = [event for _, event in decoded]
        if await self._dead_letters.attempt(lambda: handler(events)) is None:
            return
        # One of them cannot be handled: find which, one at a time; the others go on.
        for msg, event in decoded:
            ended[id(msg)] = await self._call_one(functools.partial(handler, [event]), msg, event)

    def _rewind(self, batch: Iterable[KafkaMessage]) -> None:
        earliest: dict[TopicPartition, int] = {}
        for msg in batch:
            tp = partition_of(msg)
            earliest[tp] = min(earliest.get(tp, offset_of(msg)), offset_of(msg))
        for tp, offset in earliest.items():
            for lane in self._lanes.values():
                self._drop(lane, functools.partial(_in_partition, tp))
            try:
                self._consumer.seek(tp, offset)
            except IllegalStateError:
                continue  # no longer ours: its new owner starts at the committed offset
            self._rewound[tp] = offset

    def _drop(self, lane: _Lane, which: Callable[[KafkaMessage], bool]) -> None:
        kept: deque[KafkaMessage] = deque()
        for msg in lane.waiting:
            if which(msg):
                self._taken(partition_of(msg))
            else:
                kept.append(msg)
        lane.waiting = kept

    async def release(self, partitions: set[TopicPartition]) -> None:
        """The group takes ``partitions`` away: finish their calls in hand, drop the rest."""
        lanes = []
        for key, lane in self._lanes.items():
            self._drop(lane, lambda msg: partition_of(msg) in partitions)
            if key is None or key in partitions:
                lanes.append(lane)
        for tp in partitions:
            self._rewound.pop(tp, None)
        await self._settle(lanes)
        await self._commits.flush()
        for tp in partitions:
            # Its next owner commits from now on; if it comes back, reading tells again.
            self._committed.pop(tp, None)

    def offsets(self) -> list[metrics.PartitionOffsets]:
        """High-water mark and committed position of each partition owned (for the lag,
        :class:`~.metrics.ConsumerLag`): what the consumer and the lanes know, no broker call."""
        consumer = self._source.consumer if self._source else None
        if consumer is None:
            return []
        owned = []
        for tp in sorted(consumer.assignment()):
            committed = self._committed.get(tp)
            if committed is None:
                committed = _fetch_position(consumer, tp)
            owned.append(
                metrics.PartitionOffsets(tp.topic, tp.partition, consumer.highwater(tp), committed)
            )
        return owned

    @staticmethod
    async def _settle(lanes: Iterable[_Lane]) -> None:
        tasks = [lane.task for lane in lanes if lane.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lanes: Lanes) -> None:
        self._lanes = lanes

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._lanes.release(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass
