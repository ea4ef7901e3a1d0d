"""Introspection entry point: connect to a database URL and read its schema as a Catalog.

The URL's driver (:mod:`schemashift.consumers.common.drivers`) connects; the introspector
registered for its dialect in :data:`INTROSPECTORS` reads the schema. Errors are reported as
:class:`IntrospectionError` subclasses whose messages never contain the password of the URL
(it is redacted to ``***``).
"""

from __future__ import annotations

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
    "AuthenticationFailed",
    "IntrospectionError",
    "Unreachable",
    "UnsupportedDialect",
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


async def introspect(
    url: str, *, pools: TargetPools | None = None, connect_timeout: float = 10.0
) -> Catalog:
    """Read the schema of the database at ``url``. Raises :class:`IntrospectionError`.

    With ``pools``, a pooled connection is used: a warm connection reads a small schema
    several times faster than a new one.
    """
    driver = driver_for_url(url)
    read = INTROSPECTORS.get(driver.dialect)
    if read is None:
        raise UnsupportedDialect(f"cannot read the schema of {driver.dialect} databases yet")
    async with driver.introspection_session(
        url, pools=pools, connect_timeout=connect_timeout
    ) as conn:
        return await read(conn)
