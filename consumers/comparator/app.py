"""The comparator role: comparison.requested → diff.computed (or migration.failed).

Source and target are introspected concurrently; the target's fingerprint travels with the
diff so that the executor can tell whether the target changed before it applies anything.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from consumers.common import connections
from consumers.common.role import Role, should_handle
from consumers.common.targets import TargetPools
from consumers.comparator.diff import diff
from consumers.comparator.introspect import IntrospectionError, introspect
from schemas.events import (
    ComparisonRequested,
    DiffComputed,
    DiffSummary,
    Event,
    EventType,
    MigrationFailed,
    Stage,
)

role = Role("comparator", publishes=(EventType.DIFF_COMPUTED, EventType.MIGRATION_FAILED))
pools = TargetPools()
role.on_close(pools.close)


async def compare(event: Event) -> Event:
    """The event that follows ``event`` (a comparison.requested): the diff, or why not."""
    request = event.payload
    assert isinstance(request, ComparisonRequested)

    def failed(reason: str) -> Event:
        return event.follow(MigrationFailed(stage=Stage.COMPARE, reason=reason), producer=role.name)

    try:
        source_url, target_url = await asyncio.gather(
            connections.resolve(role.engine, request.source),
            connections.resolve(role.engine, request.target),
        )
        source, target = await asyncio.gather(
            introspect(source_url, pools=pools), introspect(target_url, pools=pools)
        )
    except connections.UnknownConnection as exc:
        return failed(str(exc))
    except IntrospectionError as exc:
        return failed(exc.reason)
    if source.dialect != target.dialect:
        return failed(f"cannot migrate a {target.dialect} target to a {source.dialect} source")
    operations = diff(source, target)
    return event.follow(
        DiffComputed(
            source=request.source,
            target=request.target,
            mode=request.mode,
            dialect=target.dialect,
            operations=operations,
            summary=DiffSummary(
                total=len(operations), by_kind=dict(Counter(op.label for op in operations))
            ),
            source_fingerprint=source.fingerprint(),
            target_fingerprint=target.fingerprint(),
            allow_hazards=request.allow_hazards,
        ),
        producer=role.name,
    )


@role.subscriber(EventType.COMPARISON_REQUESTED.topic)
async def on_comparison_requested(event: Event) -> None:
    """Introspect source and target, diff them, and publish the result."""
    if should_handle(event, EventType.COMPARISON_REQUESTED):
        await role.publish(await compare(event))


app = role.app
