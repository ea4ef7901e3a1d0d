"""`schemashift diff` as users run it: output, exit codes, no password in errors."""

from __future__ import annotations

import json
import subprocess
import sys

import asyncpg
import pytest

from tests.conformance.fixtures import ensure_roles
from tests.support.infra import REPO_ROOT

pytestmark = pytest.mark.integration

TARGET = "CREATE TABLE items (id integer PRIMARY KEY, name varchar(10));"
SOURCE = """
CREATE TABLE items (id integer PRIMARY KEY, name varchar(50) NOT NULL, price numeric(8,2));
CREATE INDEX items_name_idx ON items (name);
"""

READER = "ss_cli_reader"  # a NOLOGIN role the privilege case grants to (cluster-wide)


def schemashift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemashift.gateway.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_diff_prints_sql_that_converges(new_database):
    source, target = await new_database(SOURCE), await new_database(TARGET)
    result = schemashift("diff", source, target)
    assert result.returncode == 0, result.stderr
    assert "items_name_idx" in result.stdout and "price" in result.stdout
    conn = await asyncpg.connect(target)
    try:
        await conn.execute(result.stdout)
    finally:
        await conn.close()
    again = schemashift("diff", source, target)
    assert again.returncode == 0
    assert again.stdout.strip() == ""


async def test_diff_json_lists_operations_and_hazards(new_database):
    source, target = await new_database(SOURCE), await new_database(TARGET)
    result = schemashift("diff", source, target, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["operations"] and report["statements"] and report["reverse_statements"]
    assert "index_build" in report["hazards"]


VIEW_TARGET = """
CREATE TABLE items (id integer PRIMARY KEY, price numeric(8,2), name text);
CREATE VIEW priced AS SELECT id, price FROM items;
CREATE VIEW names AS SELECT id, name FROM items;
"""


async def test_diff_json_marks_views_rebuilt_around_a_column_change(new_database):
    """A column a view reads changes type: in the JSON report, the view's DROP and CREATE
    carry dependent_rebuild (and the report's hazards list it); the column change and the
    view that does not read the column do not."""
    source = await new_database(VIEW_TARGET.replace("numeric(8,2)", "numeric(12,2)"))
    target = await new_database(VIEW_TARGET)
    result = schemashift("diff", source, target, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    hazards = {s["sql"].splitlines()[0]: s["hazards"] for s in report["statements"]}
    assert hazards == {
        "DROP VIEW public.priced;": ["dependent_rebuild"],
        "ALTER TABLE public.items ALTER COLUMN price TYPE numeric(12,2)"
        " USING price::numeric(12,2);": ["long_lock"],
        "CREATE VIEW public.priced AS": ["dependent_rebuild"],
    }
    assert "dependent_rebuild" in report["hazards"]
    rebuilt = [o for o in report["operations"] if o["dependent"]]
    assert {(o["kind"], o["object_type"], o["name"]) for o in rebuilt} == {
        ("drop", "view", "priced"),
        ("create", "view", "priced"),
    }
    reverse = [s for s in report["reverse_statements"] if "priced" in s["sql"]]
    assert len(reverse) == 2 and all("dependent_rebuild" in s["hazards"] for s in reverse)


async def test_diff_compares_privileges_only_with_the_flag(new_database, database_url):
    await ensure_roles(database_url, [READER])
    source = await new_database(f"{TARGET} GRANT SELECT ON items TO {READER};")
    target = await new_database(TARGET)
    plain = schemashift("diff", source, target)
    assert plain.returncode == 0, plain.stderr
    assert "GRANT" not in plain.stdout and "no differences" in plain.stderr
    result = schemashift("diff", "--privileges", source, target)
    assert result.returncode == 0, result.stderr
    assert f"GRANT SELECT ON TABLE public.items TO {READER};" in result.stdout
    conn = await asyncpg.connect(target)
    try:
        await conn.execute(result.stdout)
        assert await conn.fetchval(f"SELECT has_table_privilege('{READER}', 'items', 'SELECT')")
    finally:
        await conn.close()
    again = schemashift("diff", "--privileges", source, target)
    assert again.returncode == 0 and again.stdout.strip() == "", again.stdout


async def test_diff_builds_indexes_concurrently_with_the_flag(new_database):
    source = await new_database(f"{TARGET} CREATE INDEX items_name_idx ON items (name);")
    target = await new_database(TARGET)
    plain = schemashift("diff", source, target)
    assert plain.returncode == 0, plain.stderr
    assert "CREATE INDEX items_name_idx" in plain.stdout and "CONCURRENTLY" not in plain.stdout
    result = schemashift("diff", source, target, "--concurrent-indexes")
    assert result.returncode == 0, result.stderr
    assert "CREATE INDEX CONCURRENTLY items_name_idx ON public.items" in result.stdout
    assert "outside the migration's transaction" in result.stdout
    # The JSON report renders with the flag too, and marks the statement as running on its own.
    report = schemashift("diff", source, target, "--concurrent-indexes", "--format", "json")
    assert report.returncode == 0, report.stderr
    [create] = json.loads(report.stdout)["statements"]
    assert create["sql"].startswith("CREATE INDEX CONCURRENTLY") and not create["transactional"]


def test_diff_error_is_one_line_without_the_password():
    result = schemashift(
        "diff", "postgresql://u:TopSecret9@127.0.0.1:1/a", "postgresql://u:TopSecret9@127.0.0.1:1/b"
    )
    assert result.returncode == 2
    assert "TopSecret9" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach" in result.stderr


def test_diff_refuses_unsupported_dialects():
    result = schemashift("diff", "oracle://a/b", "oracle://a/c")
    assert result.returncode == 2
    assert "unsupported" in result.stderr
