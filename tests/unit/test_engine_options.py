"""Engine options on the wire: off by default, carried through JSON, unknown keys refused, and
the generator renders with the options its diff.computed carries."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.generator.app import generate_script
from schemashift.gateway.api.models import ComparisonIn, RollbackIn
from schemashift.schemas.catalog import Catalog, Column, Index, Table
from schemashift.schemas.events import (
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    EngineOptions,
    Event,
    EventType,
    Mode,
    ScriptGenerated,
)
from schemashift.schemas.operations import Operation

ALL_ON = EngineOptions(privileges=True, concurrent_indexes=True)


def diff_computed(operations: list[Operation], options: EngineOptions) -> DiffComputed:
    return DiffComputed(
        source="dev",
        target="prod",
        mode=Mode.APPLY,
        dialect="postgresql",
        operations=operations,
        summary=DiffSummary(total=len(operations)),
        source_fingerprint="a",
        target_fingerprint="b",
        options=options,
    )


def envelope(payload: ComparisonRequested | DiffComputed) -> Event:
    return Event(type=payload.type, migration_id=uuid.uuid4(), target="prod", payload=payload)


def test_options_default_to_off() -> None:
    off = EngineOptions(privileges=False, concurrent_indexes=False)
    assert EngineOptions() == off
    assert ComparisonRequested(source="dev", target="prod").options == off
    assert diff_computed([], EngineOptions()).options == off
    assert ComparisonIn(source="dev", target="prod").options == off
    assert RollbackIn().options == off


def test_events_without_options_still_parse_with_them_off() -> None:
    # Events already on the log (and in the comparator's queue) predate the field.
    body = envelope(ComparisonRequested(source="dev", target="prod")).model_dump(mode="json")
    del body["payload"]["options"]
    assert Event.model_validate(body).payload == ComparisonRequested(source="dev", target="prod")


@pytest.mark.parametrize(
    "payload",
    [
        ComparisonRequested(source="dev", target="prod", options=ALL_ON),
        ComparisonRequested(
            source="dev", target="prod", options=EngineOptions(concurrent_indexes=True)
        ),
        diff_computed([], ALL_ON),
        diff_computed([], EngineOptions(privileges=True)),
    ],
    ids=["requested-all", "requested-concurrent", "computed-all", "computed-privileges"],
)
def test_options_round_trip_through_json(payload: ComparisonRequested | DiffComputed) -> None:
    event = envelope(payload)
    again = Event.model_validate_json(event.model_dump_json())
    assert again == event
    assert isinstance(again.payload, type(payload))
    assert again.payload.options == payload.options


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (EngineOptions, {"concurrent_index": True}),
        (ComparisonRequested, {"source": "a", "target": "b", "options": {"grants": True}}),
        (ComparisonIn, {"source": "a", "target": "b", "options": {"concurrently": True}}),
        (RollbackIn, {"options": {"privileges": True, "drop_everything": True}}),
    ],
)
def test_unknown_option_keys_are_refused(model: type, body: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(body)


def index_operations() -> list[Operation]:
    """One index created on a table both sides already have."""
    table = Table(schema_name="public", name="t", columns=[Column(name="a", type="integer")])
    index = Index(name="i", definition="CREATE INDEX i ON public.t USING btree (a)", columns=["a"])
    source = Catalog(tables=[table.model_copy(update={"indexes": [index]})])
    return diff(source, Catalog(tables=[table]))


@pytest.mark.parametrize(
    ("concurrent", "sql"),
    [
        (True, "CREATE INDEX CONCURRENTLY i ON public.t USING btree (a);"),
        (False, "CREATE INDEX i ON public.t USING btree (a);"),
    ],
)
def test_generator_renders_with_the_options_of_its_diff(concurrent: bool, sql: str) -> None:
    options = EngineOptions(concurrent_indexes=concurrent)
    outcome = generate_script(envelope(diff_computed(index_operations(), options)))
    assert outcome.type is EventType.SCRIPT_GENERATED
    assert isinstance(outcome.payload, ScriptGenerated)
    [create] = outcome.payload.statements
    assert create.sql == sql
    assert create.transactional is not concurrent
