"""Apply the metadata database's Alembic migrations (at every role's start-up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

_INI = Path(__file__).with_name("alembic.ini")


def upgrade(url: str) -> None:
    """Bring the metadata database at ``url`` to the newest revision (idempotent)."""
    config = Config(str(_INI))
    config.attributes["url"] = url
    command.upgrade(config, "head")


async def upgrade_async(url: str) -> None:
    """:func:`upgrade` from inside a running event loop (Alembic's env runs its own loop)."""
    await asyncio.to_thread(upgrade, url)
