"""The tracker's projection: a pure function of the events, robust to their arrival order."""

import itertools
import uuid

from schemashift.consumers.tracker.store import project
from schemashift.schemas.events import (
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    Event,
    EventType,
    MigrationApplied,
    MigrationApproved,
    MigrationProgress,
    Mode,
    ScriptGenerated,
)
from schemashift.schemas.operations import Statement


def flow(mode: Mode) -> list[Event]:
    start = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target="t",
        payload=ComparisonRequested(source="s", target="t", mode=mode),
    )
    diff = start.follow(
        DiffComputed(
            source="s",
            target="t",
            mode=mode,
            dialect="postgresql",
            operations=[],
            summary=DiffSummary(total=1, by_kind={"create_table": 1}),
            source_fingerprint="a",
            target_fingerprint="b",
        ),
        producer="comparator",
    )
    statements = [Statement(sql="CREATE TABLE x ()", kind="create_table", object="public.x")]
    script = diff.follow(
        ScriptGenerated(
            target="t",
            mode=mode,
            dialect="postgresql",
            statements=statements,
            reverse_statements=[],
            checksum="c",
            target_fingerprint="b",
        ),
        producer="generator",
    )
    events = [start, diff, script]
    if mode is Mode.PLAN:
        events.append(script.follow(MigrationApproved(approved_by="dba"), producer="gateway"))
    progress = script.follow(
        MigrationProgress(index=0, total=1, sql=statements[0].sql, duration_ms=1.0),
        producer="executor",
        instance="0",
    )
    applied = script.follow(
        MigrationApplied(statements_applied=1, duration_ms=2.0, checksum="c"),
        producer="executor",
    )
    return [*events, progress, applied]


def replay(events: list[Event]) -> dict:
    row = None
    for seq, event in enumerate(events, 1):
        row = project(row, event, seq)
    assert row is not None
    return row


def test_apply_flow_ends_applied_with_its_script():
    row = replay(flow(Mode.APPLY))
    assert row["status"] == "applied"
    assert row["source"] == "s" and row["mode"] == "apply"
    assert row["statements"][0]["sql"] == "CREATE TABLE x ()"
    assert row["progress"] == 1 and row["total"] == 1


def test_plan_flow_waits_for_approval_then_applies():
    events = flow(Mode.PLAN)
    assert replay(events[:3])["status"] == "awaiting_approval"
    row = replay(events)
    assert row["status"] == "applied" and row["approved_by"] == "dba"


def test_any_arrival_order_gives_the_same_final_state():
    events = flow(Mode.APPLY)
    expected = replay(events)
    for order in itertools.permutations(events[1:]):
        row = replay([events[0], *order])
        assert row["status"] == expected["status"] == "applied"
        assert row["progress"] == expected["progress"]
        assert row["statements"] == expected["statements"]
