"""Crashes and outages on the real parts: roles killed with SIGKILL mid-migration, the broker
restarted and the metadata database stopped during a flow, and a burst of 200 requests.

Each test checks that nothing is lost (every migration ends, every event is stored) and
nothing is duplicated (one history row per migration in its target, one outcome event), and
that a migration is applied exactly once or failed with the target unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from schemashift.consumers.common.kafka import make_broker, publish_event
from schemashift.consumers.common.settings import Settings
from schemashift.infra import manager
from schemashift.schemas.events import EventType
from tests.support.schema_snapshot import assert_same_schema
from tests.support.service import (
    TopicReader,
    assert_complete_once,
    comparison_event,
    history,
    progress_indexes,
    registered_pair,
    request_apply,
    wait_for_progress,
    wait_for_status,
)

pytestmark = pytest.mark.integration


def many_tables(count: int, prefix: str = "t") -> str:
    """A schema of ``count`` small tables, each with an index: a long migration to create."""
    return "\n".join(
        f"CREATE TABLE {prefix}{i} (id bigint PRIMARY KEY, v text, n integer);"
        f"CREATE INDEX {prefix}{i}_v ON {prefix}{i} (v);"
        for i in range(count)
    )


async def _pair(api, new_database, source_sql: str, target_sql: str = ""):
    return await registered_pair(api, new_database, source_sql, target_sql)


async def test_executor_killed_mid_migration_applies_exactly_once(
    api, service, new_database, kafka_bootstrap
):
    source_url, target_url, source, target = await _pair(api, new_database, many_tables(120))
    victim = service.pid("executor")
    async with TopicReader(kafka_bootstrap, EventType.MIGRATION_PROGRESS.topic) as reader:
        migration_id = await request_apply(api, source, target)
        before = await wait_for_progress(reader, migration_id, at_least=20)
        os.kill(victim, signal.SIGKILL)
        migration = await assert_complete_once(api, migration_id)
        after = await wait_for_progress(reader, migration_id, at_least=239)
    assert service.pid("executor") != victim, "the supervisor did not restart the executor"
    assert len(migration["statements"]) == 240
    # Killed mid-transaction: the killed run's statements were rolled back and the
    # restarted executor ran the migration again from its first statement.
    assert max(progress_indexes(before, migration_id)) < 239
    assert progress_indexes(before + after, migration_id).count(0) == 2
    assert await history(target_url) == [migration_id]
    await assert_same_schema(source_url, target_url)


async def test_tracker_and_comparator_killed_mid_flow_lose_nothing(
    api, service, new_database, kafka_bootstrap
):
    pairs = [await _pair(api, new_database, many_tables(15, f"k{i}_")) for i in range(4)]
    async with TopicReader(kafka_bootstrap, EventType.MIGRATION_PROGRESS.topic) as reader:
        ids = [await request_apply(api, source, target) for _, _, source, target in pairs]
        await wait_for_progress(reader, ids[0], at_least=3)
        os.kill(service.pid("tracker"), signal.SIGKILL)
        os.kill(service.pid("comparator"), signal.SIGKILL)
        # Requested while the comparator is down: picked up once it is back.
        more = [await request_apply(api, source, target) for _, _, source, target in pairs]
    for migration_id in ids + more:
        await assert_complete_once(api, migration_id)
    for (source_url, target_url, _, _), first, second in zip(pairs, ids, more, strict=True):
        assert await history(target_url) == [first, second]
        await assert_same_schema(source_url, target_url)


async def test_tracker_back_after_a_backlog_serves_each_migration_in_causal_order(
    api, service, new_database, kafka_bootstrap
):
    pairs = [await _pair(api, new_database, many_tables(8, f"o{i}_")) for i in range(3)]
    tracker = service.pid("tracker")
    # Stopped, the tracker stores nothing while the migrations run to their end; killed then,
    # its successor finds every event of them waiting on eight topics at once.
    os.kill(tracker, signal.SIGSTOP)
    try:
        async with TopicReader(kafka_bootstrap, EventType.MIGRATION_APPLIED.topic) as reader:
            ids = [await request_apply(api, source, target) for _, _, source, target in pairs]
            await reader.read_until(
                lambda rs: {json.loads(r.value)["migration_id"] for r in rs} >= set(ids),
                timeout=120,
            )
    finally:
        os.kill(tracker, signal.SIGKILL)
    for migration_id in ids:
        await assert_complete_once(api, migration_id)


def _local(component: str) -> None:
    for status in manager.status():
        if status.name == component and status.state != manager.State.RUNNING:
            pytest.skip(
                f"{component} is {status.state}: only a locally started one can be restarted"
            )


async def test_broker_restart_during_a_flow_loses_nothing(api, new_database, kafka_bootstrap):
    _local("kafka")
    pairs = [await _pair(api, new_database, many_tables(20, f"b{i}_")) for i in range(3)]
    ids = [await request_apply(api, source, target) for _, _, source, target in pairs]
    await asyncio.to_thread(manager.down, kafka=True, postgres=False, mariadb=False)
    await asyncio.sleep(2)
    await asyncio.to_thread(manager.up, kafka=True, postgres=False, mariadb=False)
    for migration_id in ids:
        await assert_complete_once(api, migration_id)
    for source_url, target_url, _, _ in pairs:
        await assert_same_schema(source_url, target_url)


async def test_metadata_database_outage_delays_but_loses_nothing(
    api, new_database, kafka_bootstrap
):
    _local("postgres")
    source_url, target_url, source, target = await _pair(api, new_database, many_tables(5))
    event = comparison_event(source, target)
    await asyncio.to_thread(manager.down, only=["postgres"])
    try:
        broker = make_broker("test", Settings(kafka_bootstrap=kafka_bootstrap))
        await broker.start()
        try:
            # Consumed while the database is away: the comparator and the tracker must
            # hold on to it until it returns.
            await publish_event(broker, event)
        finally:
            await broker.stop()
        await asyncio.sleep(4)
    finally:
        await asyncio.to_thread(manager.up, kafka=False, postgres=True, mariadb=False)
    await assert_complete_once(api, str(event.migration_id))
    await assert_same_schema(source_url, target_url)


async def test_sigterm_finishes_the_migration_in_hand(api, service, new_database, kafka_bootstrap):
    source_url, target_url, source, target = await _pair(api, new_database, many_tables(60))
    victim = service.pid("executor")
    async with TopicReader(kafka_bootstrap, EventType.MIGRATION_PROGRESS.topic) as reader:
        migration_id = await request_apply(api, source, target)
        before = await wait_for_progress(reader, migration_id, at_least=5)
        os.kill(victim, signal.SIGTERM)
        await assert_complete_once(api, migration_id)
        after = await wait_for_progress(reader, migration_id, at_least=119)
    # Finished by the executor that got SIGTERM: every statement ran once, none again.
    assert max(progress_indexes(before, migration_id)) < 119
    assert sorted(progress_indexes(before + after, migration_id)) == list(range(120))
    deadline = time.monotonic() + 60
    while "executor exited (0)" not in service.logs():
        assert time.monotonic() < deadline, "the executor did not exit cleanly on SIGTERM"
        await asyncio.sleep(0.2)
    assert await history(target_url) == [migration_id]
    await assert_same_schema(source_url, target_url)


async def test_200_requests_over_20_targets_finish_in_submission_order(api, new_database):
    source_sql = "CREATE TABLE t (id integer PRIMARY KEY, v text); CREATE INDEX t_v ON t (v);"
    pairs = [
        await _pair(api, new_database, source_sql, "CREATE TABLE t (id integer)") for _ in range(20)
    ]

    async def lane(source: str, target: str) -> list[str]:
        return [await request_apply(api, source, target) for _ in range(10)]

    submitted = await asyncio.gather(*(lane(s, t) for _, _, s, t in pairs))
    assert sum(len(ids) for ids in submitted) == 200
    for ids in submitted:
        for migration_id in ids:
            migration = await wait_for_status(api, migration_id, {"applied", "failed"}, 180)
            assert migration["status"] == "applied", migration["error"]
    for (source_url, target_url, _, _), ids in zip(pairs, submitted, strict=True):
        assert await history(target_url) == ids, "a target's migrations ran out of order"
        await assert_same_schema(source_url, target_url)
