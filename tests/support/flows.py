"""A migration's events built as the pipeline publishes them, for tests without a broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from schemashift.schemas.events import (
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    Event,
    EventType,
    MigrationApplied,
    MigrationApproved,
    MigrationProgress,
    Mode,
    ScriptGenerated,
)
from schemashift.schemas.operations import Statement

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def migration_flow(mode: Mode = Mode.APPLY, statements: int = 1) -> list[Event]:
    """One migration's events in the order they happen, a second apart from ``T0``: request,
    diff, script (of ``statements`` statements), the approval in mode plan, one progress event
    per statement, and the outcome. Each follows its cause as the roles make it follow; the
    approval, from the gateway, has none."""
    request = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target="t",
        occurred_at=T0,
        payload=ComparisonRequested(source="s", target="t", mode=mode),
    )

    def after(cause: Event, payload: BaseModel, seconds: int, producer: str, instance: str = ""):
        event = cause.follow(payload, producer=producer, instance=instance)
        return event.model_copy(update={"occurred_at": T0 + timedelta(seconds=seconds)})

    diff = after(
        request,
        DiffComputed(
            source="s",
            target="t",
            mode=mode,
            dialect="postgresql",
            operations=[],
            summary=DiffSummary(total=statements, by_kind={"create_table": statements}),
            source_fingerprint="a",
            target_fingerprint="b",
        ),
        1,
        "comparator",
    )
    sql = [
        Statement(sql=f"CREATE TABLE x{i} ()", kind="create_table", object=f"public.x{i}")
        for i in range(statements)
    ]
    script = after(
        diff,
        ScriptGenerated(
            target="t",
            mode=mode,
            dialect="postgresql",
            statements=sql,
            reverse_statements=[],
            checksum="c",
            target_fingerprint="b",
        ),
        2,
        "generator",
    )
    events = [request, diff, script]
    if mode is Mode.PLAN:
        events.append(
            Event(
                type=EventType.MIGRATION_APPROVED,
                migration_id=request.migration_id,
                target="t",
                producer="gateway",
                occurred_at=T0 + timedelta(seconds=3),
                payload=MigrationApproved(approved_by="dba"),
            )
        )
    events += [
        after(
            script,
            MigrationProgress(index=i, total=statements, sql=s.sql, duration_ms=1.0),
            4 + i,
            "executor",
            str(i),
        )
        for i, s in enumerate(sql)
    ]
    outcome = MigrationApplied(statements_applied=statements, duration_ms=2.0, checksum="c")
    events.append(after(script, outcome, 4 + statements, "executor"))
    return events
