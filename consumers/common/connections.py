"""The connection registry: named database URLs that events refer to by name.

Events, logs and API responses carry connection names only. The URL is stored encrypted
(:mod:`schemashift.consumers.common.secrets`) next to a copy with its password masked for
display; only what connects decrypts it (:func:`resolve`): the comparator, the executor, and the
console's target page, which reads the target's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Column, DateTime, String, Table, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.db import autocommit, metadata
from schemashift.consumers.common.drivers import driver_for_dialect, supported_schemes
from schemashift.consumers.common.redact import redact_url
from schemashift.consumers.common.secrets import decrypt, encrypt

connections = Table(
    "connections",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("dialect", String(32), nullable=False),
    Column("url_encrypted", Text, nullable=False),
    Column("display_url", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# URL scheme → dialect, from the registered drivers: a connection is accepted only for a
# dialect that some driver can connect to.
SUPPORTED_SCHEMES: dict[str, str] = {
    scheme: dialect.value for scheme, dialect in supported_schemes().items()
}


class UnknownConnection(LookupError):
    """No connection is registered under that name."""


def dialect_of(url: str) -> str:
    """The dialect named by ``url``'s scheme; ValueError for a scheme we do not support."""
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    try:
        dialect = SUPPORTED_SCHEMES[scheme]
    except KeyError:
        supported = ", ".join(sorted(SUPPORTED_SCHEMES))
        raise ValueError(f"unsupported URL scheme {scheme!r}; supported: {supported}") from None
    driver_for_dialect(dialect).check_url(url)
    return dialect


async def register(engine: AsyncEngine, name: str, url: str) -> datetime:
    """Create or replace the connection ``name``; returns its creation time."""
    stmt = insert(connections).values(
        name=name, dialect=dialect_of(url), url_encrypted=encrypt(url), display_url=redact_url(url)
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[connections.c.name],
        set_={
            "url_encrypted": stmt.excluded.url_encrypted,
            "display_url": stmt.excluded.display_url,
            "dialect": stmt.excluded.dialect,
            "updated_at": func.now(),
        },
    ).returning(connections.c.created_at)
    async with engine.begin() as conn:
        return (await conn.execute(upsert)).scalar_one()


# Hot-path statements are built once (see db.py).
_STORED_URLS = select(connections.c.name, connections.c.url_encrypted).where(
    connections.c.name.in_(bindparam("names", expanding=True))
)
_REGISTERED = select(connections.c.name).where(
    connections.c.name.in_(bindparam("names", expanding=True))
)


async def resolve(engine: AsyncEngine, name: str) -> str:
    """The decrypted URL of connection ``name``; raises :class:`UnknownConnection`."""
    (url,) = await resolve_all(engine, [name])
    return url


async def resolve_all(engine: AsyncEngine, names: Sequence[str]) -> list[str]:
    """The decrypted URLs of connections ``names``, in their order, read in one query;
    raises :class:`UnknownConnection` for the first that is not registered."""
    async with autocommit(engine) as conn:
        stored = dict((await conn.execute(_STORED_URLS, {"names": sorted(set(names))})).all())
    for name in names:
        if name not in stored:
            raise UnknownConnection(f"no connection named {name!r} is registered")
    return [decrypt(stored[name]) for name in names]


async def list_all(engine: AsyncEngine) -> list[dict[str, object]]:
    """Every registered connection: name, dialect, display_url (masked), timestamps."""
    async with autocommit(engine) as conn:
        rows = await conn.execute(
            select(
                connections.c.name,
                connections.c.dialect,
                connections.c.display_url,
                connections.c.created_at,
            ).order_by(connections.c.name)
        )
        return [dict(row._mapping) for row in rows]


async def missing(engine: AsyncEngine, names: Sequence[str]) -> list[str]:
    """Those of ``names`` that are not registered, in their order (one query for all)."""
    async with autocommit(engine) as conn:
        found = await conn.execute(_REGISTERED, {"names": list(names)})
        known = set(found.scalars())
    return [name for name in names if name not in known]
