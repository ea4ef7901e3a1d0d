"""The tracker's tables: the append-only event log and the migrations read model.

The event log is the source of truth: unique by event id (a redelivered event is stored once),
never updated or deleted (a trigger refuses it). The ``migrations`` table is a projection of
the log, rebuilt from it at any time by :func:`rebuild`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    bindparam,
    cast,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemashift.consumers.common import metrics
from schemashift.consumers.common.connections import connections
from schemashift.consumers.common.db import autocommit, metadata
from schemashift.consumers.tracker.causal import Stored, causal_order
from schemashift.schemas.events import (
    ComparisonRequested,
    DiffComputed,
    Event,
    MigrationApplied,
    MigrationApproved,
    MigrationFailed,
    MigrationProgress,
    MigrationRejected,
    MigrationStatus,
    ScriptGenerated,
)

NOTIFY_CHANNEL = "schemashift_events"

events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("migration_id", Uuid, nullable=False),
    Column("target", String(128), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("causation_id", Uuid),
    Column("producer", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    Index("ix_events_migration", "migration_id", "seq"),
    Index("ix_events_target", "target", "seq"),
    Index("ix_events_occurred_at", "occurred_at"),
)

migrations = Table(
    "migrations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("source", String(128)),
    Column("target", String(128), nullable=False),
    Column("mode", String(16)),
    Column("status", String(32), nullable=False),
    Column("allow_hazards", JSONB, nullable=False, server_default=text("'[]'")),
    Column("summary", JSONB),
    Column("operations", JSONB),
    Column("source_fingerprint", String(64)),
    Column("rollback_of", Uuid),
    Column("statements", JSONB),
    Column("reverse_statements", JSONB),
    Column("hazards", JSONB),
    Column("checksum", String(64)),
    Column("target_fingerprint", String(64)),
    Column("progress", Integer, nullable=False, server_default=text("0")),
    Column("total", Integer),
    Column("error", JSONB),
    Column("approved_by", String(128)),
    Column("approved", Boolean, nullable=False, server_default=text("false")),
    Column("rejected_by", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True)),
    Column("last_seq", BigInteger, nullable=False),
    Index("ix_migrations_target_created", "target", "created_at"),
    Index("ix_migrations_status", "status"),
)

# Statuses only move forward: events of one migration arrive on different topics, so a late
# progress event must not turn an applied migration back into an applying one.
_RANK = {
    MigrationStatus.REQUESTED: 0,
    MigrationStatus.COMPARED: 1,
    MigrationStatus.GENERATED: 2,
    MigrationStatus.AWAITING_APPROVAL: 3,
    MigrationStatus.APPROVED: 4,
    MigrationStatus.APPLYING: 5,
    MigrationStatus.APPLIED: 6,
    MigrationStatus.FAILED: 6,
    MigrationStatus.REJECTED: 6,
}


def _advance(row: dict[str, Any], status: MigrationStatus) -> None:
    current = MigrationStatus(row["status"])
    if not current.is_final and _RANK[status] >= _RANK[current]:
        row["status"] = status.value


def project(row: dict[str, Any] | None, event: Event, seq: int) -> dict[str, Any]:
    """The migrations row after ``event``: a pure function of the previous row and the event."""
    p = event.payload
    if row is None:
        row = {
            "id": event.migration_id,
            "target": event.target,
            "status": MigrationStatus.REQUESTED.value,
            "created_at": event.occurred_at,
            "allow_hazards": [],
            "progress": 0,
            "approved": False,
        }
    row = dict(row)
    row["updated_at"] = max(event.occurred_at, row.get("updated_at") or event.occurred_at)
    row["last_seq"] = max(seq, row.get("last_seq") or 0)
    # Dispatch on the payload's class (its ``type`` discriminator), which narrows ``p``.
    match p:
        case ComparisonRequested():
            row.update(
                source=p.source,
                mode=p.mode.value,
                created_at=event.occurred_at,
                allow_hazards=[h.value for h in p.allow_hazards],
                rollback_of=p.rollback_of,
            )
        case DiffComputed():
            row.update(
                source=p.source,
                mode=p.mode.value,
                summary=p.summary.model_dump(),
                operations=[op.model_dump(mode="json") for op in p.operations],
                source_fingerprint=p.source_fingerprint,
                target_fingerprint=p.target_fingerprint,
            )
            _advance(row, MigrationStatus.COMPARED)
        case ScriptGenerated():
            row.update(
                mode=p.mode.value,
                statements=[s.model_dump(mode="json") for s in p.statements],
                reverse_statements=[s.model_dump(mode="json") for s in p.reverse_statements],
                hazards=[h.value for h in p.hazards],
                checksum=p.checksum,
                total=len(p.statements),
            )
            waiting = p.needs_approval and not row.get("approved")
            _advance(
                row, MigrationStatus.AWAITING_APPROVAL if waiting else MigrationStatus.GENERATED
            )
        case MigrationApproved():
            row.update(approved=True, approved_by=p.approved_by)
            _advance(row, MigrationStatus.APPROVED)
        case MigrationRejected():
            row.update(rejected_by=p.rejected_by)
            _advance(row, MigrationStatus.REJECTED)
        case MigrationProgress():
            row.update(progress=max(row.get("progress") or 0, p.index + 1), total=p.total)
            _advance(row, MigrationStatus.APPLYING)
        case MigrationApplied():
            row.update(progress=p.statements_applied, applied_at=event.occurred_at)
            _advance(row, MigrationStatus.APPLIED)
        case MigrationFailed():
            row["error"] = p.model_dump(mode="json", exclude={"type"})
            _advance(row, MigrationStatus.FAILED)
    return row


# What :func:`project` reads of a row it advances: the rest (the script, the operations, the
# error) it only ever sets, so batches need not read those large values back.
_PROJECTION_INPUTS = [
    column
    for column in migrations.columns
    if column.name
    not in {
        "summary",
        "operations",
        "statements",
        "reverse_statements",
        "hazards",
        "error",
        "allow_hazards",
    }
]


def _event_row(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type.value,
        "migration_id": event.migration_id,
        "target": event.target,
        "occurred_at": event.occurred_at,
        "causation_id": event.causation_id,
        "producer": event.producer,
        "schema_version": event.schema_version,
        "body": event.model_dump(mode="json"),
    }


async def record(engine: AsyncEngine, event: Event) -> bool:
    """Append ``event`` and update its migration; False when it was stored already."""
    return await record_all(engine, [event]) == 1


# Hot-path statements are built once (see db.py).
_APPEND = (
    insert(events)
    .on_conflict_do_nothing(index_elements=[events.c.event_id])
    # Each stored event notifies its migration's listeners, on commit (PostgreSQL sends a
    # transaction's identical notifications once): no statement of its own.
    .returning(
        events.c.event_id,
        events.c.seq,
        func.pg_notify(NOTIFY_CHANNEL, cast(events.c.migration_id, Text)),
    )
)
# Locked in id order: two trackers projecting overlapping batches never deadlock. The
# target's registered dialect comes along for the metrics of the migrations that end.
_LOCK_MIGRATIONS = (
    select(*_PROJECTION_INPUTS, connections.c.dialect.label("target_dialect"))
    .outerjoin(connections, connections.c.name == migrations.c.target)
    .where(migrations.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(migrations.c.id)
    .with_for_update(of=migrations)
)


async def record_all(engine: AsyncEngine, batch: Sequence[Event]) -> int:
    """Append the events of ``batch`` not stored yet and update their migrations, in one
    transaction; returns how many were new (a redelivered event changes nothing).

    Listeners on :data:`NOTIFY_CHANNEL` hear of each migration with new events after the
    commit.
    """
    unique = {event.event_id: event for event in batch}
    if not unique:
        return 0
    async with engine.begin() as conn:
        # One statement whatever the batch's size (SQLAlchemy batches the rows of an
        # executemany into multi-row inserts and hands back what RETURNING found).
        inserted = await conn.execute(_APPEND, [_event_row(event) for event in unique.values()])
        stored = sorted((seq, unique[event_id]) for event_id, seq, _ in inserted)
        if not stored:
            return 0
        ids = sorted({event.migration_id for _, event in stored})
        current = {
            row["id"]: dict(row)
            for row in (await conn.execute(_LOCK_MIGRATIONS, {"ids": ids})).mappings()
        }
        dialects = {row["target"]: row.pop("target_dialect") for row in current.values()}
        projected: dict[uuid.UUID, dict[str, Any]] = {}
        ended: list[tuple[Event, dict[str, Any]]] = []
        for seq, event in stored:
            previous = projected.get(event.migration_id) or current.get(event.migration_id)
            projected[event.migration_id] = project(previous, event, seq)
            if _ends(previous, projected[event.migration_id]):
                ended.append((event, projected[event.migration_id]))
        await _write_migrations(conn, projected, current)
        # A migration whose row this batch inserts: its target's dialect is read now.
        dialects |= await _dialects(conn, {row["target"] for _, row in ended} - dialects.keys())
    # Counted once committed: a batch rolled back and stored again is counted once.
    for outcome, row in ended:
        metrics.migration_ended(
            row["status"],
            dialects.get(row["target"]) or "unknown",
            (outcome.occurred_at - row["created_at"]).total_seconds(),
        )
    return len(stored)


def _ends(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """True when the migration reaches its final status with this event (once per migration:
    a status never moves on from a final one, and the rows are locked while projected)."""
    was_final = before is not None and MigrationStatus(before["status"]).is_final
    return not was_final and MigrationStatus(after["status"]).is_final


_DIALECTS = select(connections.c.name, connections.c.dialect).where(
    connections.c.name.in_(bindparam("names", expanding=True))
)


async def _dialects(conn: AsyncConnection, targets: set[str]) -> dict[str, str]:
    """The registered dialect of each of ``targets`` (only read when migrations end)."""
    if not targets:
        return {}
    rows = await conn.execute(_DIALECTS, {"names": sorted(targets)})
    return {name: dialect for name, dialect in rows}


async def _write_migrations(
    conn: AsyncConnection,
    projected: dict[uuid.UUID, dict[str, Any]],
    current: dict[uuid.UUID, dict[str, Any]],
) -> None:
    # A row that exists (locked above) gets only the columns that changed: a progress event
    # then writes its counter, not the whole script again. A new row is inserted, or merged
    # with one another tracker inserted meanwhile.
    inserts: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for migration_id, row in projected.items():
        before = current.get(migration_id)
        if before is None:
            inserts.setdefault(tuple(sorted(row)), []).append(row)
            continue
        changed = {k: v for k, v in row.items() if before.get(k) != v}
        if changed:
            changed["_id"] = migration_id
            updates.setdefault(tuple(sorted(changed)), []).append(changed)
    for columns, rows in inserts.items():
        stmt = insert(migrations)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[migrations.c.id],
                set_={k: stmt.excluded[k] for k in columns if k != "id"},
            ),
            rows,
        )
    for columns, rows in updates.items():
        values: dict[str, Any] = {k: bindparam(k) for k in columns if k != "_id"}
        await conn.execute(
            update(migrations).where(migrations.c.id == bindparam("_id")).values(values), rows
        )


async def get_migration(engine: AsyncEngine, migration_id: uuid.UUID) -> dict[str, Any] | None:
    """One migration's row, or None."""
    async with autocommit(engine) as conn:
        return await _migration_row(conn, migration_id)


