"""Offsets of handled messages, committed for many partitions in one request.

A lane hands over its partition's next offset once the message's effect is durable and goes on
with its next message; :class:`Commits` sends what it was handed in one OffsetCommit request,
one request at a time. When the role is quiet, a commit leaves the moment it is handed (there is
no timer to wait for); when it is busy, the offsets of every partition finished while a request
was out share the next one. One request per handled message made the group coordinator the
broker's largest cost under load (its offset log is written once per request).

An offset is only ever committed after its message's effect (nothing else hands one over), so a
crash between the effect and the commit means the message is read again, as before: handlers are
idempotent by event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

log = logging.getLogger("schemashift.lanes")


class Commits:
    """The offsets waiting to be committed on ``consumer()``, and the request sending them.

    ``on_committed`` hears of every offset the broker accepted.
    """

    def __init__(
        self,
        consumer: Callable[[], AIOKafkaConsumer],
        on_committed: Callable[[Mapping[TopicPartition, int]], None],
    ) -> None:
        self._consumer = consumer
        self._on_committed = on_committed
        self._pending: dict[TopicPartition, int] = {}
        self._sender: asyncio.Task[None] | None = None

    def hand(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit ``offsets`` (each a partition's next offset to read) with the next request."""
        for tp, offset in offsets.items():
            if offset > self._pending.get(tp, -1):
                self._pending[tp] = offset
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="schemashift-commits")

    async def flush(self) -> None:
        """Wait until everything handed so far was committed (or failed to be)."""
        while self._sender is not None:
            await asyncio.shield(self._sender)

    async def _send(self) -> None:
        try:
            while self._pending:
                offsets, self._pending = self._pending, {}
                await self._commit(offsets)
        finally:
            self._sender = None

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            consumer = self._consumer()
            # A partition taken away since its message was handled fails the whole request.
            owned = consumer.assignment()
            offsets = {tp: offset for tp, offset in offsets.items() if tp in owned}
            if not offsets:
                return
            await consumer.commit(offsets)
        except (KafkaError, IllegalStateError, RuntimeError) as exc:
            # The effect is durable and idempotent: whoever reads the message again finds it.
            log.warning("commit of %s failed (%s): the messages will be read again", offsets, exc)
            return
        self._on_committed(offsets)
