"""Conformance: migra's and psqldef's public test cases, run against our engine.

For every case (id ``suite/name``) the TARGET database is built from the current schema and
the SOURCE from the desired one; the engine introspects both, diffs, generates a script, and
the script is applied to the target (transactional statements in one transaction, then the
non-transactional ones one by one). The case passes when (1) the independent catalog
comparison (:mod:`tests.conformance.snapshot_full`) finds the two databases equal and (2) the
engine's own re-diff of source and migrated target is empty.

Every case runs on the main server and on one server of another major version, each case on the
next one in turn, so that each version runs its share of the cases (see tests/conftest.py;
``SCHEMASHIFT_CONFORMANCE=full``, what `make conformance` sets, runs every case on every
server); the test id starts with the server. A fixture that does not
load on a server is skipped there with the load error; cases that do not apply (sqldef error
cases, other server versions or flavors) are skipped with the reason; cases
in :data:`tests.conformance.unsupported.UNSUPPORTED` are strict xfails. The shared fixture
directory must exist: without it the suite fails.

The cases selected in a session run together, a few at a time, on one pool of reused
databases per server (:func:`tests.conformance.fixtures.run_cases`, the same code as
``python -m tests.conformance.report``); each test then reports its own case's outcome.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conformance.fixtures import Case, FixturesMissing, Outcome, all_cases, run_cases
from tests.conformance.unsupported import UNSUPPORTED
from tests.support.infra import server_names, server_url

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def _params() -> list[Any]:
    """(server, case) pairs: every case on the main server, and on one other server each, in
    turn (``SCHEMASHIFT_CONFORMANCE=full``: on every server, what `make conformance` runs)."""
    servers = server_names()
    try:
        cases = all_cases()
    except FixturesMissing as exc:
        return [pytest.param("main", str(exc), id="fixtures-missing")]
    full = os.environ.get("SCHEMASHIFT_CONFORMANCE", "").lower() == "full"
    others = servers[1:]
    params = []
    for i, case in enumerate(cases):
        marks = []
        if case.id in UNSUPPORTED:
            marks.append(pytest.mark.xfail(reason=UNSUPPORTED[case.id], strict=True))
        chosen = servers if full or not others else ["main", others[i % len(others)]]
        params += [
            pytest.param(server, case, id=f"{server}-{case.id}", marks=marks) for server in chosen
        ]
    return params


@pytest.fixture(scope="session")
async def conformance_outcomes(request: pytest.FixtureRequest) -> dict[str, dict[str, Outcome]]:
    """Outcomes of every conformance case selected in this session, by server and case id."""
    selected: dict[str, list[Case]] = {}
    for item in request.session.items:
        if getattr(item, "originalname", None) != "test_conformance":
            continue
        case = item.callspec.params.get("case")
        if isinstance(case, Case):
            selected.setdefault(item.callspec.params["server"], []).append(case)
    results: dict[str, dict[str, Outcome]] = {}
    for server, cases in selected.items():
        outcomes = await run_cases(cases, server_url(server))
        results[server] = {outcome.case.id: outcome for outcome in outcomes}
    return results


def _failure(outcome: Outcome) -> str:
    script = "\n".join(outcome.statements[:40])
    more = "\n..." if len(outcome.statements) > 40 else ""
    return f"{outcome.message}\n--- generated script ---\n{script}{more}"


@pytest.mark.parametrize(("server", "case"), _params())
async def test_conformance(
    server: str, case: Case | str, conformance_outcomes: dict[str, dict[str, Outcome]]
) -> None:
    """The engine migrates the case's target to its source: converged and re-diff empty."""
    if isinstance(case, str):
        # A clone on its own is usable; CI, which has the fixtures beside it, must run them.
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(case, pytrace=False)
        pytest.skip(case)
    outcome = conformance_outcomes[server][case.id]
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    if outcome.status == "failed":
        pytest.fail(_failure(outcome), pytrace=False)
    assert outcome.status == "passed"
