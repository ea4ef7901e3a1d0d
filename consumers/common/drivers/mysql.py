"""The MySQL and MariaDB driver, on aiomysql (one driver for both: the flavour is the server's).

URLs are ``mysql://user:password@host:port/database`` or ``mariadb://...``; connections run in
autocommit (every MySQL DDL statement commits on its own anyway) with ``utf8mb4``. The
connected database is the one schema a catalog describes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiomysql
import pymysql
from sqlalchemy.dialects import mysql

from schemashift.consumers.common.drivers.base import Driver, Pool
from schemashift.consumers.common.drivers.errors import (
    AuthenticationFailed,
    IntrospectionError,
    Unreachable,
    scrub,
)
from schemashift.consumers.common.redact import redact_url
from schemashift.schemas.dialects import Dialect

# Server error codes (ER_*) and client ones (CR_*) the translation reads.
ACCESS_DENIED = frozenset({1044, 1045, 1698})  # to a database, for a user, plugin refused
UNKNOWN_DATABASE = 1049
CANNOT_CONNECT = frozenset({2002, 2003, 2004, 2005, 2006, 2012, 2013, 2026, 2055})
# The connection broke while in use: the server went away, or the link was lost mid-query.
CONNECTION_LOST = frozenset({2006, 2013, 2055})


@dataclass(frozen=True)
class Address:
    """What a MySQL URL says: where to connect, as whom, to which database."""

    host: str
    port: int
    user: str
    password: str
    database: str
    unix_socket: str | None = None

    def options(self, *, timeout: float) -> dict[str, Any]:
        """aiomysql's keyword arguments for a connection to this address."""
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "db": self.database,
            "autocommit": True,
            "charset": "utf8mb4",
            "connect_timeout": timeout,
        }
        if self.unix_socket:
            options["unix_socket"] = self.unix_socket
        return options


def parse_url(url: str) -> Address:
    """The :class:`Address` of a ``mysql://`` or ``mariadb://`` URL (port 3306 by default;
    ``?unix_socket=/path`` connects through a socket). ValueError without a database name."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError(f"a MySQL URL names one database: {redact_url(url)}")
    query = parse_qs(parts.query)
    return Address(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
        unix_socket=next(iter(query.get("unix_socket", [])), None),
    )


def literal(text: str) -> str:
    """A MySQL string literal: quotes doubled, backslashes escaped (the servers' default
    sql_mode reads a backslash as an escape; SQLAlchemy's processor knows that only once
    connected)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def error_code(exc: BaseException) -> int | None:
    """The server's or client's numeric error code of a PyMySQL error, if it has one."""
    args = getattr(exc, "args", ())
    if isinstance(exc, pymysql.err.MySQLError) and args and isinstance(args[0], int):
        return args[0]
    return None


def error_message(exc: BaseException) -> str:
    """The text of a PyMySQL error without its code (``str()`` shows the argument tuple)."""
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if isinstance(exc, pymysql.err.MySQLError) and len(args) >= 2:
        return str(args[1])
    return str(exc) or type(exc).__name__


class _Pool:
    """aiomysql's pool as :class:`Pool` (whose ``close`` is awaited)."""

    def __init__(self, pool: aiomysql.Pool) -> None:
        self._pool = pool

    def acquire(self) -> AbstractAsyncContextManager[Any]:
        acquired: AbstractAsyncContextManager[Any] = self._pool.acquire()
        return acquired

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()


class MysqlDriver(Driver):
    """aiomysql connections and pools; PyMySQL's errors as :class:`IntrospectionError` kinds."""

    dialect = Dialect.MYSQL
    schemes = frozenset({"mysql", "mariadb"})
    # Backticks, as both servers print identifiers.
    sql_dialect = mysql.dialect()

    @asynccontextmanager
    async def connect(self, url: str, *, timeout: float) -> AsyncIterator[Any]:
        conn = await aiomysql.connect(**parse_url(url).options(timeout=timeout))
        try:
            yield conn
        finally:
            conn.close()

    async def create_pool(
        self, url: str, *, max_size: int, timeout: float, session_state: bool = True
    ) -> Pool:
        options = parse_url(url).options(timeout=timeout)
        return _Pool(await aiomysql.create_pool(minsize=0, maxsize=max_size, **options))

    def translate_error(self, exc: BaseException, url: str) -> IntrospectionError | None:
        where = redact_url(url)
        code = error_code(exc)
        detail = error_message(exc)
        if code in ACCESS_DENIED:
            return AuthenticationFailed(scrub(f"authentication failed for {where}: {detail}", url))
        if code == UNKNOWN_DATABASE:
            return IntrospectionError(
                scrub(f"cannot read the schema of {where}: the database does not exist", url)
            )
        if code in CANNOT_CONNECT or (code is None and isinstance(exc, OSError | TimeoutError)):
            return Unreachable(scrub(f"cannot reach {where}: {detail}", url))
        if isinstance(exc, pymysql.err.MySQLError):
            return IntrospectionError(scrub(f"cannot read the schema of {where}: {detail}", url))
        if isinstance(exc, ValueError) and "MySQL URL" in str(exc):
            return IntrospectionError(scrub(str(exc), url))
        return None

    def is_connection_lost(self, exc: BaseException) -> bool:
        if isinstance(exc, pymysql.err.InterfaceError):
            return True
        return isinstance(exc, pymysql.err.OperationalError) and error_code(exc) in CONNECTION_LOST


DRIVER = MysqlDriver()
