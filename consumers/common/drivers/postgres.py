"""The PostgreSQL driver, on asyncpg."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.dialects import postgresql

from schemashift.consumers.common.drivers.base import Driver, Pool
from schemashift.consumers.common.drivers.errors import (
    AuthenticationFailed,
    IntrospectionError,
    Unreachable,
    scrub,
)
from schemashift.consumers.common.redact import redact_url
from schemashift.schemas.dialects import Dialect

# asyncpg keeps the prepared statements of a connection up to 15 KB each by default; the
# introspection's are larger (its small queries go in one statement): above the limit, each
# read would parse and plan them again, which costs more than running them.
_CONNECT_OPTIONS: dict[str, Any] = {"max_cacheable_statement_size": 64 * 1024}


async def _keep_session(conn: asyncpg.Connection) -> None:
    return None


class PostgresDriver(Driver):
    """asyncpg connections and pools; asyncpg's errors as :class:`IntrospectionError` kinds."""

    dialect = Dialect.POSTGRESQL
    schemes = frozenset({"postgresql", "postgres"})
    # SQLAlchemy leaves the psycopg dialect's __init__(**kwargs) unannotated.
    sql_dialect = postgresql.dialect()  # type: ignore[no-untyped-call]

    @asynccontextmanager
    async def connect(self, url: str, *, timeout: float) -> AsyncIterator[Any]:
        conn = await asyncpg.connect(url, timeout=timeout, **_CONNECT_OPTIONS)
        try:
            yield conn
        finally:
            await conn.close()

    async def create_pool(
        self, url: str, *, max_size: int, timeout: float, session_state: bool = True
    ) -> Pool:
        # asyncpg rolls back an open transaction on release whatever ``reset`` does; its
        # default reset adds a round trip (advisory locks, cursors, LISTEN, settings) that
        # users leaving no session state do not need.
        pool: Pool = await asyncpg.create_pool(
            url,
            min_size=0,
            max_size=max_size,
            timeout=timeout,
            reset=None if session_state else _keep_session,
            **_CONNECT_OPTIONS,
        )
        return pool

    def translate_error(self, exc: BaseException, url: str) -> IntrospectionError | None:
        where = redact_url(url)
        if isinstance(
            exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
        ):
            return AuthenticationFailed(scrub(f"authentication failed for {where}: {exc}", url))
        if isinstance(exc, OSError | TimeoutError | asyncpg.CannotConnectNowError):
            detail = str(exc) or type(exc).__name__
            return Unreachable(scrub(f"cannot reach {where}: {detail}", url))
        if isinstance(exc, asyncpg.PostgresError):
            return IntrospectionError(scrub(f"cannot read the schema of {where}: {exc}", url))
        return None

    def is_connection_lost(self, exc: BaseException) -> bool:
        return isinstance(
            exc, asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.PostgresConnectionError
        )


DRIVER = PostgresDriver()
