"""The console's HTML: the Jinja2 environment, its filters, and what the pages show of a
migration's row and events.

Rendering is a pure function of the stored shapes (the ``migrations`` row and the events in
causal order), so pages are tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from schemashift.consumers.tracker import store
from schemashift.consumers.tracker.causal import Stored
from schemashift.gateway.tokens import Principal, Scope
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
from schemashift.schemas.hazards import Hazard

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# How the statuses read, and the tone of their badge.
STATUS_LABELS = {
    "requested": "requested",
    "compared": "compared",
    "generated": "generated",
    "awaiting_approval": "awaiting approval",
    "approved": "approved",
    "applying": "applying",
    "applied": "applied",
    "failed": "failed",
    "rejected": "rejected",
}
_TONES = {
    "awaiting_approval": "warn",
    "applied": "ok",
    "failed": "bad",
    "rejected": "muted",
}

# One line per hazard, for the tooltips and the legend of the SQL.
HAZARD_NOTES = {
    Hazard.DATA_LOSS.value: "rows or values may be lost",
    Hazard.TABLE_REWRITE.value: "the whole table is rewritten under an exclusive lock",
    Hazard.LONG_LOCK.value: "an exclusive lock is held while the table is scanned",
    Hazard.INDEX_BUILD.value: "writes block while the index is built",
    Hazard.NEEDS_VALIDATION.value: "fails if existing rows violate the new constraint",
    Hazard.NOT_TRANSACTIONAL.value: "runs outside the transaction: cannot be rolled back",
    Hazard.IRREVERSIBLE.value: "the reverse script cannot restore the previous state exactly",
    Hazard.DEPENDENT_REBUILD.value: "an unchanged dependent object is dropped and recreated",
}


def time_tag(value: datetime | None) -> Markup:
    """``<time>`` with the UTC text, which console.js rewrites in the viewer's time zone."""
    if value is None:
        return Markup('<span class="muted">—</span>')
    utc = value.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S UTC")
    )


def status_badge(status: str) -> Markup:
    """The status as a coloured badge."""
    tone = _TONES.get(status, "info")
    label = STATUS_LABELS.get(status, status)
    return Markup('<span class="badge badge-{}" data-status="{}">{}</span>').format(
        tone, status, label
    )


def hazard_badge(hazard: str) -> Markup:
    """One hazard as a badge with its meaning as a tooltip."""
    return Markup('<span class="hazard" title="{}">{}</span>').format(
        HAZARD_NOTES.get(hazard, hazard), hazard.replace("_", " ")
    )


def url_parts(display_url: str) -> dict[str, str | None]:
    """Host (with port) and database of a connection's masked URL, for the tables."""
    parts = urlsplit(display_url)
    # The netloc after any credentials, as written: libpq URLs may name several hosts
    # ("a:5432,b:5433"), where urlsplit's port cannot be read.
    host = parts.netloc.rpartition("@")[2] or None
    database = parts.path.lstrip("/") if host else "/" + parts.path.lstrip("/")
    return {"host": host, "database": database or None}


def short_id(value: object) -> str:
    """The first block of a UUID: enough to tell migrations apart in a list."""
    return str(value).split("-", 1)[0]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        time=time_tag,
        status=status_badge,
        hazard=hazard_badge,
        short_id=short_id,
        urlparts=url_parts,
    )
    env.globals.update(Scope=Scope, STATUS_LABELS=STATUS_LABELS, HAZARD_NOTES=HAZARD_NOTES)
    return env


ENV = _environment()


def render(template: str, **context: Any) -> str:
    """The template rendered with ``context``."""
    return ENV.get_template(template).render(**context)


@dataclass(frozen=True)
class Entry:
    """One line of a migration's timeline."""

    event: Event
    title: str
    detail: str
    tone: str = "info"
    sql: str | None = None


def timeline(events: list[Stored]) -> list[Entry]:
    """The timeline of a migration: one entry per event, in the order given (causal)."""
    return [_entry(event) for _, event in events]


def _entry(event: Event) -> Entry:
    p = event.payload
    match p:
        case ComparisonRequested():
            kind = "rollback requested" if p.rollback_of else "comparison requested"
            why = _by_with_comment(p.requested_by, p.comment)
            detail = f"{p.source} → {p.target}, mode {p.mode.value}" + (f" {why}" if why else "")
            return Entry(event, kind, detail)
        case DiffComputed():
            kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in p.summary.by_kind.items())
            detail = f"{p.summary.total} change(s)" + (f": {kinds}" if kinds else "")
            return Entry(event, "diff computed", detail)
        case ScriptGenerated():
            hazards = ", ".join(h.value.replace("_", " ") for h in p.hazards)
            detail = f"{len(p.statements)} statement(s)" + (
                f"; hazards: {hazards}" if hazards else "; no hazards"
            )
            if p.needs_approval:
                detail += "; needs approval"
            return Entry(event, "script generated", detail, "warn" if p.hazards else "info")
        case MigrationApproved():
            return Entry(event, "approved", _by_with_comment(p.approved_by, p.comment), "ok")
        case MigrationRejected():
            return Entry(event, "rejected", _by_with_comment(p.rejected_by, p.comment), "muted")
        case MigrationProgress():
            took = f" in {p.duration_ms:.0f} ms" if p.duration_ms is not None else ""
            return Entry(
                event, f"statement {p.index + 1} of {p.total}", f"applied{took}", sql=p.sql
            )
        case MigrationApplied():
            detail = f"{p.statements_applied} statement(s) in {p.duration_ms:.0f} ms"
            if p.resumed_from is not None:
                detail += f" (resumed from statement {p.resumed_from + 1})"
            return Entry(event, "applied", detail, "ok")
        case MigrationFailed():
            return Entry(event, f"failed at {p.stage.value}", p.reason, "bad", sql=p.statement)
    return Entry(event, event.type.value, "")


def _by_with_comment(who: str | None, comment: str | None) -> str:
    text = f"by {who}" if who else ""
    if comment:
        text += f": “{comment}”" if text else f"“{comment}”"
    return text


def migration_context(
    row: dict[str, Any],
    events: list[Stored],
    who: Principal,
    csrf: str,
    *,
    settled: bool | None = None,
) -> dict[str, Any]:
    """What the migration page and its live panel show: the row, the timeline, and which
    actions ``who`` is offered (by scope and by status).

    ``settled`` (by default: the migration has ended) marks the panel as the last one: the
    migration has ended and every one of its events is shown.
    """
    # Every column, as a stored row has them (a row projected in memory may lack some).
    row = {column.name: None for column in store.migrations.columns} | row
    status = row["status"]
    can_approve = who.allows(Scope.APPROVE)
    statements = row.get("statements") or []
    total = row.get("total") or len(statements)
    return {
        "m": row,
        "entries": timeline(events),
        "seen": len(events),
        "csrf": csrf,
        "who": who,
        "final": MigrationStatus(status).is_final,
        "settled": MigrationStatus(status).is_final if settled is None else settled,
        "progress_pct": int(100 * (row.get("progress") or 0) / total) if total else 0,
        "total": total,
        "offer_review": can_approve and status == MigrationStatus.AWAITING_APPROVAL.value,
        "offer_rollback": can_approve
        and status == MigrationStatus.APPLIED.value
        and bool(row.get("operations")),
        "hazards": [h.value for h in Hazard],
    }
