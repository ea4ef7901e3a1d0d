"""Event contracts: the envelope every topic carries and one payload model per event type.

Events are immutable facts in the past tense. Each event type has its own topic under the
``schemashift.`` prefix, and every message is keyed by the target connection's name so that all
migrations of one target stay ordered on one partition.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Operation, Statement

SCHEMA_VERSION = 1
TOPIC_PREFIX = "schemashift."


class EventType(StrEnum):
    """Every event the pipeline publishes; the value is also the topic suffix."""

    COMPARISON_REQUESTED = "comparison.requested"
    DIFF_COMPUTED = "diff.computed"
    SCRIPT_GENERATED = "script.generated"
    MIGRATION_APPROVED = "migration.approved"
    MIGRATION_REJECTED = "migration.rejected"
    MIGRATION_PROGRESS = "migration.progress"
    MIGRATION_APPLIED = "migration.applied"
    MIGRATION_FAILED = "migration.failed"

    @property
    def topic(self) -> str:
        return TOPIC_PREFIX + self.value


DEAD_LETTER_TOPIC = TOPIC_PREFIX + "deadletter"
REPLAY_TOPIC = TOPIC_PREFIX + "replay"
PIPELINE_TOPICS: tuple[str, ...] = tuple(t.topic for t in EventType)
ALL_TOPICS: tuple[str, ...] = (*PIPELINE_TOPICS, DEAD_LETTER_TOPIC, REPLAY_TOPIC)


class Mode(StrEnum):
    PLAN = "plan"
    APPLY = "apply"


class MigrationStatus(StrEnum):
    """Where a migration stands, as the tracker derives it from its events."""

    REQUESTED = "requested"
    COMPARED = "compared"
    GENERATED = "generated"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self in (MigrationStatus.APPLIED, MigrationStatus.FAILED, MigrationStatus.REJECTED)


class Stage(StrEnum):
    """The role in which a migration failed."""

    COMPARE = "compare"
    GENERATE = "generate"
    EXECUTE = "execute"


# --- payloads -----------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineOptions(_Payload):
    """Opt-in behaviours of the schema engine, off unless a request turns them on."""

    privileges: bool = Field(
        default=False,
        description="Also compare GRANT/REVOKE; the roles must exist in the target.",
    )
    concurrent_indexes: bool = Field(
        default=False,
        description=(
            "Create and drop indexes on existing tables CONCURRENTLY, "
            "outside the migration's transaction."
        ),
    )


class ComparisonRequested(_Payload):
    """A user asked to make ``target`` match ``source`` (both registered connection names)."""

    type: Literal[EventType.COMPARISON_REQUESTED] = EventType.COMPARISON_REQUESTED
    source: str
    target: str
    mode: Mode = Mode.PLAN
    allow_hazards: list[Hazard] = Field(default_factory=list)
    requested_by: str | None = None
    comment: str | None = Field(
        default=None, max_length=1000, description="Why it was requested (a rollback's reason)."
    )
    rollback_of: uuid.UUID | None = Field(
        default=None, description="Set on a rollback: the migration whose effect it undoes."
    )
    operations: list[Operation] | None = Field(
        default=None,
        description="A rollback's operations (the original's, reversed), used instead of a diff.",
    )
    expected_fingerprint: str | None = Field(
        default=None,
        description="A rollback runs only on a target whose schema is still this one.",
    )
    options: EngineOptions = Field(default_factory=EngineOptions)


class DiffSummary(_Payload):
    """Counts of operations by kind, for listings that do not need the operations."""

    total: int = 0
    by_kind: dict[str, int] = Field(default_factory=dict)


class DiffComputed(_Payload):
    """The comparator found these operations; ``target_fingerprint`` pins the target's schema."""

    type: Literal[EventType.DIFF_COMPUTED] = EventType.DIFF_COMPUTED
    source: str
    target: str
    mode: Mode
    dialect: Dialect
    operations: list[Operation]
    summary: DiffSummary
    source_fingerprint: str
    target_fingerprint: str
    # The target's catalog stamp when it was read (None for dialects without one): while the
    # target still has it, checking the fingerprint costs one query.
    target_stamp: str | None = None
    allow_hazards: list[Hazard] = Field(default_factory=list)
    # The generator renders from this event alone, so the request's options travel with it.
    options: EngineOptions = Field(default_factory=EngineOptions)


class ScriptGenerated(_Payload):
    """The generator's ordered statements (and the reverse script) for the target's dialect."""

    type: Literal[EventType.SCRIPT_GENERATED] = EventType.SCRIPT_GENERATED
    target: str
    mode: Mode
    dialect: Dialect
    statements: list[Statement]
    reverse_statements: list[Statement]
    checksum: str
    target_fingerprint: str
    # The target's catalog stamp when it was read (None for dialects without one): while the
    # target still has it, checking the fingerprint costs one query.
    target_stamp: str | None = None
    hazards: list[Hazard] = Field(default_factory=list)
    allow_hazards: list[Hazard] = Field(default_factory=list)

    @property
    def unallowed_hazards(self) -> list[Hazard]:
        """The script's hazards that the request did not allow."""
        return [h for h in self.hazards if h not in self.allow_hazards]

    @property
    def needs_approval(self) -> bool:
        """True when the script may run only once approved: mode plan, or hazards not allowed.

        A script without statements never waits: there is nothing to approve.
        """
        if not self.statements:
            return False
        return self.mode is Mode.PLAN or bool(self.unallowed_hazards)


