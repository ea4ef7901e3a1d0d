"""A producer that can no longer deliver ends its process instead of failing every message."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber

from schemashift.consumers.common import kafka
from schemashift.schemas.events import ComparisonRequested, Event, EventType

EVENT = Event(
    type=EventType.COMPARISON_REQUESTED,
    migration_id=uuid.uuid4(),
    target="t",
    payload=ComparisonRequested(source="s", target="t"),
)


class _Broker:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def publish(self, *args: object, **kwargs: object) -> None:
        raise self.error


def _exit(code: int) -> None:
    raise SystemExit(code)


async def test_a_producer_that_lost_its_sequence_ends_the_process(monkeypatch, caplog):
    monkeypatch.setattr(kafka.os, "_exit", _exit)
    with pytest.raises(SystemExit) as ended:
        await kafka.publish_event(_Broker(OutOfOrderSequenceNumber()), EVENT)  # type: ignore[arg-type]
    assert ended.value.code == kafka.EXIT_PRODUCER_LOST
    assert "restarts with a new one" in caplog.text


async def test_other_publish_errors_reach_the_caller(monkeypatch):
    monkeypatch.setattr(kafka.os, "_exit", _exit)
    with pytest.raises(KafkaTimeoutError):
        await kafka.publish_event(_Broker(KafkaTimeoutError()), EVENT)  # type: ignore[arg-type]


class _Unconfirmed:
    """A broker whose sends are accepted, and whose acknowledgement fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def publish(self, *args: object, no_confirm: bool = False, **kwargs: object):
        assert no_confirm, "the event must be sent without waiting inside publish"
        future = asyncio.get_running_loop().create_future()
        future.set_exception(self.error)
        return future


async def test_a_delivery_that_fails_after_the_send_ends_the_process_too(monkeypatch):
    monkeypatch.setattr(kafka.os, "_exit", _exit)
    future = await kafka.send_event(_Unconfirmed(OutOfOrderSequenceNumber()), EVENT)  # type: ignore[arg-type]
    with pytest.raises(SystemExit) as ended:
        await kafka.confirmed(future)
    assert ended.value.code == kafka.EXIT_PRODUCER_LOST
    with pytest.raises(KafkaTimeoutError):
        await kafka.publish_event(_Unconfirmed(KafkaTimeoutError()), EVENT)  # type: ignore[arg-type]
