"""What the SQLite introspector reads, and that two files made by the same DDL compare equal."""

from __future__ import annotations

import sqlite3

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import (
    CatalogCache,
    current_fingerprint,
    introspect,
)
from schemashift.schemas.catalog import CheckConstraint, ForeignKey, PrimaryKey, UniqueConstraint
from schemashift.schemas.dialects import Dialect
from tests.support.sqlite_engine import Files

pytestmark = pytest.mark.sqlite

DDL = """
CREATE TABLE "Users" (
  id integer PRIMARY KEY AUTOINCREMENT,
  email text NOT NULL COLLATE nocase UNIQUE,
  age int CONSTRAINT adult CHECK (age >= 18) DEFAULT 18,
  score real DEFAULT (1.5 * 2),
  doubled int AS (age * 2),
  stored text GENERATED ALWAYS AS (lower(email)) STORED,
  CHECK (score >= 0)
) STRICT;
CREATE TABLE posts (
  id integer PRIMARY KEY,
  user_id integer REFERENCES users (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  body text,
  CONSTRAINT body_per_user UNIQUE (user_id, body)
);
CREATE TABLE kv (k text PRIMARY KEY, v blob) WITHOUT ROWID;
CREATE INDEX posts_body ON posts (lower(body)) WHERE body IS NOT NULL;
CREATE VIEW adults AS SELECT id, email FROM users WHERE age >= 18;
CREATE TRIGGER posts_ins AFTER INSERT ON posts BEGIN SELECT 1; END;
CREATE TABLE _schemashift_history (migration_id text);
CREATE VIRTUAL TABLE docs USING fts5(body);
"""


async def test_two_files_from_the_same_ddl_compare_equal(files: Files) -> None:
    a, b = await introspect(files.new(DDL)), await introspect(files.new(DDL))
    assert a == b and a.fingerprint() == b.fingerprint()
    assert diff(a, b) == []


async def test_what_the_catalog_holds(files: Files) -> None:
    catalog = await introspect(files.new(DDL))
    assert catalog.dialect is Dialect.SQLITE and catalog.schemas == ["main"]
    assert catalog.server_version and catalog.server_version.startswith("3.")
    assert sorted(t.name for t in catalog.tables) == ["Users", "kv", "posts"]
    users = catalog.table("main", "Users")
    assert users is not None and users.options == ["STRICT"]
    columns = {c.name: c for c in users.columns}
    assert columns["email"].collation == "nocase" and columns["email"].not_null
    assert columns["age"].default == "18"
    assert columns["score"].default == "1.5 * 2"
    assert (columns["doubled"].generated, columns["doubled"].virtual) == ("age * 2", True)
    assert (columns["stored"].generated, columns["stored"].virtual) == ("lower(email)", False)
    by_kind = {type(c).__name__: c for c in users.constraints if not isinstance(c, CheckConstraint)}
    assert by_kind["PrimaryKey"].definition == "PRIMARY KEY (id) AUTOINCREMENT"
    assert by_kind["UniqueConstraint"].definition == "UNIQUE (email)"
    checks = sorted(c.definition for c in users.constraints if isinstance(c, CheckConstraint))
    assert checks == ["CHECK (score >= 0)", "CONSTRAINT adult CHECK (age >= 18)"]
    assert users.indexes == []  # the unique constraint's auto-index is the constraint's
    posts = catalog.table("main", "posts")
    assert posts is not None
    (fk,) = [c for c in posts.constraints if isinstance(c, ForeignKey)]
    assert (fk.ref_table, fk.ref_columns, fk.on_delete) == ("Users", ["id"], "cascade")
    assert fk.deferrable and fk.initially_deferred
    assert fk.definition == (
        'FOREIGN KEY (user_id) REFERENCES "Users" (id) ON DELETE CASCADE '
        "DEFERRABLE INITIALLY DEFERRED"
    )
    unique = next(c for c in posts.constraints if isinstance(c, UniqueConstraint))
    assert unique.name == "body_per_user"
    assert unique.definition == "CONSTRAINT body_per_user UNIQUE (user_id, body)"
    (index,) = posts.indexes
    assert index.definition == "ON posts (lower(body)) WHERE body IS NOT NULL"
    assert index.columns == ["body"]
    kv = catalog.table("main", "kv")
    assert kv is not None and kv.options == ["WITHOUT ROWID"]
    assert isinstance(kv.constraints[0], PrimaryKey)
    (view,) = catalog.views
    assert view.definition == "AS SELECT id, email FROM users WHERE age >= 18"
    assert ["main", "Users", "email"] in view.depends_on
    (trigger,) = catalog.triggers
    assert (trigger.table, trigger.definition) == (
        "posts",
        "AFTER INSERT ON posts BEGIN SELECT 1; END",
    )


async def test_a_missing_file_is_unreachable(tmp_path) -> None:
    from schemashift.consumers.comparator.introspect import Unreachable

    with pytest.raises(Unreachable, match="no such file"):
        await introspect(f"sqlite://{tmp_path}/missing.db")
    assert not (tmp_path / "missing.db").exists()


async def test_the_stamp_follows_the_schema_not_the_data(files: Files) -> None:
    url = files.new(DDL)
    path = url.removeprefix("sqlite://")
    cache = CatalogCache()
    first = await introspect(url, cache=cache)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO posts (id, body) VALUES (1, 'a')")
    # Rows do not change the stamp: the cached catalog answers, and so does the fingerprint.
    assert await introspect(url, cache=cache) is first
    assert await current_fingerprint(url, stamp=first.stamp, fingerprint="as planned") == (
        "as planned"
    )
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE posts ADD COLUMN title text")
    changed = await introspect(url, cache=cache)
    assert changed.stamp != first.stamp
    assert "title" in [c.name for c in changed.tables_by_key[("main", "posts")].columns]
    assert await current_fingerprint(url, stamp=first.stamp, fingerprint="as planned") == (
        changed.fingerprint()
    )
