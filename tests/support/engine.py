"""The engine's round trip on real PostgreSQL databases: load DDL into a source and a target,
diff, generate, apply the script as the executor would, and assert convergence.

The ``pair`` fixture (tests/engine/postgres/conftest.py) gives a module its :class:`Pair`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.postgres import introspect_connection
from schemashift.consumers.generator.render import generate
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.operations import Script, Statement
from tests.conformance.fixtures import RESET_SQL
from tests.support.infra import with_database

# The role that cases grant privileges to (cluster-wide, created by :func:`open_pair`).
ROLE = "ss_engine_reader"


async def has_icu(conn: asyncpg.Connection) -> bool:
    """Whether the server was built with ICU (some builds of other versions are not): it can
    create an ICU collation (in a transaction that is rolled back)."""
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute("CREATE COLLATION icu_probe (provider = icu, locale = 'und')")
        return True
    except asyncpg.FeatureNotSupportedError:
        return False
    finally:
        await tx.rollback()


@dataclass
class Pair:
    """A source and a target database, reused between cases, with one warm connection each
    (a new backend spends most of an introspection warming its catalog caches)."""

    source_url: str
    target_url: str
    source: asyncpg.Connection
    target: asyncpg.Connection

    async def load(self, source_sql: str, target_sql: str | None) -> tuple[Catalog, Catalog]:
        """Empty both databases (the target unless ``target_sql`` is None), run the DDL in
        them and introspect them."""
        sides = [(self.source, source_sql)]
        if target_sql is not None:
            sides.append((self.target, target_sql))
        for conn, sql in sides:
            await conn.execute("RESET ALL")
            await conn.execute(RESET_SQL)
            if sql:
                await conn.execute(sql)
            await conn.execute("RESET ALL")
        return await introspect_connection(self.source), await introspect_connection(self.target)

    async def introspect_target(self) -> Catalog:
        """The target's catalog now."""
        return await introspect_connection(self.target)


@contextlib.asynccontextmanager
async def open_pair(database_url: str) -> AsyncIterator[Pair]:
    """Two new databases on the server of ``database_url``, dropped on exit."""
    names = [f"ss_engine_{uuid.uuid4().hex[:10]}_{side}" for side in ("src", "tgt")]
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            f"DO $r$ BEGIN CREATE ROLE {ROLE} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $r$"
        )
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    urls = [with_database(database_url, n) for n in names]
    conns = [await asyncpg.connect(url) for url in urls]
    try:
        yield Pair(urls[0], urls[1], conns[0], conns[1])
    finally:
        for conn in conns:
            await conn.close()
    admin = await asyncpg.connect(database_url)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def apply(conn: asyncpg.Connection, statements: list[Statement]) -> None:
    """Run the statements in one transaction, except non-transactional ones, which run (and
    commit) on their own at their position, as the executor does."""
    transaction = None
    try:
        for statement in statements:
            if statement.transactional and transaction is None:
                transaction = conn.transaction()
                await transaction.start()
            elif not statement.transactional and transaction is not None:
                await transaction.commit()
                transaction = None
            try:
                await conn.execute(statement.sql)
            except asyncpg.PostgresError as exc:
                raise AssertionError(f"{statement.sql!r} failed: {exc}") from exc
        if transaction is not None:
            await transaction.commit()
    finally:
        if transaction is not None and conn.is_in_transaction():
            await transaction.rollback()


async def apply_at(url: str, statements: list[Statement]) -> None:
    """:func:`apply` on a connection of its own to the database at ``url``."""
    conn = await asyncpg.connect(url)
    try:
        await apply(conn, statements)
    finally:
        await conn.close()


def assert_no_difference(expected: Catalog, actual: Catalog, *, privileges: bool = False) -> None:
    """No operation left between the two."""
    leftover = diff(expected, actual, privileges=privileges)
    assert leftover == [], [f"{op.label} {op.qualified_name}" for op in leftover]


def assert_same(expected: Catalog, actual: Catalog, *, privileges: bool = False) -> None:
    """No operation left between the two, and equal fingerprints."""
    assert_no_difference(expected, actual, privileges=privileges)
    assert expected.fingerprint() == actual.fingerprint()


async def migrate(
    pair: Pair,
    source_sql: str,
    target_sql: str,
    *,
    privileges: bool = False,
    concurrent_indexes: bool = False,
    reverse: bool = True,
) -> Script:
    """Migrate TARGET to SOURCE, check convergence (and the reverse), return the script."""
    source, target = await pair.load(source_sql, target_sql)
    ops = diff(source, target, privileges=privileges)
    assert ops, "the schemas differ, so there must be operations"
    script = generate(ops, concurrent_indexes=concurrent_indexes)
    await apply(pair.target, script.statements)
    assert_same(source, await pair.introspect_target(), privileges=privileges)
    if reverse:
        await apply(pair.target, script.reverse_statements)
        assert_same(target, await pair.introspect_target(), privileges=privileges)
    return script
