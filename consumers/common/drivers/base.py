"""What a dialect's driver provides: connections, pools, error translation and quoting.

A driver is the only code that talks to a database library (asyncpg for PostgreSQL). The rest
of the engine holds its connections as opaque objects and hands them to the same dialect's
introspector and executor adapter, which know what they are.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from sqlalchemy.engine.interfaces import Dialect as SQLDialect

from schemashift.consumers.common.drivers.errors import IntrospectionError
from schemashift.schemas.dialects import Dialect

if TYPE_CHECKING:
    from schemashift.consumers.common.targets import TargetPools

# A driver's own connection object; only modules of the same dialect look inside it.
Connection = Any


class Pool(Protocol):
    """A driver's connection pool, as :class:`TargetPools` uses it."""

    def acquire(self) -> AbstractAsyncContextManager[Connection]:
        """A connection from the pool, given back on leaving."""
        ...

    async def close(self) -> None:
        """Close every connection of the pool."""
        ...


class Driver(ABC):
    """One dialect's way of connecting: register an instance in :mod:`.drivers`."""

    dialect: ClassVar[Dialect]
    # SQLAlchemy's dialect of the same database: its identifier preparer quotes names exactly
    # as the server does (reserved words, case, embedded quotes) for every stage alike.
    sql_dialect: ClassVar[SQLDialect]

    def quote(self, name: str) -> str:
        """``name`` as an identifier, quoted only where the dialect needs it."""
        return self.sql_dialect.identifier_preparer.quote(name)

    # URL schemes (lower case, as ``urlsplit`` reads them) whose URLs this driver connects to.
    schemes: ClassVar[frozenset[str]]

    def check_url(self, url: str) -> None:
        """Raise ValueError, with the reason, when ``url`` (of one of :attr:`schemes`) cannot
        name a database this driver connects to; checked when a connection is registered.
        Every URL of the schemes passes by default."""
        return None

    @abstractmethod
    def connect(self, url: str, *, timeout: float) -> AbstractAsyncContextManager[Connection]:
        """A new connection to ``url``, closed on leaving; raises the library's own errors."""

    @abstractmethod
    async def create_pool(
        self, url: str, *, max_size: int, timeout: float, session_state: bool = True
    ) -> Pool:
        """A pool of connections to ``url`` that opens them on demand (none at first).

        ``session_state=False`` promises that its users change nothing of a session beyond
        their transactions, so that a driver may skip resetting the session on release."""

    @abstractmethod
    def translate_error(self, exc: BaseException, url: str) -> IntrospectionError | None:
        """``exc`` as the :class:`IntrospectionError` kind it stands for, with a one-line reason
        in which ``url``'s password is redacted; None for an error that is not the database's
        or the network's (it is then raised as it is)."""

    @abstractmethod
    def is_connection_lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` says that a connection broke (the work may succeed if retried)."""

    @asynccontextmanager
    async def introspection_session(
        self, url: str, *, pools: TargetPools | None = None, connect_timeout: float = 10.0
    ) -> AsyncIterator[Connection]:
        """A connection for reading ``url``'s schema, from ``pools`` or new (then closed on
        leaving); errors raised inside are translated (:meth:`translate_error`).

        The dialect's introspector opens its read-only snapshot on the connection, so that a
        pooled connection keeps no state of it.
        """
        try:
            if pools is not None:
                async with pools.connection(url) as conn:
                    yield conn
            else:
                async with self.connect(url, timeout=connect_timeout) as conn:
                    yield conn
        except Exception as exc:
            translated = self.translate_error(exc, url)
            if translated is None:
                raise
            raise translated from None
