"""One LISTEN connection per gateway process, shared by every live stream.

The tracker sends a NOTIFY with the migration id after each commit. A stream per connection
cost the database a new backend (a process) for every client following a migration; here one
connection listens and wakes the streams of that migration only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

log = logging.getLogger("schemashift.gateway.notifications")


class Notifications:
    """Wakes the waiters of a migration when the tracker stores one of its events (it
    notifies ``channel`` with the migration id)."""

    def __init__(self, database_url: str, channel: str) -> None:
        self._url = database_url
        self._channel = channel
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    async def ensure(self) -> None:
        """Listen, again if the connection was lost (a stream calls it before each wait)."""
        if self._conn is not None and not self._conn.is_closed():
            return
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return
            conn = await asyncpg.connect(self._url)
            conn.add_termination_listener(self._lost)
            await conn.add_listener(self._channel, self._notified)
            self._conn = conn

    def _notified(self, *args: Any) -> None:
        for woken in self._waiters.get(args[-1], ()):
            woken.set()

    def _lost(self, _conn: object) -> None:
        # Notifications sent meanwhile are gone: wake every stream so that it reads again.
        log.warning("the notification connection closed; listening again on the next wait")
        self._conn = None
        for waiters in self._waiters.values():
            for woken in waiters:
                woken.set()

    @asynccontextmanager
    async def watch(self, migration_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """An event set whenever an event of ``migration_id`` is stored (clear it, read, wait);
        raises the driver's error if the database cannot be reached."""
        woken = asyncio.Event()
        key = str(migration_id)
        self._waiters[key].add(woken)
        try:
            await self.ensure()
            yield woken
        finally:
            self._waiters[key].discard(woken)
            if not self._waiters[key]:
                del self._waiters[key]

    async def close(self) -> None:
        """Close the connection (at shutdown)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            # Closed on purpose: not the loss that _lost reports.
            conn.remove_termination_listener(self._lost)
            await conn.close()
