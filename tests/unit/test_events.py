"""The event contracts: envelope round-trips, derived ids, CloudEvents headers."""

import uuid

import pytest
from pydantic import ValidationError

from schemashift.schemas.events import (
    ALL_TOPICS,
    ComparisonRequested,
    Event,
    EventType,
    MigrationFailed,
    MigrationProgress,
    Mode,
    Stage,
)


def requested() -> Event:
    return Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target="prod",
        payload=ComparisonRequested(source="dev", target="prod", mode=Mode.APPLY),
    )


def test_round_trip_through_json_keeps_every_field():
    event = requested()
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert isinstance(again.payload, ComparisonRequested)


def test_topics_are_prefixed_and_distinct():
    assert len(set(ALL_TOPICS)) == len(ALL_TOPICS)
    assert all(t.startswith("schemashift.") for t in ALL_TOPICS)
    assert requested().topic == "schemashift.comparison.requested"


def test_follow_derives_a_stable_id_from_the_cause():
    cause = requested()
    failed = MigrationFailed(stage=Stage.COMPARE, reason="x")
    first = cause.follow(failed, producer="comparator")
    second = cause.follow(failed, producer="comparator")
    assert first.event_id == second.event_id != cause.event_id
    assert first.causation_id == cause.event_id
    assert first.migration_id == cause.migration_id and first.target == "prod"


def test_follow_instances_differ():
    cause = requested()
    ids = {
        cause.follow(
            MigrationProgress(index=i, total=3, sql="", duration_ms=0),
            producer="executor",
            instance=str(i),
        ).event_id
        for i in range(3)
    }
    assert len(ids) == 3


def test_cloudevents_headers():
    event = requested()
    headers = event.cloudevents_headers()
    assert headers["ce_id"] == str(event.event_id)
    assert headers["ce_type"] == "io.schemashift.comparison.requested"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_source"] == "/schemashift/schemashift"
    assert headers["ce_time"].startswith(str(event.occurred_at.year))


def test_payload_must_match_its_declared_type():
    body = requested().model_dump(mode="json")
    body["payload"]["type"] = "migration.applied"
    with pytest.raises(ValidationError):
        Event.model_validate(body)


def test_unknown_fields_are_refused():
    body = requested().model_dump(mode="json")
    body["password"] = "x"
    with pytest.raises(ValidationError):
        Event.model_validate(body)


def test_an_envelope_that_disagrees_with_its_payload_is_refused():
    data = requested().model_dump(mode="json")
    data["type"] = EventType.MIGRATION_FAILED.value
    with pytest.raises(ValidationError, match=r"payload of type comparison\.requested"):
        Event.model_validate(data)