class MigrationApproved(_Payload):
    type: Literal[EventType.MIGRATION_APPROVED] = EventType.MIGRATION_APPROVED
    approved_by: str | None = None
    comment: str | None = None


class MigrationRejected(_Payload):
    """A migration awaiting approval was turned down; it ends without touching the target."""

    type: Literal[EventType.MIGRATION_REJECTED] = EventType.MIGRATION_REJECTED
    rejected_by: str | None = None
    comment: str | None = None


class MigrationProgress(_Payload):
    """One statement of the migration finished on the target (not yet committed)."""

    type: Literal[EventType.MIGRATION_PROGRESS] = EventType.MIGRATION_PROGRESS
    index: int
    total: int
    sql: str
    duration_ms: float | None = Field(
        default=None,
        description="How long the statement took; null when a later attempt reports a "
        "statement an earlier attempt applied (its time is not known).",
    )


class MigrationApplied(_Payload):
    type: Literal[EventType.MIGRATION_APPLIED] = EventType.MIGRATION_APPLIED
    statements_applied: int
    duration_ms: float
    checksum: str
    resumed_from: int | None = Field(
        default=None,
        description="Set when an earlier attempt stopped after committing part of the script "
        "(on MySQL/MariaDB, where each statement commits alone, or after a statement that runs "
        "outside a transaction): the index of the first statement this attempt ran; the "
        "statements before it were applied by the earlier attempt.",
    )


class MigrationFailed(_Payload):
    """The migration ended without changing the target; ``reason`` says why in one line."""

    type: Literal[EventType.MIGRATION_FAILED] = EventType.MIGRATION_FAILED
    stage: Stage
    reason: str
    statement: str | None = None
    statement_index: int | None = None
    database_error: str | None = None


Payload = Annotated[
    ComparisonRequested
    | DiffComputed
    | ScriptGenerated
    | MigrationApproved
    | MigrationRejected
    | MigrationProgress
    | MigrationApplied
    | MigrationFailed,
    Field(discriminator="type"),
]

PAYLOAD_MODELS: dict[EventType, type[_Payload]] = {
    EventType.COMPARISON_REQUESTED: ComparisonRequested,
    EventType.DIFF_COMPUTED: DiffComputed,
    EventType.SCRIPT_GENERATED: ScriptGenerated,
    EventType.MIGRATION_APPROVED: MigrationApproved,
    EventType.MIGRATION_REJECTED: MigrationRejected,
    EventType.MIGRATION_PROGRESS: MigrationProgress,
    EventType.MIGRATION_APPLIED: MigrationApplied,
    EventType.MIGRATION_FAILED: MigrationFailed,
}


# --- envelope ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope: identity, ordering key and provenance around one payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: EventType
    schema_version: int = SCHEMA_VERSION
    migration_id: uuid.UUID
    target: str = Field(description="Name of the target connection; the Kafka message key.")
    occurred_at: datetime = Field(default_factory=_now)
    causation_id: uuid.UUID | None = Field(
        default=None, description="The event_id of the event that caused this one."
    )
    producer: str = Field(default="schemashift", description="The role that published it.")
    replayed: bool = Field(
        default=False, description="True on copies re-published from the event log."
    )
    payload: Payload

    @model_validator(mode="after")
    def _payload_matches_type(self) -> Event:
        # Consumers dispatch on either; an envelope that disagrees with its payload is refused
        # (and so dead-lettered) rather than handled as one or the other.
        if self.payload.type != self.type:
            raise ValueError(f"payload of type {self.payload.type} in an event of type {self.type}")
        return self

    @property
    def topic(self) -> str:
        return self.type.topic

    @property
    def key(self) -> bytes:
        return self.target.encode()

    def follow(self, payload: Any, *, producer: str, instance: str = "") -> Event:
        """The next event of the same migration, caused by this one.

        Its id is derived from this event's id (and ``instance``, for several events of one
        type), so a redelivered message yields the same event again and every consumer's
        dedupe-by-id makes the redelivery harmless.
        """
        return Event(
            event_id=uuid.uuid5(self.event_id, f"{payload.type}/{instance}"),
            type=payload.type,
            migration_id=self.migration_id,
            target=self.target,
            causation_id=self.event_id,
            producer=producer,
            payload=payload,
        )

    def cloudevents_headers(self) -> dict[str, str]:
        """Headers of the CloudEvents Kafka protocol binding (binary content mode)."""
        return {
            "ce_specversion": "1.0",
            "ce_id": str(self.event_id),
            "ce_type": f"io.schemashift.{self.type.value}",
            "ce_source": f"/schemashift/{self.producer}",
            "ce_time": self.occurred_at.isoformat(),
            "ce_subject": str(self.migration_id),
            "content-type": "application/json",
            "schemashift_replayed": "true" if self.replayed else "false",
        }


class DeadLetter(BaseModel):
    """What a consumer could not process, with the reason and the original bytes (base64)."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    consumer: str
    original_topic: str
    original_partition: int | None = None
    original_offset: int | None = None
    original_key: str | None = None
    original_value_b64: str
    failed_at: datetime = Field(default_factory=_now)
