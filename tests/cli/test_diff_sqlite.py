"""`schemashift diff` on SQLite files: the printed script runs in the sqlite3 shell, all of it
or nothing, and a second diff then prints nothing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from schemashift.consumers.comparator.diff import Unsupported, diff
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect
from tests.support.infra import REPO_ROOT
from tests.support.sqlite_snapshot import rows, snapshot

pytestmark = pytest.mark.sqlite

SOURCE = """
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL DEFAULT '', price real
                    CHECK (price >= 0));
CREATE INDEX items_name ON items (name);
CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10;
"""
TARGET = "CREATE TABLE items (id integer PRIMARY KEY, name text, price real, old blob);"


def schemashift(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemashift.gateway.cli", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _file(path: Path, sql: str) -> str:
    conn = sqlite3.connect(path)
    conn.executescript(sql)
    conn.close()
    return f"sqlite://{path}"


def run_script(path: Path, script: str) -> int:
    """Run a printed script as a user would: `sqlite3 file.db < script.sql` (or, without the
    sqlite3 shell, Python's executescript, which stops at the first error by itself)."""
    shell = shutil.which("sqlite3")
    if shell:
        return subprocess.run([shell, str(path)], input=script, text=True, timeout=60).returncode
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript("\n".join(line for line in script.splitlines() if line != ".bail on"))
        return 0
    except sqlite3.Error:
        return 1
    finally:
        conn.close()


def test_the_printed_script_converges_in_the_sqlite3_shell(tmp_path: Path) -> None:
    source = _file(tmp_path / "a.db", SOURCE)
    target = _file(tmp_path / "b.db", TARGET + "INSERT INTO items VALUES (1, NULL, 2.5, x'00');")
    result = schemashift("diff", source, target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(".bail on")
    assert "BEGIN IMMEDIATE;" in result.stdout and "COMMIT;" in result.stdout
    assert run_script(tmp_path / "b.db", result.stdout) == 0
    assert snapshot(str(tmp_path / "a.db")) == snapshot(str(tmp_path / "b.db"))
    assert rows(str(tmp_path / "b.db"))["items"] == [(1, "", 2.5)]
    again = schemashift("diff", source, target)
    assert again.returncode == 0 and again.stdout.strip() == ""
    assert "no differences" in again.stderr


def test_a_failing_printed_script_changes_nothing(tmp_path: Path) -> None:
    source = _file(tmp_path / "a.db", SOURCE)
    target = _file(tmp_path / "b.db", TARGET + "INSERT INTO items VALUES (1, 'x', -1, NULL);")
    before = snapshot(str(tmp_path / "b.db")), rows(str(tmp_path / "b.db"))
    result = schemashift("diff", source, target)
    assert result.returncode == 0, result.stderr
    assert run_script(tmp_path / "b.db", result.stdout) != 0  # the CHECK refuses the row
    assert (snapshot(str(tmp_path / "b.db")), rows(str(tmp_path / "b.db"))) == before


def test_bad_urls_are_refused_with_the_reason(tmp_path: Path) -> None:
    target = _file(tmp_path / "b.db", TARGET)
    missing = schemashift("diff", f"sqlite://{tmp_path}/none.db", target)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    memory = schemashift("diff", "sqlite:///:memory:", target)
    assert memory.returncode == 2 and "in-memory database" in memory.stderr
    relative = schemashift("diff", "sqlite://relative.db", target)
    assert relative.returncode == 2 and "not an absolute path" in relative.stderr


def test_a_source_and_a_target_of_two_dialects_are_refused() -> None:
    with pytest.raises(Unsupported, match="a postgresql source cannot be compared with a sqlite"):
        diff(Catalog(dialect=Dialect.POSTGRESQL), Catalog(dialect=Dialect.SQLITE))
