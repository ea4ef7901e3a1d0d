"""A migration's events come out in causal order whatever order the tracker stored them in."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from schemashift.consumers.tracker.causal import LiveOrder, causal_order
from schemashift.schemas.events import Mode
from tests.support.flows import T0, migration_flow


def _flow(statements: int = 3):
    """A plan-mode migration: its approval comes from the gateway, caused by no event."""
    return migration_flow(Mode.PLAN, statements)


def _ids(stored) -> list[uuid.UUID]:
    return [event.event_id for _, event in stored]


def test_any_storage_order_comes_out_as_it_happened():
    flow = _flow(statements=5)
    rng = random.Random(7)
    for _ in range(50):
        shuffled = flow[:]
        rng.shuffle(shuffled)
        stored = list(enumerate(shuffled, start=1))
        assert _ids(causal_order(stored)) == [e.event_id for e in flow]


def test_progress_comes_in_statement_order_across_attempts():
    # A retried attempt re-sends the progress events the first attempt lost: their ids are the
    # same, their times later than those of the first attempt's events that got through.
    flow = _flow(statements=6)
    progress = [e for e in flow if e.type.value == "migration.progress"]
    late = {e.event_id for e in progress[:3]}
    retried = [
        e.model_copy(update={"occurred_at": e.occurred_at + timedelta(minutes=1)})
        if e.event_id in late
        else e
        for e in flow
    ]
    stored = list(enumerate(retried, start=1))
    ordered = [e for _, e in causal_order(stored) if e.type.value == "migration.progress"]
    assert [e.payload.index for e in ordered] == list(range(6))


def test_cause_wins_over_a_clock_that_runs_behind():
    request, diff, *_ = _flow()
    # The comparator's clock is a minute behind the gateway's.
    early = diff.model_copy(update={"occurred_at": T0 - timedelta(minutes=1)})
    assert _ids(causal_order([(1, early), (2, request)])) == [request.event_id, diff.event_id]


def test_same_instant_keeps_the_log_order():
    request = _flow()[0]
    twin = request.model_copy(update={"event_id": uuid.uuid4()})
    assert _ids(causal_order([(2, twin), (1, request)])) == [request.event_id, twin.event_id]


def test_live_order_holds_an_effect_back_until_its_cause_is_stored():
    request, diff, script, *_ = _flow()
    order = LiveOrder(grace_s=5)
    assert _ids(order.release([(1, request), (2, script)], now=0)) == [request.event_id]
    assert not order.settled
    assert _ids(order.release([(3, diff)], now=1)) == [diff.event_id, script.event_id]
    assert order.settled and order.last_seq == 3


def test_live_order_holds_the_outcome_until_its_progress_is_stored():
    flow = _flow(statements=2)
    *head, p0, p1, applied = flow
    order = LiveOrder(grace_s=5)
    stored = [(i, e) for i, e in enumerate([*head, applied, p0], start=1)]
    released = order.release(stored, now=0)
    assert _ids(released) == [e.event_id for e in [*head, p0]]
    later = order.release([(len(stored) + 1, p1)], now=1)
    assert _ids(later) == [p1.event_id, applied.event_id]


def test_live_order_gives_up_waiting_after_the_grace_period():
    request, _, script, *_ = _flow()
    order = LiveOrder(grace_s=5)
    order.release([(1, request), (2, script)], now=0)
    assert order.release([], now=4.9) == []
    assert _ids(order.release([], now=5)) == [script.event_id]
    assert order.settled
