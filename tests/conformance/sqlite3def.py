"""sqldef's sqlite3def cases (``sqldef/sqlite3def/*.yml``), and how one is run on SQLite files.

The YAML is read by the psqldef loader's parser (:func:`tests.conformance.fixtures.
parse_sqldef_yaml`); ``current`` builds the TARGET file, ``desired`` the SOURCE. ``enable_drop``
and ``legacy_ignore_quotes`` only change what sqldef prints, and ``-- @renamed`` annotations
ask sqldef for a rename: we always converge fully (a renamed table or column is dropped and
created), so they are ignored. A case passes when, after the engine's script ran through the
executor's apply path, the independent snapshot (:mod:`tests.support.sqlite_snapshot`) of both
files is the same and the engine re-diffs to nothing, and when the reverse script then brings
the target back to its first schema in the same way.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.executor.apply import Failed
from schemashift.consumers.generator.render import generate
from schemashift.schemas.dialects import Dialect
from tests.conformance.fixtures import (
    Case,
    FixturesMissing,
    Outcome,
    conformance_dir,
    parse_sqldef_yaml,
)
from tests.support.sqlite_engine import apply
from tests.support.sqlite_snapshot import differences, format_differences, snapshot

SUITE = "sqlite3def"


def sqlite3def_cases() -> list[Case]:
    """Every case of ``sqldef/sqlite3def/*.yml``."""
    root = conformance_dir() / "sqldef" / SUITE
    files = sorted(root.glob("*.yml")) if root.is_dir() else []
    if not files:
        raise FixturesMissing(f"{root} holds no sqlite3def test files")
    cases = []
    for path in files:
        for name, spec in parse_sqldef_yaml(path.read_text()).items():
            skip = (
                f"not applicable: sqldef expects a refusal ({spec['error']})"
                if ("error" in spec)
                else None
            )
            cases.append(
                Case(
                    suite=SUITE,
                    name=f"{path.stem}/{name}",
                    target_sql=spec.get("current") or "",
                    source_sql=spec.get("desired") or "",
                    skip_reason=skip,
                )
            )
    return cases


class LoadError(Exception):
    """A fixture's SQL does not load into SQLite."""


def _statements(sql: str) -> list[str]:
    found, pending = [], ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending)
            pending = ""
    if pending.strip():
        found.append(pending)
    return found


def load(path: Path, sql: str) -> str:
    """A new file at ``path`` holding ``sql`` (statements retried in rounds, since sqldef
    takes declarations in any order); its URL. Raises :class:`LoadError`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        pending = _statements(sql)
        while pending:
            failed: list[tuple[str, sqlite3.Error]] = []
            for statement in pending:
                try:
                    conn.executescript(statement)
                except sqlite3.Error as exc:
                    failed.append((statement, exc))
            if len(failed) == len(pending):
                raise LoadError(f"{type(failed[0][1]).__name__}: {failed[0][1]}")
            pending = [s for s, _ in failed]
    finally:
        conn.close()
    return f"sqlite://{path}"


async def run_case(case: Case, folder: Path) -> Outcome:
    """Run one case in files under ``folder`` and judge it (see the module)."""
    started = time.monotonic()
    outcome = await _run(case, folder)
    outcome.seconds = time.monotonic() - started
    return outcome


async def _run(case: Case, folder: Path) -> Outcome:
    if case.skip_reason:
        return Outcome(case, "skipped", case.skip_reason)
    try:
        target_url = load(folder / "target.db", case.target_sql)
        source_url = load(folder / "source.db", case.source_sql)
    except LoadError as exc:
        version = sqlite3.sqlite_version
        return Outcome(case, "skipped", f"fixture: SQL fails to load on SQLite {version}", str(exc))
    target_path, source_path = str(folder / "target.db"), str(folder / "source.db")
    before = snapshot(target_path)
    try:
        source, target = await introspect(source_url), await introspect(target_url)
        ops = diff(source, target)
        script = generate(ops, Dialect.SQLITE)
    except Exception as exc:
        return Outcome(case, "failed", f"engine error: {type(exc).__name__}", str(exc))
    sqls = [s.sql for s in script.statements]
    for direction, statements, expected_path, expected in (
        ("forward", script.statements, source_path, source),
        ("reverse", script.reverse_statements, None, target),
    ):
        result = await apply(target_url, statements)
        if isinstance(result, Failed):
            return Outcome(
                case, "failed", f"{direction}: apply error", result.reason, statements=sqls
            )
        wanted = snapshot(expected_path) if expected_path else before
        found = differences(wanted, snapshot(target_path))
        if found:
            detail = format_differences(found)
            return Outcome(case, "failed", f"{direction}: not converged", detail, statements=sqls)
        leftover = diff(expected, await introspect(target_url))
        if leftover:
            labels = ", ".join(f"{o.label} {o.qualified_name}" for o in leftover)
            return Outcome(
                case, "failed", f"{direction}: re-diff not empty", labels, statements=sqls
            )
    return Outcome(case, "passed", statements=sqls)
