"""The comparator role: comparison.requested → diff.computed (or migration.failed).

Requests of one target are compared one migration at a time
(:mod:`schemashift.consumers.comparator.queue`): the next is compared when the previous one has
ended, which the comparator learns from the outcome topics. Source and target are introspected
concurrently; the target's fingerprint travels with the diff so that the executor can tell whether
the target changed meanwhile.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

from schemashift.consumers.common import connections, metrics, tracing
from schemashift.consumers.common.role import Role, should_handle
from schemashift.consumers.common.targets import TargetPools
from schemashift.consumers.comparator import queue
from schemashift.consumers.comparator.diff import Unsupported, diff
from schemashift.consumers.comparator.introspect import (
    CatalogCache,
    IntrospectionError,
    introspect,
)
from schemashift.schemas.events import (
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    Event,
    EventType,
    MigrationFailed,
    Stage,
)
from schemashift.schemas.operations import Operation

role = Role("comparator", publishes=(EventType.DIFF_COMPUTED, EventType.MIGRATION_FAILED))
# Introspection changes nothing of a session beyond its read-only transactions.
pools = TargetPools(session_state=False)
role.on_close(pools.close)
# A source is compared with many targets, and a target often twice in a row unchanged: a
# catalog whose database has the same stamp is not read again.
catalogs = CatalogCache()

OUTCOMES = (
    EventType.MIGRATION_APPLIED,
    EventType.MIGRATION_FAILED,
    EventType.MIGRATION_REJECTED,
)


async def compare(event: Event) -> Event:
    """The event that follows ``event`` (a comparison.requested): the diff, or why not."""
    request = event.payload
    assert isinstance(request, ComparisonRequested)

    def failed(reason: str) -> Event:
        return event.follow(MigrationFailed(stage=Stage.COMPARE, reason=reason), producer=role.name)

    names = [request.target] if request.operations is not None else [request.target, request.source]
    try:
        urls = await connections.resolve_all(role.engine, names)
        target_url = urls[0]
        if request.operations is not None:
            # A rollback: the operations are given; only the target is read.
            target = await introspect(target_url, pools=pools, cache=catalogs)
            source_fingerprint = request.expected_fingerprint or target.fingerprint()
            if request.expected_fingerprint not in (None, target.fingerprint()):
                return failed(
                    f"target changed since migration {request.rollback_of} was applied: "
                    "cannot roll it back"
                )
            dialect, operations = target.dialect, request.operations
        else:
            source, target = await asyncio.gather(
                introspect(urls[1], pools=pools, cache=catalogs),
                introspect(target_url, pools=pools, cache=catalogs),
            )
            if source.dialect != target.dialect:
                return failed(
                    f"cannot migrate a {target.dialect} target to a {source.dialect} source"
                )
            dialect = target.dialect
            operations = diff(source, target, privileges=request.options.privileges)
            source_fingerprint = source.fingerprint()
    except connections.UnknownConnection as exc:
        return failed(str(exc))
    except IntrospectionError as exc:
        return failed(exc.reason)
    except Unsupported as exc:  # e.g. the target's server cannot run what is needed
        return failed(str(exc))
    return event.follow(
        DiffComputed(
            source=request.source,
            target=request.target,
            mode=request.mode,
            dialect=dialect,
            operations=operations,
            summary=_summary(operations),
            source_fingerprint=source_fingerprint,
            target_fingerprint=target.fingerprint(),
            target_stamp=target.stamp,
            allow_hazards=request.allow_hazards,
            options=request.options,
        ),
        producer=role.name,
    )


def _summary(operations: list[Operation]) -> DiffSummary:
    # What the migration does: operations needed only by its reverse are not counted.
    labels = Counter(op.label for op in operations if op.forward)
    return DiffSummary(total=labels.total(), by_kind=dict(labels))


_pumping: dict[str, asyncio.Lock] = {}


async def pump(
    target: str, *, arrived: Event | None = None, ended: uuid.UUID | None = None
) -> None:
    """Compare the target's next request if none of its migrations is in flight; ``arrived``
    is queued and migration ``ended`` ends first (in the same transaction)."""
    # Both handlers may pump one target at once; one comparison at a time is enough.
    async with _pumping.setdefault(target, asyncio.Lock()):
        while (
            queued := await queue.next_to_compare(
                role.engine,
                target,
                arrived=arrived,
                trace_context=tracing.current_context() if arrived else None,
                ended=ended,
            )
        ) is not None:
            request = queued.request
            # In the request's own trace, even when another migration's end released it.
            with tracing.resumed(queued.trace_context, "compare", request):
                with metrics.timed_stage(metrics.COMPARE):
                    outcome = await compare(request)
                await role.publish(outcome)
            if outcome.type is not EventType.MIGRATION_FAILED:
                # In flight: its outcome event moves the queue on.
                await queue.mark_compared(role.engine, request.migration_id)
                return
            arrived, ended = None, request.migration_id


async def on_comparison_requested(event: Event) -> None:
    """Queue the request behind its target's migration in flight, if any, and go on."""
    if should_handle(event, EventType.COMPARISON_REQUESTED):
        await pump(event.target, arrived=event)


async def on_migration_ended(event: Event) -> None:
    """A migration ended: its target's next request may be compared."""
    if should_handle(event, *OUTCOMES):
        await pump(event.target, ended=event.migration_id)


role.handle(
    {
        EventType.COMPARISON_REQUESTED: on_comparison_requested,
        **{outcome: on_migration_ended for outcome in OUTCOMES},
    }
)
app = role.app
