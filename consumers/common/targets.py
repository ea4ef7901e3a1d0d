"""Pooled connections to the databases being compared and migrated.

Opening a connection costs more than introspecting a small schema, so each role keeps a small
pool per database URL. A fleet has more databases than a process should hold connections to,
so only the pools of the ``max_pools`` URLs used last stay open: the least recently used idle
pool is closed when another one is needed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from schemashift.consumers.common.drivers import Connection, Pool, driver_for_url


class TargetPools:
    """Connection pools keyed by URL, created on first use, closed when least recently used
    (beyond ``max_pools``) and all together at the end; ``session_state=False`` when their
    users change nothing of a session beyond their transactions (see ``Driver.create_pool``)."""

    def __init__(
        self,
        *,
        max_size: int = 2,
        max_pools: int = 64,
        connect_timeout: float = 10.0,
        session_state: bool = True,
    ) -> None:
        # Two per database: a source compared with several targets at once is read on both.
        self._max_size = max_size
        self._max_pools = max_pools
        self._timeout = connect_timeout
        self._session_state = session_state
        # Most recently used last.
        self._pools: OrderedDict[str, Pool] = OrderedDict()
        self._in_use: dict[str, int] = {}
        self._creating: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def _pool(self, url: str) -> Pool:
        pool = self._pools.get(url)
        if pool is None:
            # One creation per URL at a time; other URLs do not wait for it.
            async with self._creating.setdefault(url, asyncio.Lock()):
                pool = self._pools.get(url)
                if pool is None:
                    pool = await driver_for_url(url).create_pool(
                        url,
                        max_size=self._max_size,
                        timeout=self._timeout,
                        session_state=self._session_state,
                    )
                    self._evict()
                    self._pools[url] = pool
        self._pools.move_to_end(url)
        return pool

    def _evict(self) -> None:
        idle = [url for url in self._pools if not self._in_use.get(url)]
        for url in idle[: max(0, len(self._pools) - self._max_pools + 1)]:
            # Closed in the background: a connection's goodbye is no reason to wait.
            task = asyncio.create_task(self._pools.pop(url).close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    @asynccontextmanager
    async def connection(self, url: str) -> AsyncIterator[Connection]:
        """A pooled connection to ``url``; raises the driver's own errors (and
        :class:`~.drivers.UnsupportedDialect` for a URL that no driver connects to)."""
        self._in_use[url] = self._in_use.get(url, 0) + 1
        try:
            pool = await self._pool(url)
            async with pool.acquire() as conn:
                yield conn
        finally:
            self._in_use[url] -= 1
            if not self._in_use[url]:
                del self._in_use[url]

    async def close(self) -> None:
        """Close every pool (at shutdown)."""
        pools, self._pools = list(self._pools.values()), OrderedDict()
        await asyncio.gather(*(p.close() for p in pools), *self._closing, return_exceptions=True)