_MIGRATION = select(migrations).where(migrations.c.id == bindparam("id"))


async def _migration_row(conn: AsyncConnection, migration_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await conn.execute(_MIGRATION, {"id": migration_id})).mappings().first()
    return dict(row) if row else None


# The row and, as one JSON array of [seq, body], its events stored after a seq: one statement,
# so one snapshot, in which every event the row reflects is visible (and one round trip for
# every wake of a live stream).
_NEW_EVENTS = "new_events"
_MIGRATION_AND_EVENTS = select(
    migrations,
    select(
        func.coalesce(
            func.jsonb_agg(
                aggregate_order_by(
                    func.jsonb_build_array(events.c.seq, events.c.body), events.c.seq
                )
            ),
            text("'[]'::jsonb"),
            type_=JSONB,
        )
    )
    .where(events.c.migration_id == migrations.c.id, events.c.seq > bindparam("after_seq"))
    .scalar_subquery()
    .label(_NEW_EVENTS),
).where(migrations.c.id == bindparam("id"))


async def migration_and_events(
    engine: AsyncEngine, migration_id: uuid.UUID, *, after_seq: int = 0
) -> tuple[dict[str, Any] | None, list[Stored]]:
    """The migration's row and its events stored after ``after_seq`` (as
    :func:`stored_events`), read together: the events include every one the row reflects.
    No row, no events (a migration's first event and its row are stored together)."""
    async with autocommit(engine) as conn:
        result = await conn.execute(
            _MIGRATION_AND_EVENTS, {"id": migration_id, "after_seq": after_seq}
        )
        found = result.mappings().first()
    if found is None:
        return None, []
    row = dict(found)
    new = row.pop(_NEW_EVENTS)
    return row, [(seq, Event.model_validate(body)) for seq, body in new]


