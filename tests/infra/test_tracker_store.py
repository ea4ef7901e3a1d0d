"""The tracker's batch store on a real metadata database: a batch of events of several
migrations, in any order and with redeliveries, is stored once per event, and the migrations
table it writes (changed columns only) equals the projection rebuilt from the log alone."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta

import asyncpg
import pytest

from schemashift.consumers.common import metrics
from schemashift.consumers.common.connections import connections
from schemashift.consumers.tracker import store
from schemashift.schemas.events import Mode
from tests.support.flows import T0, migration_flow

pytestmark = pytest.mark.integration

COMPARED = ("status", "progress", "total", "statements", "approved", "approved_by", "error")


async def _rows(engine) -> dict:
    return {
        row["id"]: {k: row[k] for k in COMPARED}
        for row in await store.list_migrations(engine, limit=1000)
    }


async def test_batches_store_each_event_once_and_project_exactly(engine):
    flows = [migration_flow(Mode.APPLY, statements=5) for _ in range(6)]
    flows += [migration_flow(Mode.PLAN, statements=3) for _ in range(3)]
    events = [event for flow in flows for event in flow]
    random.Random(7).shuffle(events)
    # The request of each migration is recorded alone first, as the gateway does.
    for flow in flows:
        assert await store.record(engine, flow[0])
    rest = [e for e in events if all(e is not flow[0] for flow in flows)]
    stored = 0
    for start in range(0, len(rest), 7):
        batch = rest[start : start + 7]
        stored += await store.record_all(engine, batch + batch[:2])  # duplicates inside
    assert stored == len(rest)
    assert await store.record_all(engine, events) == 0, "a redelivery stored again"
    incremental = await _rows(engine)
    assert {row["status"] for row in incremental.values()} == {"applied"}
    assert await store.rebuild(engine) == len(events)
    assert await _rows(engine) == incremental
    for flow in flows:
        logged = await store.stored_events(engine, flow[0].migration_id)
        assert sorted(e.event_id for _, e in logged) == sorted(e.event_id for e in flow)


async def test_the_history_filters_by_time_and_each_target_has_its_newest(engine):
    flows = []
    for hours, target in enumerate(["a", "b", "a", "b", "a"]):
        flow = migration_flow(Mode.APPLY, statements=1)
        shift = timedelta(hours=hours)
        flows.append(
            [
                e.model_copy(update={"target": target, "occurred_at": e.occurred_at + shift})
                for e in flow
            ]
        )
    await store.record_all(engine, [e for flow in flows for e in flow])
    ids = [flow[0].migration_id for flow in flows]
    window = await store.list_migrations(
        engine, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)
    )
    assert [row["id"] for row in window] == [ids[2], ids[1]], "not newest first in range"
    latest = await store.latest_by_target(engine, ["a", "b", "c"])
    assert {t: row["id"] for t, row in latest.items()} == {"a": ids[4], "b": ids[3]}
    assert latest["a"]["status"] == "applied"
    assert await store.latest_by_target(engine, []) == {}


async def test_a_live_read_has_the_row_and_every_event_after_a_seq(engine):
    flow, other = migration_flow(Mode.APPLY, statements=3), migration_flow(Mode.APPLY)
    await store.record_all(engine, [*flow[:3], *other])
    row, new = await store.migration_and_events(engine, flow[0].migration_id)
    assert row is not None and row["status"] == "generated"
    assert [e.event_id for _, e in new] == [e.event_id for e in flow[:3]]
    seen = new[-1][0]
    await store.record_all(engine, flow[3:])
    row, new = await store.migration_and_events(engine, flow[0].migration_id, after_seq=seen)
    assert row is not None and row["status"] == "applied" and row["last_seq"] > seen
    assert [e.event_id for _, e in new] == [e.event_id for e in flow[3:]], "not each once"
    assert [seq for seq, _ in new] == sorted(seq for seq, _ in new)
    assert "new_events" not in row
    _, none_new = await store.migration_and_events(
        engine, flow[0].migration_id, after_seq=row["last_seq"]
    )
    assert none_new == []
    assert await store.migration_and_events(engine, uuid.uuid4()) == (None, [])


async def test_listeners_hear_of_each_migration_with_new_events_after_the_commit(
    metadata_url, engine
):
    listener = await asyncpg.connect(metadata_url)
    heard: list[str] = []
    await listener.add_listener(store.NOTIFY_CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                connections.insert().values(
                    name="t", dialect="sqlite", url_encrypted="x", display_url="sqlite://"
                )
            )
        first, second = migration_flow(Mode.APPLY), migration_flow(Mode.APPLY)
        ended = metrics.MIGRATIONS.labels(status="applied", dialect="sqlite")
        before = ended._value.get()
        assert await store.record(engine, first[0])
        assert await store.record_all(engine, first[1:] + second) == len(first) - 1 + len(second)
        assert await store.record_all(engine, first) == 0  # a redelivery: no news
        await asyncio.sleep(0.2)  # notifications travel on the listener's own connection
        # Once per migration and transaction, in the order the events were stored.
        assert heard[0] == str(first[0].migration_id)
        assert sorted(heard[1:]) == sorted(str(flow[0].migration_id) for flow in (first, second))
        # Both ended: one with its row there before the batch, one whose row it inserted.
        assert ended._value.get() - before == 2
    finally:
        await listener.close()
