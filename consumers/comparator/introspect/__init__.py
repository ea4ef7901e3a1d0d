"""Introspection entry point: connect to a database URL and read its schema as a Catalog.

Errors are reported as :class:`IntrospectionError` subclasses whose messages never contain the
password of the URL (it is redacted to ``***``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import asyncpg

from schemashift.consumers.common.redact import redact_text, redact_url, url_password
from schemashift.consumers.common.targets import TargetPools
from schemashift.schemas.catalog import Catalog

from .postgres import introspect_connection

__all__ = [
    "AuthenticationFailed",
    "IntrospectionError",
    "Unreachable",
    "UnsupportedDialect",
    "introspect",
    "redact_url",
]

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})


class IntrospectionError(Exception):
    """Reading a database's schema failed; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(IntrospectionError):
    """The server could not be reached (refused, timed out, unknown host, ...)."""


class AuthenticationFailed(IntrospectionError):
    """The server rejected the credentials."""


class UnsupportedDialect(IntrospectionError):
    """The URL's scheme names a database this engine cannot read."""


def _scrub(text: str, url: str) -> str:
    """``text`` on one line, without the URL's password (raw or percent-decoded)."""
    password = url_password(url)
    return " ".join(redact_text(text, password, unquote(password or "")).split())


@asynccontextmanager
async def _translated_errors(url: str) -> AsyncIterator[None]:
    """Driver errors as :class:`IntrospectionError` with one redacted line each."""
    where = redact_url(url)
    try:
        yield
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise AuthenticationFailed(
            _scrub(f"authentication failed for {where}: {exc}", url)
        ) from None
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError) as exc:
        detail = str(exc) or type(exc).__name__
        raise Unreachable(_scrub(f"cannot reach {where}: {detail}", url)) from None
    except asyncpg.PostgresError as exc:
        raise IntrospectionError(_scrub(f"cannot read the schema of {where}: {exc}", url)) from None


async def introspect(
    url: str, *, pools: TargetPools | None = None, connect_timeout: float = 10.0
) -> Catalog:
    """Read the schema of the database at ``url``. Raises :class:`IntrospectionError`.

    With ``pools``, a pooled connection is used: a warm connection reads a small schema
    several times faster than a new one.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in POSTGRES_SCHEMES:
        raise UnsupportedDialect(f"unsupported database URL scheme {scheme!r}: {redact_url(url)}")
    async with _translated_errors(url):
        if pools is not None:
            async with pools.connection(url) as conn:
                return await introspect_connection(conn)
        conn = await asyncpg.connect(url, timeout=connect_timeout)
        try:
            return await introspect_connection(conn)
        finally:
            await conn.close()
