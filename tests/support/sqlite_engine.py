"""The engine's round trip on real SQLite files: load DDL into a source and a target file,
diff, generate, apply the script through the executor's own path (:func:`apply_script` with
the SQLite adapter), and judge convergence with the independent snapshot of
:mod:`tests.support.sqlite_snapshot` and a re-diff by the engine.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from schemashift.consumers.common.drivers.sqlite import DRIVER
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.executor.apply import Applied, Failed, apply_script
from schemashift.consumers.executor.sqlite import ADAPTER
from schemashift.consumers.generator.render import generate
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Script, Statement
from tests.support.sqlite_snapshot import differences, snapshot


def path_of(url: str) -> str:
    return url.removeprefix("sqlite://")


class Files:
    """Makes database files in one folder (a test's ``tmp_path``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made = 0

    def new(self, sql: str = "", name: str | None = None) -> str:
        """A new database file holding ``sql``; its URL."""
        self.made += 1
        path = self.folder / (name or f"db{self.made}.db")
        conn = sqlite3.connect(path)
        try:
            conn.executescript(sql)
        finally:
            conn.close()
        return f"sqlite://{path}"


async def apply(url: str, statements: list[Statement]) -> Applied | Failed:
    """Run ``statements`` on the file at ``url`` as the executor does."""

    async def fingerprint() -> str:
        return (await introspect(url)).fingerprint()

    async def progress(index: int, total: int, sql: str, duration_ms: float) -> None:
        return None

    async with DRIVER.connect(url, timeout=5) as conn:
        return await apply_script(
            ADAPTER,
            conn,
            uuid.uuid4(),
            statements,
            "checksum",
            expected_fingerprint=None,
            fingerprint=fingerprint,
            on_progress=progress,
            lock_timeout_ms=2000,
        )


def assert_no_difference(expected: Catalog, actual: Catalog) -> None:
    leftover = diff(expected, actual)
    assert leftover == [], [f"{op.label} {op.qualified_name}" for op in leftover]


async def converge(source_url: str, target_url: str, *, reverse: bool = True) -> Script:
    """Migrate the target to the source and check convergence (then the reverse)."""
    before = snapshot(path_of(target_url))
    source, target = await introspect(source_url), await introspect(target_url)
    assert source.dialect is target.dialect is Dialect.SQLITE
    ops = diff(source, target)
    assert ops, "the schemas differ, so there must be operations"
    script = generate(ops, Dialect.SQLITE)
    result = await apply(target_url, script.statements)
    assert isinstance(result, Applied), (result, [s.sql for s in script.statements])
    assert differences(snapshot(path_of(source_url)), snapshot(path_of(target_url))) == []
    assert_no_difference(source, await introspect(target_url))
    if reverse:
        result = await apply(target_url, script.reverse_statements)
        assert isinstance(result, Applied), (result, [s.sql for s in script.reverse_statements])
        assert differences(before, snapshot(path_of(target_url))) == []
        assert_no_difference(target, await introspect(target_url))
    return script
