"""Pooled connections to the databases being compared and migrated.

Opening a connection costs more than introspecting a small schema, so each role keeps a small
pool per database URL for its lifetime. The URL's driver (:mod:`.drivers`) makes the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from schemashift.consumers.common.drivers import Connection, Pool, driver_for_url


class TargetPools:
    """Connection pools keyed by URL, created on first use and closed together."""

    def __init__(self, *, max_size: int = 4, connect_timeout: float = 10.0) -> None:
        self._pools: dict[str, Pool] = {}
        self._lock = asyncio.Lock()
        self._max_size = max_size
        self._timeout = connect_timeout

    async def _pool(self, url: str) -> Pool:
        pool = self._pools.get(url)
        if pool is None:
            async with self._lock:
                pool = self._pools.get(url)
                if pool is None:
                    pool = await driver_for_url(url).create_pool(
                        url, max_size=self._max_size, timeout=self._timeout
                    )
                    self._pools[url] = pool
        return pool

    @asynccontextmanager
    async def connection(self, url: str) -> AsyncIterator[Connection]:
        """A pooled connection to ``url``; raises the driver's own errors (and
        :class:`~.drivers.UnsupportedDialect` for a URL that no driver connects to)."""
        pool = await self._pool(url)
        async with pool.acquire() as conn:
            yield conn

    async def close(self) -> None:
        """Close every pool (at shutdown)."""
        pools, self._pools = list(self._pools.values()), {}
        await asyncio.gather(*(p.close() for p in pools), return_exceptions=True)
