"""The connection registry on a real metadata database: URLs are stored encrypted and read
back, several in one query, in the order asked for; an unknown name is refused by name."""

from __future__ import annotations

import pytest

from schemashift.consumers.common import connections

pytestmark = pytest.mark.integration


async def test_urls_resolve_in_the_order_asked_and_unknown_names_are_refused(engine):
    await connections.register(engine, "dev", "postgresql://app:s3cret@dev.example/app")
    await connections.register(engine, "prod", "sqlite:///srv/prod.db")
    assert await connections.resolve_all(engine, ["prod", "dev", "prod"]) == [
        "sqlite:///srv/prod.db",
        "postgresql://app:s3cret@dev.example/app",
        "sqlite:///srv/prod.db",
    ]
    assert await connections.resolve(engine, "dev") == "postgresql://app:s3cret@dev.example/app"
    with pytest.raises(connections.UnknownConnection, match="'staging'"):
        await connections.resolve_all(engine, ["dev", "staging", "qa"])
    async with engine.connect() as conn:
        stored = (await conn.execute(connections.connections.select())).mappings().all()
    assert all("s3cret" not in row["url_encrypted"] + row["display_url"] for row in stored)
