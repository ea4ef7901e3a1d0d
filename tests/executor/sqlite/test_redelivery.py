"""The executor's handler, delivered again after the broker lost the progress of an apply.

The first attempt applies the script and hands its progress events to the producer, but the
broker never acknowledges them (a restart): the handler fails before the outcome is stored, and
the message comes again. The target's history says the migration is complete, so nothing runs
twice, and the progress the broker lost is published again, with the same event ids.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest
from aiokafka.errors import LeaderNotAvailableError

from schemashift.consumers.common import connections
from schemashift.consumers.executor import app as executor
from schemashift.schemas.events import (
    ComparisonRequested,
    Event,
    EventType,
    MigrationApplied,
    MigrationProgress,
    Mode,
    ScriptGenerated,
)
from schemashift.schemas.operations import Statement
from schemashift.schemas.reserved import SQLITE_HISTORY_TABLE
from tests.support.sqlite_engine import Files, path_of

pytestmark = pytest.mark.sqlite


def _script_event(target: str, *sqls: str) -> Event:
    request = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target=target,
        producer="gateway",
        payload=ComparisonRequested(source="source", target=target, mode=Mode.APPLY),
    )
    return request.follow(
        ScriptGenerated(
            target=target,
            mode=Mode.APPLY,
            dialect="sqlite",
            statements=[Statement(sql=sql, kind="create_table", object="t") for sql in sqls],
            reverse_statements=[],
            checksum="sum",
            target_fingerprint="fp",
        ),
        producer="generator",
    )


class Producer:
    """Stands in for ``role.send``: records each event; ``lost`` fails every acknowledgement."""

    def __init__(self) -> None:
        self.sent: list[Event] = []
        self.lost = False

    async def send(self, event: Event) -> asyncio.Future[object]:
        self.sent.append(event)
        ack: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.lost:
            ack.set_exception(LeaderNotAvailableError())
        else:
            ack.set_result(None)
        return ack


async def test_a_redelivery_after_lost_progress_reports_it_again_and_runs_nothing(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = files.new()
    sqls = ["CREATE TABLE a (id int)", "CREATE TABLE b (id int)", "CREATE TABLE c (id int)"]
    script_event = _script_event("t", *sqls)

    async def resolve(engine: object, name: str) -> str:
        return url

    async def fingerprint(*args: object, **kwargs: object) -> str:
        return "fp"

    producer = Producer()
    monkeypatch.setattr(connections, "resolve", resolve)
    monkeypatch.setattr(executor, "current_fingerprint", fingerprint)
    monkeypatch.setattr(executor.role, "send", producer.send)
    monkeypatch.setattr(executor.role, "_engine", object())  # the metadata DB is not used

    producer.lost = True
    with pytest.raises(LeaderNotAvailableError):
        await executor.execute(script_event)
    first = producer.sent
    assert [e.payload.index for e in first] == [0, 1, 2]  # type: ignore[union-attr]

    producer.sent, producer.lost = [], False
    outcome = await executor.execute(script_event)
    again = producer.sent
    assert isinstance(outcome.payload, MigrationApplied)
    assert outcome.payload.statements_applied == 3
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert all(isinstance(e.payload, MigrationProgress) for e in again)
    assert [e.payload.duration_ms for e in again] == [None, None, None]  # type: ignore[union-attr]
    with sqlite3.connect(path_of(url)) as conn:
        rows = conn.execute(f"SELECT completed, statements FROM {SQLITE_HISTORY_TABLE}")
        assert rows.fetchall() == [(3, 3)]  # applied once: a second CREATE TABLE would fail
    await executor.pools.close()
