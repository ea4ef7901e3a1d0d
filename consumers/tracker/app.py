"""The tracker role: every pipeline event → the append-only event log and the migrations table.

Its offset is committed only after the database commit, and the log is unique by event id, so
a redelivered event is stored exactly once.
"""

from __future__ import annotations

from schemashift.consumers.common.role import Role
from schemashift.consumers.tracker import store
from schemashift.schemas.events import PIPELINE_TOPICS, Event

role = Role("tracker")


@role.subscriber(*PIPELINE_TOPICS)
async def on_event(event: Event) -> None:
    """Append the event to the log and project it onto its migration."""
    if not event.replayed:
        await store.record(role.engine, event)


app = role.app
