"""The executor's record of each migration on a real metadata database: the first outcome
stored stays, and every later attempt (a redelivery, a second executor) is handed that one."""

from __future__ import annotations

import asyncio

import pytest

from schemashift.consumers.executor import store
from schemashift.schemas.events import MigrationApplied, MigrationFailed, Stage
from tests.support.flows import migration_flow

pytestmark = pytest.mark.integration


async def test_the_first_outcome_stays_and_later_ones_get_it(engine):
    flow = migration_flow()
    script = next(e for e in flow if e.type.value == "script.generated")
    row = await store.remember(engine, script, script=True)
    assert row["script_event"]["event_id"] == str(script.event_id)
    applied = script.follow(
        MigrationApplied(statements_applied=1, duration_ms=1.0, checksum="c"),
        producer="executor",
    )
    failed = script.follow(
        MigrationFailed(stage=Stage.EXECUTE, reason="refused"), producer="executor"
    )
    assert await store.record_outcome(engine, script.migration_id, applied) == applied
    assert await store.record_outcome(engine, script.migration_id, failed) == applied
    # Racing executors: whichever stores first, all are handed the same outcome.
    other = migration_flow()
    script = next(e for e in other if e.type.value == "script.generated")
    await store.remember(engine, script, script=True)
    outcomes = [
        script.follow(
            MigrationApplied(statements_applied=n, duration_ms=1.0, checksum="c"),
            producer="executor",
        )
        for n in range(8)
    ]
    stored = await asyncio.gather(
        *(store.record_outcome(engine, script.migration_id, o) for o in outcomes)
    )
    assert len({e.event_id for e in stored}) == 1 and stored[0] in outcomes
