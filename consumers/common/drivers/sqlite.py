"""The SQLite driver, on aiosqlite.

A SQLite database is a file: its URL is ``sqlite:///`` followed by the file's absolute path
(``sqlite:///srv/app/data.db`` is ``/srv/app/data.db``). In-memory databases and relative
paths are refused (a migration must change a database that outlives the connection, and a
relative path would depend on the working directory of whichever role opens it), and so is
a file that does not exist: connecting never creates one.

Connections are in autocommit mode (``isolation_level=None``): nothing begins a transaction
behind the caller's back, so the executor decides where ``BEGIN`` goes and can set the
PRAGMAs that must run outside a transaction. They keep SQLite's own defaults otherwise
(``foreign_keys`` off).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aiosqlite
from sqlalchemy.dialects import sqlite

from schemashift.consumers.common.drivers.base import Driver, Pool
from schemashift.consumers.common.drivers.errors import IntrospectionError, Unreachable, scrub
from schemashift.schemas.dialects import Dialect


class InvalidSQLiteURL(IntrospectionError):
    """The URL does not name a SQLite database file by its absolute path."""


def database_path(url: str) -> str:
    """The absolute file path of a ``sqlite:///abs/path.db`` URL; :class:`InvalidSQLiteURL`
    (with the reason) for an in-memory database, a relative path or anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise InvalidSQLiteURL(f"not a sqlite URL: {url}")
    path = unquote(parts.path)
    if parts.query or parts.fragment:
        raise InvalidSQLiteURL(f"sqlite URLs take no query or fragment: {url}")
    if path in ("/:memory:", ":memory:") or parts.netloc == ":memory:":
        raise InvalidSQLiteURL(
            f"{url} is an in-memory database, which no other connection can see: "
            "use sqlite:///<absolute path of a file>"
        )
    if parts.netloc or not path.startswith("/"):
        raise InvalidSQLiteURL(
            f"{url} is not an absolute path: use sqlite:///<absolute path of a file> "
            "(a relative path would depend on the working directory)"
        )
    # sqlite:////abs/path.db, SQLAlchemy's spelling of an absolute path, names the same file.
    return "/" + path.lstrip("/")


class _Pool:
    """A few aiosqlite connections to one file, opened on demand and reused."""

    def __init__(self, driver: SQLiteDriver, url: str, max_size: int, timeout: float) -> None:
        self._driver, self._url, self._timeout = driver, url, timeout
        self._idle: list[aiosqlite.Connection] = []
        self._open: set[aiosqlite.Connection] = set()
        self._slots = asyncio.Semaphore(max_size)

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._driver.open(self._url)
            self._open.add(conn)
            healthy = False
            try:
                yield conn
                healthy = not conn.in_transaction
            finally:
                self._open.discard(conn)
                if healthy:
                    self._idle.append(conn)
                else:  # a transaction left open (the caller failed): start afresh
                    await _close(conn)

    def acquire(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        return self._acquire()

    async def close(self) -> None:
        conns, self._idle = [*self._idle, *self._open], []
        for conn in conns:
            await _close(conn)


async def _close(conn: aiosqlite.Connection) -> None:
    with contextlib.suppress(sqlite3.Error, ValueError):
        await conn.close()


class SQLiteDriver(Driver):
    """aiosqlite connections to database files; sqlite3's errors as IntrospectionError kinds."""

    dialect = Dialect.SQLITE
    schemes = frozenset({"sqlite"})
    sql_dialect = sqlite.dialect()

    def check_url(self, url: str) -> None:
        # Only the form: whether the file exists is for the roles that open it to say.
        try:
            database_path(url)
        except InvalidSQLiteURL as exc:
            raise ValueError(exc.reason) from None

    async def open(self, url: str, *, timeout: float = 10.0) -> aiosqlite.Connection:
        """A new connection to the file of ``url`` (which must exist), in autocommit mode;
        ``timeout`` is also how long a statement waits for another writer's lock."""
        path = database_path(url)
        if not os.path.isfile(path):  # noqa: ASYNC240 - one stat of a local file
            raise FileNotFoundError(f"no such file: {path}")
        # mode=rw: opening never creates the file.
        conn = await aiosqlite.connect(
            f"file:{quote(path)}?mode=rw", uri=True, isolation_level=None, timeout=timeout
        )
        return conn

    @asynccontextmanager
    async def connect(self, url: str, *, timeout: float) -> AsyncIterator[Any]:
        conn = await self.open(url, timeout=timeout)
        try:
            yield conn
        finally:
            await _close(conn)

    async def create_pool(
        self, url: str, *, max_size: int, timeout: float, session_state: bool = True
    ) -> Pool:
        database_path(url)  # refuse a bad URL now rather than at first use
        return _Pool(self, url, max_size, timeout)

    def translate_error(self, exc: BaseException, url: str) -> IntrospectionError | None:
        if isinstance(exc, IntrospectionError):
            return exc
        if isinstance(exc, FileNotFoundError):
            return Unreachable(scrub(f"cannot open {url}: {exc}", url))
        if isinstance(exc, OSError | TimeoutError):
            return Unreachable(scrub(f"cannot open {url}: {exc or type(exc).__name__}", url))
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            return Unreachable(scrub(f"cannot open {url}: {exc}", url))
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            return IntrospectionError(scrub(f"{url} is not a SQLite database: {exc}", url))
        if isinstance(exc, sqlite3.Error):
            return IntrospectionError(scrub(f"cannot read the schema of {url}: {exc}", url))
        return None

    def is_connection_lost(self, exc: BaseException) -> bool:
        # A file has no connection to lose; a closed aiosqlite connection says so this way.
        return isinstance(exc, sqlite3.ProgrammingError) and "closed" in str(exc).lower()


DRIVER = SQLiteDriver()
