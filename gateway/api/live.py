"""Following one migration live: its events as the tracker stores them, in causal order.

The REST API's event stream and the console's timeline are two renderings of :func:`follow`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
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
) -> AsyncIterator[Update | None]:
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
