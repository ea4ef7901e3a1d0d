"""The comparator's per-target queue on a migrated metadata database: one migration of a target
in flight, the next compared when it ends, in arrival order, each request queued once."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemashift.consumers.comparator.queue import mark_compared, next_to_compare
from schemashift.schemas.events import ComparisonRequested, Event

pytestmark = pytest.mark.integration


def requested(target: str = "prod") -> Event:
    payload = ComparisonRequested(source="dev", target=target)
    return Event(type=payload.type, migration_id=uuid.uuid4(), target=target, payload=payload)


async def test_requests_of_a_target_are_compared_one_at_a_time_in_arrival_order(engine):
    first, second, third = requested(), requested(), requested()
    taken = await next_to_compare(engine, "prod", arrived=first, trace_context={"traceparent": "x"})
    assert (
        taken is not None and taken.request == first and taken.trace_context == {"traceparent": "x"}
    )
    # Not yet published (a crash after taking it): the active request is handed out again,
    # the new arrival waits behind it.
    again = await next_to_compare(engine, "prod", arrived=second)
    assert again is not None and again.request == first
    await mark_compared(engine, first.migration_id)
    assert await next_to_compare(engine, "prod", arrived=third) is None  # first in flight
    assert await next_to_compare(engine, "prod") is None
    # A redelivered arrival is queued once and changes nothing.
    assert await next_to_compare(engine, "prod", arrived=second) is None
    taken = await next_to_compare(engine, "prod", ended=first.migration_id)
    assert taken is not None and taken.request == second and taken.trace_context is None
    await mark_compared(engine, second.migration_id)
    taken = await next_to_compare(engine, "prod", ended=second.migration_id)
    assert taken is not None and taken.request == third
    await mark_compared(engine, third.migration_id)
    assert await next_to_compare(engine, "prod", ended=third.migration_id) is None


async def test_targets_do_not_wait_for_each_other(engine):
    a, b = requested("a"), requested("b")
    assert (await next_to_compare(engine, "a", arrived=a)).request == a
    assert (await next_to_compare(engine, "b", arrived=b)).request == b


async def test_concurrent_steps_of_one_target_hand_out_its_head_once_published(engine):
    # Ten comparators race on one target: the lock makes them take turns, so exactly one
    # request is active; once it is published, the others find it in flight.
    arrivals = [requested() for _ in range(10)]
    taken = await asyncio.gather(*(next_to_compare(engine, "prod", arrived=e) for e in arrivals))
    heads = {t.request.migration_id for t in taken if t is not None}
    assert len(heads) == 1
    (head,) = heads
    await mark_compared(engine, head)
    assert await next_to_compare(engine, "prod") is None
    following = await next_to_compare(engine, "prod", ended=head)
    assert following is not None and following.request.migration_id != head
    assert following.request.migration_id in {e.migration_id for e in arrivals}
