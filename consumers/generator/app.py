"""The generator role: diff.computed → script.generated (or migration.failed)."""

from __future__ import annotations

import hashlib

from schemashift.consumers.common import metrics
from schemashift.consumers.common.role import Role, should_handle
from schemashift.consumers.generator.render import generate
from schemashift.schemas.events import (
    DiffComputed,
    Event,
    EventType,
    MigrationFailed,
    ScriptGenerated,
    Stage,
)
from schemashift.schemas.operations import Statement

role = Role(
    "generator",
    publishes=(EventType.SCRIPT_GENERATED, EventType.MIGRATION_FAILED),
    uses_database=False,
)


def script_checksum(statements: list[Statement]) -> str:
    """SHA-256 of the statements' SQL: what the executor records as applied."""
    digest = hashlib.sha256()
    for statement in statements:
        digest.update(statement.sql.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def generate_script(event: Event) -> Event:
    """The event that follows ``event`` (a diff.computed): the script, or why there is none."""
    diff = event.payload
    assert isinstance(diff, DiffComputed)
    try:
        script = generate(
            diff.operations, diff.dialect, concurrent_indexes=diff.options.concurrent_indexes
        )
    except Exception as exc:  # the engine refused: a fact about this migration, not a crash
        return event.follow(
            MigrationFailed(stage=Stage.GENERATE, reason=f"cannot generate the script: {exc}"),
            producer=role.name,
        )
    return event.follow(
        ScriptGenerated(
            target=diff.target,
            mode=diff.mode,
            dialect=diff.dialect,
            statements=script.statements,
            reverse_statements=script.reverse_statements,
            checksum=script_checksum(script.statements),
            target_fingerprint=diff.target_fingerprint,
            target_stamp=diff.target_stamp,
            hazards=script.hazards,
            allow_hazards=diff.allow_hazards,
        ),
        producer=role.name,
    )


async def on_diff_computed(event: Event) -> None:
    """Render the diff's operations as ordered SQL for the target's dialect."""
    if should_handle(event, EventType.DIFF_COMPUTED):
        with metrics.timed_stage(metrics.GENERATE):
            script = generate_script(event)
        await role.publish(script)


role.handle({EventType.DIFF_COMPUTED: on_diff_computed})
app = role.app
