"""The executor role: script.generated (+ migration.approved in plan mode) → applied or failed.

A migration runs at most once whatever is redelivered: the outcome is stored before it is
published (a redelivery re-publishes the stored outcome), and the target's own history table,
written in the migration's transaction, stops a second run even if that store was lost.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from schemashift.consumers.common import connections, metrics, tracing
from schemashift.consumers.common.kafka import confirmed
from schemashift.consumers.common.role import Role, should_handle
from schemashift.consumers.common.targets import TargetPools
from schemashift.consumers.comparator.introspect import current_fingerprint
from schemashift.consumers.executor import store
from schemashift.consumers.executor.apply import Applied, Failed, apply_script, connection_failure
from schemashift.consumers.executor.registry import adapter_for
from schemashift.schemas.events import (
    Event,
    EventType,
    MigrationApplied,
    MigrationFailed,
    MigrationProgress,
    ScriptGenerated,
    Stage,
)
from schemashift.schemas.operations import Statement

role = Role(
    "executor",
    publishes=(
        EventType.MIGRATION_PROGRESS,
        EventType.MIGRATION_APPLIED,
        EventType.MIGRATION_FAILED,
    ),
)
# One connection per target runs its migrations (their lock and timeouts are reset on
# release); the fingerprint re-check reads on a second one, which keeps no session state.
pools = TargetPools(max_size=1)
readers = TargetPools(max_size=1, session_state=False)
role.on_close(pools.close)
role.on_close(readers.close)
log = logging.getLogger("schemashift.executor")


async def execute(script_event: Event) -> Event:
    """Run the script of ``script_event`` on its target; the outcome event (not yet stored).

    Progress events do not hold the statements up: each is handed to the producer as its
    statement ends, and all are acknowledged before this returns (so before the outcome is
    published).
    """
    sent: list[asyncio.Future[object]] = []
    try:
        return await _execute(script_event, sent)
    finally:
        await confirmed(*sent)


async def _execute(script_event: Event, sent: list[asyncio.Future[object]]) -> Event:
    script = script_event.payload
    assert isinstance(script, ScriptGenerated)

    def failed(reason: str, **details: object) -> Event:
        return script_event.follow(
            MigrationFailed(stage=Stage.EXECUTE, reason=reason, **details),  # type: ignore[arg-type]
            producer=role.name,
        )

    adapter = adapter_for(script.dialect)
    if adapter is None:
        return failed(f"executing on {script.dialect} targets is not supported yet")
    try:
        url = await connections.resolve(role.engine, script.target)
    except connections.UnknownConnection as exc:
        return failed(str(exc))

    async def progress(index: int, total: int, sql: str, duration_ms: float | None) -> None:
        event = script_event.follow(
            MigrationProgress(index=index, total=total, sql=sql, duration_ms=duration_ms),
            producer=role.name,
            instance=str(index),
        )
        sent.append(await role.send(event))

    async def fingerprint() -> str:
        # A second connection: it sees the committed schema while the first holds the lock.
        # While the target has the stamp it was read with, that is one query.
        return await current_fingerprint(
            url, pools=readers, stamp=script.target_stamp, fingerprint=script.target_fingerprint
        )

    settings = role.settings
    delay = settings.apply_backoff_s
    for attempt in range(1, settings.apply_retries + 2):
        try:
            async with pools.connection(url) as conn:
                result = await apply_script(
                    adapter,
                    conn,
                    script_event.migration_id,
                    script.statements,
                    script.checksum,
                    expected_fingerprint=script.target_fingerprint,
                    fingerprint=fingerprint,
                    on_progress=progress,
                    lock_timeout_ms=settings.lock_timeout_ms,
                    statement_timeout_ms=settings.statement_timeout_ms,
                )
        except Exception as exc:
            # The connection itself failed: the transaction, if any, was rolled back.
            error = adapter.connection_error(exc)
            if error is None:
                raise
            result = connection_failure(adapter, error, url)
        if isinstance(result, Applied):
            await _report_earlier_attempt(script.statements, result, progress)
            return script_event.follow(
                MigrationApplied(
                    statements_applied=result.statements_applied,
                    duration_ms=result.duration_ms,
                    checksum=script.checksum,
                    resumed_from=result.resumed_from,
                ),
                producer=role.name,
            )
        if not result.transient or attempt > settings.apply_retries:
            break
        log.warning(
            "migration %s: attempt %d failed (%s); retrying in %.1fs",
            script_event.migration_id,
            attempt,
            result.reason,
            delay,
        )
        await asyncio.sleep(delay)
        delay *= 2
    # Only a failure leaves the loop: success returns from inside it.
    assert isinstance(result, Failed)
    reason = result.reason
    if result.transient:
        reason += f" (after {settings.apply_retries + 1} attempts)"
    return failed(
        reason,
        statement=result.statement,
        statement_index=result.statement_index,
        database_error=result.database_error,
    )


async def _report_earlier_attempt(
    statements: list[Statement],
    result: Applied,
    progress: Callable[[int, int, str, float | None], Awaitable[None]],
) -> None:
    """Report again the statements an earlier attempt applied (all of them when the target's
    history shows the migration complete), with no duration: that attempt's progress events
    may never have reached the broker (it failed before they were acknowledged, and so before
    its outcome was stored). They keep their ids, so the tracker stores each once."""
    earlier = result.statements_applied if result.already_applied else result.resumed_from or 0
    total = len(statements)
    for index, statement in enumerate(statements[:earlier]):
        await progress(index, total, statement.sql, None)


async def _run_if_ready(row: dict[str, object], migration_id: uuid.UUID) -> None:
    if row.get("outcome_event"):
        # Ran before (this is a redelivery): publish the same outcome again, never re-run.
        await role.publish(Event.model_validate(row["outcome_event"]))
        return
    if not row.get("script_event"):
        return  # approved before the script arrived: the script's message will start it
    script_event = Event.model_validate(row["script_event"])
    script = script_event.payload
    assert isinstance(script, ScriptGenerated)
    if script.needs_approval and not row.get("approved"):
        return  # mode plan, or hazards not allowed: waits for migration.approved
    # In the migration's trace, also when its approval (another trace) let it run.
    arrived = row.get("script_trace_context")
    with tracing.resumed(arrived if isinstance(arrived, dict) else None, "execute", script_event):
        with metrics.timed_stage(metrics.APPLY):
            outcome = await execute(script_event)
        await role.publish(await store.record_outcome(role.engine, migration_id, outcome))


async def on_script_generated(event: Event) -> None:
    """Keep the script; in mode apply, run it now."""
    if should_handle(event, EventType.SCRIPT_GENERATED):
        row = await store.remember(
            role.engine, event, script=True, trace_context=tracing.current_context()
        )
        await _run_if_ready(row, event.migration_id)


async def on_migration_rejected(event: Event) -> None:
    """A rejected migration never runs: its rejection is its outcome."""
    if should_handle(event, EventType.MIGRATION_REJECTED):
        await store.remember(role.engine, event)
        await store.record_outcome(role.engine, event.migration_id, event)


async def on_migration_approved(event: Event) -> None:
    """Run a planned migration once it is approved."""
    if should_handle(event, EventType.MIGRATION_APPROVED):
        row = await store.remember(role.engine, event, approval=True)
        await _run_if_ready(row, event.migration_id)


role.handle(
    {
        EventType.SCRIPT_GENERATED: on_script_generated,
        EventType.MIGRATION_APPROVED: on_migration_approved,
        EventType.MIGRATION_REJECTED: on_migration_rejected,
    }
)
app = role.app
