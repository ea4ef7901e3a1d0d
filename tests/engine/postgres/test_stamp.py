"""The catalog stamp of PostgreSQL databases, on every server under test.

The stamp lets a role skip reading a schema it read before (the comparator's catalog cache)
and the executor check in one query that the target is the one the plan was made for. So:

- every kind of DDL the engine reads changes it (a missed change would let a stale plan run);
- what only moves data (rows, ANALYZE, VACUUM, sequence values) does not;
- it is the stamp of the snapshot the catalog was read in;
- a database dropped and made again under the same name has another one.
"""

from __future__ import annotations

import asyncpg
import pytest

from schemashift.consumers.comparator.introspect import (
    CatalogCache,
    current_fingerprint,
    introspect,
)
from schemashift.consumers.comparator.introspect.postgres import introspect_connection, read_stamp
from tests.support.engine import ROLE, Pair
from tests.support.infra import with_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture(scope="module")
def database_url(every_server: str) -> str:
    return every_server


# Each statement changes what introspection reports, in the state the ones before it left.
SCHEMA_CHANGES = [
    "CREATE TABLE t (id integer PRIMARY KEY, a text)",
    "ALTER TABLE t ADD COLUMN b integer",
    "ALTER TABLE t ALTER COLUMN b TYPE bigint",
    "ALTER TABLE t ALTER COLUMN b SET DEFAULT 7",
    "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
    "ALTER TABLE t ADD CONSTRAINT b_positive CHECK (b > 0)",
    "CREATE INDEX t_a ON t (a)",
    "ALTER INDEX t_a RENAME TO t_a_idx",
    "ALTER TABLE t RENAME COLUMN b TO c",
    "COMMENT ON COLUMN t.c IS 'counted'",
    "COMMENT ON COLUMN t.c IS 'counted twice'",
    "COMMENT ON SCHEMA public IS 'the default schema'",
    f"GRANT SELECT ON t TO {ROLE}",
    f"GRANT USAGE ON SCHEMA public TO {ROLE}",
    "CREATE VIEW v AS SELECT id, a FROM t",
    "CREATE OR REPLACE VIEW v AS SELECT id, a, c FROM t",
    "CREATE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x + 1'",
    "CREATE OR REPLACE FUNCTION f(x integer) RETURNS integer LANGUAGE sql AS 'SELECT x + 2'",
    "ALTER FUNCTION f(integer) SET search_path = public",
    "CREATE TYPE mood AS ENUM ('sad', 'happy')",
    "ALTER TYPE mood ADD VALUE 'calm'",
    "CREATE DOMAIN posint AS integer CHECK (VALUE > 0)",
    "CREATE SEQUENCE s START 10",
    "ALTER SEQUENCE s INCREMENT BY 5",
    "CREATE FUNCTION tg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
    "CREATE TRIGGER t_tg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tg()",
    "ALTER TABLE t DISABLE TRIGGER t_tg",
    "ALTER TABLE t ENABLE ROW LEVEL SECURITY",
    "CREATE POLICY p ON t USING (id > 0)",
    "CREATE SCHEMA app",
    "ALTER TABLE t SET SCHEMA app",
    "CREATE TABLE app.child (id integer REFERENCES app.t (id) ON DELETE CASCADE)",
    "CREATE STATISTICS st ON id, a FROM app.t",
    "CREATE TABLE logs (at date NOT NULL) PARTITION BY RANGE (at)",
    "CREATE TABLE logs_2026 PARTITION OF logs FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
    "DROP TRIGGER t_tg ON app.t",
    "DROP POLICY p ON app.t",
    "DROP INDEX app.t_a_idx",
    "DROP VIEW v",
    "ALTER TABLE app.t DROP COLUMN c",
]

# Each statement changes rows or statistics, not the schema.
DATA_CHANGES = [
    "INSERT INTO app.t (id, a) SELECT g, g::text FROM generate_series(1, 500) g",
    "ANALYZE app.t",
    "VACUUM app.t",
    "SELECT nextval('s'), setval('s', 1000)",
    "UPDATE app.t SET a = a || '!' WHERE id < 100",
    "DELETE FROM app.t WHERE id > 400",
]


async def test_every_schema_change_changes_the_stamp(pair: Pair) -> None:
    await pair.load("", None)
    conn = pair.source
    seen = {await read_stamp(conn): (await introspect_connection(conn)).fingerprint()}
    for sql in SCHEMA_CHANGES:
        await conn.execute(sql)
        catalog = await introspect_connection(conn)
        stamp = await read_stamp(conn)
        # The catalog carries the stamp of the snapshot it was read in.
        assert catalog.stamp == stamp, sql
        assert stamp not in seen, f"the stamp did not change: {sql}"
        assert catalog.fingerprint() not in seen.values(), f"not a schema change: {sql}"
        seen[stamp] = catalog.fingerprint()
    for sql in DATA_CHANGES:
        await conn.execute(sql)
        assert await read_stamp(conn) == stamp, f"data moved the stamp: {sql}"


async def test_a_role_rename_changes_the_stamp(pair: Pair) -> None:
    # Privileges name their grantee: renaming it changes the catalog without touching the
    # database's own catalogs.
    await pair.load(f"CREATE TABLE t (id integer); GRANT SELECT ON t TO {ROLE}", None)
    renamed = f"{ROLE}_renamed"
    before = await read_stamp(pair.source)
    try:
        await pair.source.execute(f"ALTER ROLE {ROLE} RENAME TO {renamed}")
        assert await read_stamp(pair.source) != before
    finally:
        await pair.source.execute(
            f"DO $r$ BEGIN ALTER ROLE {renamed} RENAME TO {ROLE}; "
            "EXCEPTION WHEN undefined_object THEN NULL; END $r$"
        )


async def test_cache_answers_an_unchanged_schema_and_reads_a_changed_one(pair: Pair) -> None:
    await pair.load("CREATE TABLE t (id integer PRIMARY KEY)", None)
    url = pair.source_url
    cache = CatalogCache()
    first = await introspect(url, cache=cache)
    assert await introspect(url, cache=cache) is first
    await pair.source.execute("ALTER TABLE t ADD COLUMN a text")
    changed = await introspect(url, cache=cache)
    assert changed is not first
    assert [c.name for c in changed.tables[0].columns] == ["id", "a"]
    assert await introspect(url, cache=cache) is changed


async def test_current_fingerprint_trusts_an_unchanged_stamp_only(pair: Pair) -> None:
    await pair.load("CREATE TABLE t (id integer PRIMARY KEY)", None)
    url = pair.source_url
    catalog = await introspect(url)
    assert catalog.stamp is not None
    # The stamp answers alone: the fingerprint handed in comes back unread.
    assert await current_fingerprint(url, stamp=catalog.stamp, fingerprint="as planned") == (
        "as planned"
    )
    await pair.source.execute("CREATE INDEX t_id ON t (id DESC)")
    now = await current_fingerprint(url, stamp=catalog.stamp, fingerprint="as planned")
    assert now == (await introspect(url)).fingerprint() != catalog.fingerprint()
    # Without a stamp to trust, the schema is read.
    assert await current_fingerprint(url, fingerprint="as planned") == now


async def test_a_database_made_again_has_another_stamp(database_url: str) -> None:
    name = "ss_test_stamp_again"
    admin = await asyncpg.connect(database_url)
    url = with_database(database_url, name)
    stamps = []
    try:
        for _ in range(2):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("CREATE TABLE t (id integer)")
                stamps.append(await read_stamp(conn))
            finally:
                await conn.close()
        assert stamps[0] != stamps[1]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
