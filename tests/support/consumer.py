"""A stand-in for aiokafka's consumer and FastStream's subscriber, as lanes use them.

It records what lanes ask of the consumer (commits, seeks, pauses) and answers what they read
of it (the assignment, high-water marks); the same behaviour on the real broker is covered by
tests/pipeline.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from schemashift.schemas.events import ALL_TOPICS

# Without high-water marks, the consumer owns every partition a test can name.
EVERY_PARTITION = frozenset(TopicPartition(topic, p) for topic in ALL_TOPICS for p in range(12))


class FakeConsumer:
    """What lanes ask of aiokafka's consumer; owns the partitions of ``highwater`` if given."""

    def __init__(self, highwater: dict[TopicPartition, int] | None = None) -> None:
        self.highwaters = dict(highwater or {})
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self._paused: set[TopicPartition] = set()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        await asyncio.sleep(0)  # a request to the broker: other lanes go on meanwhile

    def committed(self) -> dict[TopicPartition, int]:
        """The last committed offset of each partition, over every request."""
        last: dict[TopicPartition, int] = {}
        for commit in self.commits:
            last.update(commit)
        return last

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def assignment(self) -> set[TopicPartition]:
        return set(self.highwaters) if self.highwaters else set(EVERY_PARTITION)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp]


class FakeSource:
    """A subscriber that never delivers on its own: tests hand lanes their messages."""

    def __init__(self, consumer: FakeConsumer | None = None) -> None:
        self.consumer = consumer or FakeConsumer()

    async def get_one(self, *, timeout: float = 0) -> None:
        await asyncio.sleep(timeout)