async def list_migrations(
    engine: AsyncEngine,
    *,
    target: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The history, newest first, optionally for one target and/or status, and requested in
    [``since``, ``until``)."""
    query = select(migrations).order_by(migrations.c.created_at.desc(), migrations.c.id)
    if target:
        query = query.where(migrations.c.target == target)
    if status:
        query = query.where(migrations.c.status == status)
    if since:
        query = query.where(migrations.c.created_at >= since)
    if until:
        query = query.where(migrations.c.created_at < until)
    async with autocommit(engine) as conn:
        rows = await conn.execute(query.limit(limit).offset(offset))
        return [dict(r) for r in rows.mappings()]


async def latest_by_target(
    engine: AsyncEngine, targets: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The newest migration of each of ``targets`` that has one (id, status, created_at)."""
    if not targets:
        return {}
    query = (
        select(migrations.c.target, migrations.c.id, migrations.c.status, migrations.c.created_at)
        .where(migrations.c.target.in_(list(targets)))
        .distinct(migrations.c.target)
        .order_by(migrations.c.target, migrations.c.created_at.desc(), migrations.c.id)
    )
    async with autocommit(engine) as conn:
        rows = await conn.execute(query)
        return {row["target"]: dict(row) for row in rows.mappings()}


def _events_query(
    *,
    migration_id: uuid.UUID | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | BindParameter[int] = 0,
) -> Any:
    query = select(events.c.seq, events.c.body).where(events.c.seq > after_seq)
    if migration_id:
        query = query.where(events.c.migration_id == migration_id)
    if target:
        query = query.where(events.c.target == target)
    if since:
        query = query.where(events.c.occurred_at >= since)
    if until:
        query = query.where(events.c.occurred_at < until)
    return query.order_by(events.c.seq)


async def stored_events(
    engine: AsyncEngine, migration_id: uuid.UUID, *, after_seq: int = 0
) -> list[Stored]:
    """A migration's events in the order they were *stored*, as (seq, event).

    That is not always the order they happened in: readers want :func:`list_events`.
    """
    async with autocommit(engine) as conn:
        return await _stored_events(conn, migration_id, after_seq)


_MIGRATION_EVENTS = _events_query(after_seq=bindparam("after_seq")).where(
    events.c.migration_id == bindparam("id")
)


async def _stored_events(
    conn: AsyncConnection, migration_id: uuid.UUID, after_seq: int
) -> list[Stored]:
    rows = await conn.execute(_MIGRATION_EVENTS, {"id": migration_id, "after_seq": after_seq})
    return [(seq, Event.model_validate(body)) for seq, body in rows]


async def list_events(engine: AsyncEngine, migration_id: uuid.UUID) -> list[Stored]:
    """A migration's events in the order they happened (:func:`causal.causal_order`)."""
    return causal_order(await stored_events(engine, migration_id))


async def stream_events(
    engine: AsyncEngine, *, batch: int = 500, **filters: Any
) -> AsyncIterator[Stored]:
    """Every stored event matching ``filters``, migration by migration.

    Migrations come in the order of their first stored event (so those of one target, which
    run one after the other, keep their order) and each one's events in causal order. They
    are read ``batch`` migrations at a time.
    """
    firsts = (
        _events_query(**filters)
        .with_only_columns(events.c.migration_id)
        .group_by(events.c.migration_id)
        .order_by(None)
        .order_by(func.min(events.c.seq))
    )
    async with autocommit(engine) as conn:
        ids = list((await conn.execute(firsts)).scalars())
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        async with autocommit(engine) as conn:
            rows = await conn.execute(
                _events_query(**filters).where(events.c.migration_id.in_(chunk))
            )
            by_migration: dict[uuid.UUID, list[Stored]] = {m: [] for m in chunk}
            for seq, body in rows:
                event = Event.model_validate(body)
                by_migration[event.migration_id].append((seq, event))
        for migration_id in chunk:
            for item in causal_order(by_migration[migration_id]):
                yield item


async def rebuild(engine: AsyncEngine, *, chunk: int = 1000) -> int:
    """Rebuild the migrations table from the event log alone; returns the events replayed.

    The projection runs in memory (one row per migration), so the log is read once and the
    table written in bulk, in one transaction.
    """
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    count = 0
    async with engine.begin() as conn:
        # The tracker waits while the table is rebuilt, then projects on the rebuilt rows.
        await conn.execute(text("LOCK TABLE migrations IN EXCLUSIVE MODE"))
        result = await conn.stream(select(events.c.seq, events.c.body).order_by(events.c.seq))
        async for seq, body in result:
            event = Event.model_validate(body)
            rows[event.migration_id] = project(rows.get(event.migration_id), event, seq)
            count += 1
        await conn.execute(migrations.delete())
        # Every row with every column: a bulk insert needs one shape.
        projected = [{c.name: row.get(c.name) for c in migrations.columns} for row in rows.values()]
        for start in range(0, len(projected), chunk):
            await conn.execute(insert(migrations), projected[start : start + chunk])
    return count
