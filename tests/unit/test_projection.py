"""The tracker's projection: a pure function of the events, robust to their arrival order."""

import itertools

from schemashift.consumers.tracker.store import project
from schemashift.schemas.events import Event, Mode
from tests.support.flows import migration_flow as flow


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
    assert row["statements"][0]["sql"] == "CREATE TABLE x0 ()"
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
