"""Introspection entry point: connect to a database URL and read its schema as a Catalog.

The URL's driver (:mod:`schemashift.consumers.common.drivers`) connects; the introspector
registered for its dialect in :data:`INTROSPECTORS` reads the schema. Errors are reported as
:class:`IntrospectionError` subclasses whose messages never contain the password of the URL
(it is redacted to ``***``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from schemashift.consumers.common.drivers import (
    AuthenticationFailed,
    Connection,
    IntrospectionError,
    Unreachable,
    UnsupportedDialect,
    driver_for_url,
)
from schemashift.consumers.common.redact import redact_url
from schemashift.consumers.common.targets import TargetPools
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect

from . import mysql, postgres, sqlite

__all__ = [
    "INTROSPECTORS",
    "STAMPS",
    "AuthenticationFailed",
    "CatalogCache",
    "IntrospectionError",
    "Unreachable",
    "UnsupportedDialect",
    "current_fingerprint",
    "introspect",
    "redact_url",
]

# Reads the schema behind a driver's connection of the same dialect.
Introspector = Callable[[Connection], Awaitable[Catalog]]

INTROSPECTORS: dict[Dialect, Introspector] = {
    Dialect.POSTGRESQL: postgres.introspect_connection,
    Dialect.SQLITE: sqlite.introspect_connection,
    Dialect.MYSQL: mysql.introspect_connection,
}


# One query whose answer changes whenever the schema may have (see each dialect's
# ``read_stamp``). A dialect without one (MySQL) is always read whole.
Stamp = Callable[[Connection], Awaitable[str]]

STAMPS: dict[Dialect, Stamp] = {
    Dialect.POSTGRESQL: postgres.read_stamp,
    Dialect.SQLITE: sqlite.read_stamp,
}


class CatalogCache:
    """The catalogs read last, by URL: one whose database still has its stamp is the schema,
    and is not read again.

    At most ``max_entries`` catalogs and ``max_objects`` tables, views and functions in all are
    kept (a few large schemas weigh as much as thousands of small ones); the least recently
    used go first.
    """

    def __init__(self, max_entries: int = 32, max_objects: int = 50_000) -> None:
        self._max_entries = max_entries
        self._max_objects = max_objects
        self._catalogs: OrderedDict[str, tuple[Catalog, int]] = OrderedDict()
        self._objects = 0

    def get(self, url: str) -> Catalog | None:
        """The catalog last read from ``url``, if kept."""
        kept = self._catalogs.get(url)
        if kept is None:
            return None
        self._catalogs.move_to_end(url)
        return kept[0]

    def put(self, url: str, catalog: Catalog) -> None:
        """Keep ``catalog`` as the one read from ``url`` (if it has a stamp to check it by)."""
        if (old := self._catalogs.pop(url, None)) is not None:
            self._objects -= old[1]
        if catalog.stamp is None:
            return
        weight = 1 + len(catalog.tables) + len(catalog.views) + len(catalog.functions)
        self._catalogs[url] = (catalog, weight)
        self._objects += weight
        while len(self._catalogs) > self._max_entries or (
            self._objects > self._max_objects and len(self._catalogs) > 1
        ):
            self._objects -= self._catalogs.popitem(last=False)[1][1]


async def introspect(
    url: str,
    *,
    pools: TargetPools | None = None,
    connect_timeout: float = 10.0,
    cache: CatalogCache | None = None,
) -> Catalog:
    """Read the schema of the database at ``url``. Raises :class:`IntrospectionError`.

    With ``pools``, a pooled connection is used: a warm connection reads a small schema
    several times faster than a new one. With ``cache``, a catalog read before is answered
    again if the database's stamp says that its schema did not change, in one query.
    """
    cached = cache.get(url) if cache is not None else None
    catalog = await _read(
        url,
        pools=pools,
        connect_timeout=connect_timeout,
        unless_stamp=cached.stamp if cached is not None else None,
    )
    if catalog is None:
        assert cached is not None
        return cached
    if cache is not None:
        cache.put(url, catalog)
    return catalog


async def current_fingerprint(
    url: str,
    *,
    pools: TargetPools | None = None,
    stamp: str | None = None,
    fingerprint: str | None = None,
) -> str:
    """The fingerprint of the schema at ``url``; raises :class:`IntrospectionError`.

    Given the ``stamp`` and ``fingerprint`` of an earlier read, a database that still has that
    stamp answers in one query: its schema is the one ``fingerprint`` was made of.
    """
    catalog = await _read(url, pools=pools, unless_stamp=stamp if fingerprint else None)
    if catalog is None:
        assert fingerprint is not None
        return fingerprint
    return catalog.fingerprint()


async def _read(
    url: str,
    *,
    pools: TargetPools | None,
    connect_timeout: float = 10.0,
    unless_stamp: str | None = None,
) -> Catalog | None:
    """The schema at ``url``; None if the database's stamp is still ``unless_stamp``."""
    driver = driver_for_url(url)
    read = INTROSPECTORS.get(driver.dialect)
    if read is None:
        raise UnsupportedDialect(f"cannot read the schema of {driver.dialect} databases yet")
    stamp = STAMPS.get(driver.dialect)
    async with driver.introspection_session(
        url, pools=pools, connect_timeout=connect_timeout
    ) as conn:
        if unless_stamp is not None and stamp is not None and await stamp(conn) == unless_stamp:
            return None
        return await read(conn)
