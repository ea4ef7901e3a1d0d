"""The drivers of the registered databases' dialects, looked up by URL scheme or by dialect.

A dialect's driver lives in a module named after it (:mod:`.postgres`, :mod:`.sqlite`) and is
registered in :data:`DRIVERS` with one line; nothing else here knows any dialect. The metadata
database, which is always PostgreSQL, does not go through this registry (:mod:`..db`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from schemashift.consumers.common.drivers import mysql, postgres, sqlite
from schemashift.consumers.common.drivers.base import Connection, Driver, Pool
from schemashift.consumers.common.drivers.errors import (
    AuthenticationFailed,
    IntrospectionError,
    Unreachable,
    UnsupportedDialect,
    scrub,
)
from schemashift.consumers.common.redact import redact_url
from schemashift.schemas.dialects import Dialect

__all__ = [
    "DRIVERS",
    "AuthenticationFailed",
    "Connection",
    "Driver",
    "IntrospectionError",
    "Pool",
    "Unreachable",
    "UnsupportedDialect",
    "driver_for_dialect",
    "driver_for_url",
    "drivers",
    "scrub",
    "supported_schemes",
]

DRIVERS: dict[Dialect, Driver] = {
    Dialect.POSTGRESQL: postgres.DRIVER,
    Dialect.SQLITE: sqlite.DRIVER,
    Dialect.MYSQL: mysql.DRIVER,
}

_BY_SCHEME: dict[str, Driver] = {
    scheme: driver for driver in DRIVERS.values() for scheme in sorted(driver.schemes)
}


def drivers() -> tuple[Driver, ...]:
    """Every registered driver."""
    return tuple(DRIVERS.values())


def supported_schemes() -> dict[str, Dialect]:
    """URL scheme → the dialect whose driver connects to such URLs."""
    return {scheme: driver.dialect for scheme, driver in _BY_SCHEME.items()}


def driver_for_url(url: str) -> Driver:
    """The driver of ``url``'s scheme; :class:`UnsupportedDialect` (naming the scheme, with the
    URL's password redacted) when no registered driver has it."""
    scheme = urlsplit(url).scheme.lower()
    try:
        return _BY_SCHEME[scheme]
    except KeyError:
        raise UnsupportedDialect(
            f"unsupported database URL scheme {scheme!r}: {redact_url(url)}"
        ) from None


def driver_for_dialect(dialect: Dialect | str) -> Driver:
    """The driver of ``dialect``; :class:`UnsupportedDialect` when none is registered."""
    try:
        return DRIVERS[Dialect(dialect)]
    except (KeyError, ValueError):
        raise UnsupportedDialect(f"no driver for the {dialect!s} dialect") from None
