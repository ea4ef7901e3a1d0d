"""The SQLAlchemy tables and the Alembic migrations describe the same metadata database.

The roles query the tables declared on ``schemashift.consumers.common.db.metadata``; the
database they query was built by the migrations in infra/alembic/versions. A fresh database is
migrated to head the way every role does at start-up (infra/migrate.py), and Alembic's
``compare_metadata`` must then find nothing to change: a column, type, nullability, default,
index or table that exists on one side only fails the test with the difference.
"""

from __future__ import annotations

import importlib
import pprint
import re
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from schemashift.consumers.common.db import create_engine, metadata
from schemashift.infra.migrate import upgrade_async

pytestmark = pytest.mark.integration

# Every module that declares a table on the shared metadata.
TABLE_MODULES = (
    "schemashift.consumers.common.connections",
    "schemashift.consumers.comparator.queue",
    "schemashift.consumers.executor.store",
    "schemashift.consumers.tracker.store",
    "schemashift.gateway.tokens",
)
TABLES = {"connections", "comparison_queue", "executions", "events", "migrations", "api_tokens"}


def _all_tables() -> MetaData:
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return metadata


def _diff(connection: Connection, target: MetaData) -> list:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "compare_server_default": True},
    )
    # alembic_version is Alembic's own bookkeeping, not one of ours.
    return [
        d
        for d in compare_metadata(context, target)
        if not (d[0] == "remove_table" and d[1].name == "alembic_version")
    ]


async def _migrated_diff(url: str, target: MetaData) -> list:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff, target)
    finally:
        await engine.dispose()


def test_every_table_module_is_listed():
    declaring = set()
    for package in ("schemashift.consumers", "schemashift.gateway"):
        folder = Path(importlib.import_module(package).__path__[0])
        for path in folder.rglob("*.py"):
            if re.search(r"\bTable\(\s*\"\w+\",\s*metadata\b", path.read_text()):
                declaring.add(".".join((package, *path.relative_to(folder).with_suffix("").parts)))
    assert declaring == set(TABLE_MODULES)
    assert set(_all_tables().tables) == TABLES


async def test_tables_match_the_migrations(new_database):
    url = await new_database(prefix="ss_meta")
    diff = await _migrated_diff(url, _all_tables())
    assert diff == [], "the tables and the migrations differ:\n" + pprint.pformat(diff)


async def test_a_difference_is_found(new_database):
    """The comparison is not vacuous: a column the migrations did not create is reported."""
    url = await new_database(prefix="ss_meta")
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE executions DROP COLUMN approval_event"))
            await conn.execute(text("CREATE INDEX ix_stray ON api_tokens (revoked_at)"))
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff, _all_tables())
    finally:
        await engine.dispose()
    kinds = sorted((d[0], getattr(d[-1], "name", None)) for d in diff)
    assert kinds == [("add_column", "approval_event"), ("remove_index", "ix_stray")], diff
