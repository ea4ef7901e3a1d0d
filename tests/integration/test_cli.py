"""`schemashift diff` as users run it: output, exit codes, no password in errors."""

from __future__ import annotations

import json
import subprocess
import sys

import asyncpg
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

TARGET = "CREATE TABLE items (id integer PRIMARY KEY, name varchar(10));"
SOURCE = """
CREATE TABLE items (id integer PRIMARY KEY, name varchar(50) NOT NULL, price numeric(8,2));
CREATE INDEX items_name_idx ON items (name);
"""


def schemashift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args],
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
