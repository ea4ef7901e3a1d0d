"""Each role reads through one subscription, so one consumer group whose members all read the
same topics (two subscriptions in one group lost their partitions after a broker restart)."""

from __future__ import annotations

import importlib
import uuid

import pytest

from schemashift.consumers.common.deadletter import PermanentError
from schemashift.consumers.common.role import Role
from schemashift.schemas.events import (
    PIPELINE_TOPICS,
    Event,
    EventType,
    MigrationApproved,
    MigrationRejected,
)

READS = {
    "comparator": {
        EventType.COMPARISON_REQUESTED.topic,
        EventType.MIGRATION_APPLIED.topic,
        EventType.MIGRATION_FAILED.topic,
        EventType.MIGRATION_REJECTED.topic,
    },
    "generator": {EventType.DIFF_COMPUTED.topic},
    "executor": {
        EventType.SCRIPT_GENERATED.topic,
        EventType.MIGRATION_APPROVED.topic,
        EventType.MIGRATION_REJECTED.topic,
    },
    "tracker": set(PIPELINE_TOPICS),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_each_role_has_one_subscription_of_all_its_topics(name: str) -> None:
    role = importlib.import_module(f"schemashift.consumers.{name}.app").role
    (subscriber,) = role.broker.subscribers
    assert set(subscriber.topic_names) == READS[name]


def _event(payload: MigrationApproved | MigrationRejected) -> Event:
    return Event(
        type=payload.type,
        migration_id=uuid.uuid4(),
        target="t",
        producer="gateway",
        payload=payload,
    )


async def test_events_go_to_the_handler_of_their_type_and_others_are_refused() -> None:
    role = Role("router", uses_database=False)
    seen: list[str] = []

    async def approved(event: Event) -> None:
        seen.append(f"approved {event.migration_id}")

    role.handle({EventType.MIGRATION_APPROVED: approved})
    with pytest.raises(RuntimeError, match="one subscription"):
        role.handle({EventType.MIGRATION_REJECTED: approved})
    assert role._lanes is not None
    dispatch = role._lanes._handler
    assert dispatch is not None
    event = _event(MigrationApproved(approved_by="dba"))
    await dispatch(event)
    assert seen == [f"approved {event.migration_id}"]
    with pytest.raises(PermanentError, match=r"migration\.rejected"):
        await dispatch(_event(MigrationRejected(rejected_by="dba")))
