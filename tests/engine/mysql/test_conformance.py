"""sqldef's mysqldef cases on MariaDB, judged by convergence (not by sqldef's text).

Each case's ``current`` schema is loaded into a target and its ``desired`` one into a source;
the engine's script is applied through the executor's apply path; both databases must then
have the same independent snapshot, and the engine must diff to nothing. A case that does not
apply to this server or to what the engine compares is skipped with its reason
(:func:`skip_reason`); one whose SQL does not load on the server is skipped as a fixture.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.comparator.diff import Unsupported, diff
from schemashift.consumers.executor.apply import Applied
from schemashift.consumers.generator.render import generate
from schemashift.schemas.dialects import Dialect
from tests.conformance.fixtures import FixturesMissing, conformance_dir, parse_sqldef_yaml
from tests.support.mysql_engine import MyPair, apply, assert_converged, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

# The server the cases run on (MariaDB 10.11), for min_version / max_version.
SERVER_VERSION = (10, 11)

# What the engine does not compare yet: a case using it would converge on what the snapshot
# sees and say nothing about the rest.
NOT_YET = [
    (re.compile(r"\bCREATE\s+SEQUENCE\b", re.I), "MariaDB sequences are not compared yet"),
    (
        re.compile(r"\bWITH\s+SYSTEM\s+VERSIONING\b", re.I),
        "system-versioned tables are not compared yet",
    ),
    (re.compile(r"\bDELIMITER\b", re.I), "DELIMITER blocks (client syntax)"),
]


# Cases that fail, each with the reason; run as strict expected failures.
KNOWN_FAILURES = {
    "tests_tables/ModifyUnnamedForeignKey": "MariaDB renames the index it generated for an "
    "unnamed foreign key when the key is added again (posts_ibfk_1 instead of author_id), and "
    "the engine does not yet keep the index's name",
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(text))[:3])


def skip_reason(spec: dict[str, Any]) -> str | None:
    """Why a case does not apply here, or None."""
    flavor = str(spec.get("flavor", "")).strip().strip('"')
    if flavor in ("mysql", "tidb") or flavor == "!mariadb":
        return f"flavor {flavor}: not for MariaDB"
    if spec.get("error"):
        return "sqldef expects a refusal (no desired state to converge to)"
    if "min_version" in spec and _version(spec["min_version"]) > SERVER_VERSION:
        return f"needs version {spec['min_version']}"
    if "max_version" in spec and _version(spec["max_version"]) < SERVER_VERSION:
        return f"for versions up to {spec['max_version']} (MySQL 5.7 behaviour)"
    if spec.get("config"):
        return "sqldef configuration (options of sqldef itself)"
    text = f"{spec.get('current') or ''}\n{spec.get('desired') or ''}"
    for pattern, reason in NOT_YET:
        if pattern.search(text):
            return reason
    return None


def _cases() -> list[Any]:
    try:
        root = conformance_dir() / "sqldef" / "mysqldef"
    except FixturesMissing as exc:
        # One test that says so (failing under CI), not an error that stops the collection.
        return [pytest.param(None, str(exc), id="fixtures-missing")]
    params = []
    for path in sorted(Path(root).glob("*.yml")):
        for name, spec in parse_sqldef_yaml(path.read_text()).items():
            case_id = f"{path.stem}/{name}"
            marks = []
            if case_id in KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case_id], strict=True))
            params.append(pytest.param(path.stem, spec, id=case_id, marks=marks))
    return params


async def _load(conn: Any, sql: str) -> None:
    from tests.support.mysql_engine import execute

    await execute(conn, sql)


@pytest.mark.parametrize(("suite", "spec"), _cases())
async def test_mysqldef_case(my_pair: MyPair, suite: str, spec: dict[str, Any] | str) -> None:
    if isinstance(spec, str):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(spec, pytrace=False)
        pytest.skip(spec)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    await my_pair.reset()
    # sqldef's cases run in a database named mysqldef_test, which some of them name.
    target_sql = (spec.get("current") or "").replace("mysqldef_test", my_pair.names[1])
    source_sql = (spec.get("desired") or "").replace("mysqldef_test", my_pair.names[0])
    try:
        await _load(my_pair.target, target_sql)
        await _load(my_pair.source, source_sql)
    except Exception as exc:  # the server refuses the fixture's SQL
        pytest.skip(f"fixture: SQL does not load on MariaDB 10.11: {str(exc)[:120]}")
    from schemashift.consumers.comparator.introspect.mysql import introspect_connection

    try:
        source = await introspect_connection(my_pair.source)
        target = await introspect_connection(my_pair.target)
        ops = diff(source, target)
    except (Unsupported, IntrospectionError) as exc:
        pytest.fail(f"refused: {exc}")
    script = generate(ops, Dialect.MYSQL)
    result = await apply(my_pair.target, script.statements)
    assert isinstance(result, Applied), (result, script.sql())
    assert await snapshot(my_pair.target) == await snapshot(my_pair.source), script.sql()
    await assert_converged(my_pair)
