"""Following one migration live: its events as the tracker stores them, in causal order.

The REST API's event stream and the console's timeline are two renderings of :func:`follow`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.tracker import store
from schemashift.consumers.tracker.causal import LiveOrder, Stored
from schemashift.gateway.api.notifications import Notifications
from schemashift.schemas.events import MigrationStatus


@dataclass(frozen=True)
class Update:
    """What one read found: the migration's row, the events that may be shown now (in
    order, each once), and whether the migration has ended with every event shown."""

    row: dict[str, Any] | None
    released: list[Stored]
    ended: bool


async def follow(
    engine: AsyncEngine, notifications: Notifications, migration_id: uuid.UUID
) -> AsyncGenerator[Update | None, None]:
    """An :class:`Update` after each read, woken by the tracker's NOTIFY, until one that has
    ``ended``; None after a quiet spell (a stream sends a keep-alive then)."""
    order = LiveOrder()
    loop = asyncio.get_running_loop()
    async with notifications.watch(migration_id) as woken:
        while True:
            woken.clear()
            row, new = await store.migration_and_events(
                engine, migration_id, after_seq=order.last_seq
            )
            released = order.release(new, loop.time())
            ended = bool(row and MigrationStatus(row["status"]).is_final and order.settled)
            yield Update(row, released, ended)
            if ended:
                return
            await notifications.ensure()
            try:
                # Held-back events are released by time, so wake up often while some wait.
                timeout = 15 if order.settled else 0.5
                await asyncio.wait_for(woken.wait(), timeout=timeout)
            except TimeoutError:
                if order.settled:
                    yield None


class Followed:
    """A migration followed from its first read that found its row: iterate for that update
    and every one after it (as :func:`follow` yields them)."""

    def __init__(self, first: Update, rest: AsyncGenerator[Update | None, None]) -> None:
        self.first = first
        self._rest = rest

    async def __aiter__(self) -> AsyncIterator[Update | None]:
        try:
            yield self.first
            if not self.first.ended:
                async for update in self._rest:
                    yield update
        finally:
            await self._rest.aclose()


async def follow_tracked(
    engine: AsyncEngine, notifications: Notifications, migration_id: uuid.UUID, *, grace_s: float
) -> Followed | None:
    """:func:`follow` once the migration is tracked, within ``grace_s`` seconds (a client that
    follows it right after requesting it may be ahead of the tracker; the tracker's NOTIFY
    wakes the wait); None if it is not. Its first read is the stream's first update."""
    updates = follow(engine, notifications, migration_id)
    deadline = asyncio.get_running_loop().time() + grace_s
    update = await anext(updates)  # the first read always runs, whatever the grace
    try:
        async with asyncio.timeout_at(deadline):
            while update is None or update.row is None:
                update = await anext(updates)
    except TimeoutError:
        await updates.aclose()
        return None
    return Followed(update, updates)
