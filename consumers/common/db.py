"""The metadata database: one SQLAlchemy async engine per process, on asyncpg."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Every table of the metadata database, whichever role owns it; Alembic migrations
# (infra/alembic) create them, and tests/infra/test_metadata_migrations.py checks that
# the two agree.
metadata = MetaData()


def async_url(url: str) -> str:
    """``url`` with the asyncpg driver (``postgresql://`` → ``postgresql+asyncpg://``)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 5, pre_ping: bool = True) -> AsyncEngine:
    """An async engine on the metadata database; with ``pre_ping``, each connection is checked
    (one round trip) before use, so that a request after a database restart does not fail."""
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=pre_ping
    )
