"""TargetPools keeps at most ``max_pools`` pools open, closing the least recently used idle one,
never one in use (SQLite files stand in for a fleet of databases)."""

from __future__ import annotations

import sqlite3

from schemashift.consumers.common.targets import TargetPools


def _databases(tmp_path, count: int) -> list[str]:
    urls = []
    for n in range(count):
        path = tmp_path / f"db{n}.sqlite"
        sqlite3.connect(path).close()
        urls.append(f"sqlite:///{path}")
    return urls


async def test_only_the_most_recently_used_pools_stay_open(tmp_path):
    pools = TargetPools(max_pools=3)
    urls = _databases(tmp_path, 5)
    try:
        for url in urls:
            async with pools.connection(url):
                pass
        assert list(pools._pools) == urls[2:]
        async with pools.connection(urls[2]):  # used again: now the most recent
            pass
        async with pools.connection(urls[0]):
            pass
        assert list(pools._pools) == [urls[4], urls[2], urls[0]]
    finally:
        await pools.close()


async def test_a_pool_in_use_is_never_closed(tmp_path):
    pools = TargetPools(max_pools=1)
    first, second, third = _databases(tmp_path, 3)
    try:
        async with pools.connection(first) as conn:
            async with pools.connection(second):
                pass
            assert first in pools._pools, "closed while a connection of it was in hand"
            assert conn is not None
        async with pools.connection(third):  # both idle now: the bound holds again
            pass
        assert list(pools._pools) == [third]
    finally:
        await pools.close()
