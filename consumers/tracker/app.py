"""The tracker role: every pipeline event → the append-only event log and the migrations table.

Events are stored in batches (every event waiting, of all partitions, in one transaction); the
offsets are committed only after the database commit, and the log is unique by event id, so a
redelivered event is stored exactly once.
"""

from __future__ import annotations

from schemashift.consumers.common.role import Role
from schemashift.consumers.tracker import store
from schemashift.schemas.events import PIPELINE_TOPICS, Event

role = Role("tracker")


@role.batch_subscriber(*PIPELINE_TOPICS)
async def on_events(batch: list[Event]) -> None:
    """Append the events to the log and project them onto their migrations."""
    await store.record_all(role.engine, [event for event in batch if not event.replayed])


app = role.app
