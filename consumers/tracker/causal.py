"""A migration's events in the order they happened, whatever order they were stored in.

The tracker reads one topic per event type, so after a restart it may store a migration's
``migration.applied`` before its last progress events, or ``script.generated`` after the
outcome. The order that readers see is therefore derived, never the log's: an event comes after
the event that caused it (``causation_id``), and events that are ready at the same time come in
the order they occurred, then in the order they were stored. Causation comes first because it
holds across roles on different hosts, whose clocks need not agree; siblings share a cause and
so, in this pipeline, a producer and its clock.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from schemashift.schemas.events import (
    Event,
    EventType,
    MigrationApplied,
    MigrationFailed,
    MigrationProgress,
)

Stored = tuple[int, Event]
"""An event with its position in the log (``seq``)."""


def causal_order(stored: Iterable[Stored]) -> list[Stored]:
    """``stored`` sorted so that every event follows its cause, then by time and log position.

    An event whose cause is not among ``stored`` is ordered as if it had none.
    """
    items = list(stored)
    ids = {event.event_id for _, event in items}
    children: dict[uuid.UUID, list[Stored]] = defaultdict(list)
    ready: list[tuple[datetime, int, Stored]] = []
    for item in items:
        cause = item[1].causation_id
        if cause is not None and cause in ids:
            children[cause].append(item)
        else:
            ready.append((item[1].occurred_at, item[0], item))
    for siblings in list(children.values()):
        _chain_progress(siblings, children)
    heapq.heapify(ready)
    ordered: list[Stored] = []
    while ready:
        _, _, item = heapq.heappop(ready)
        ordered.append(item)
        for child in children.pop(item[1].event_id, ()):
            heapq.heappush(ready, (child[1].occurred_at, child[0], child))
    return ordered


def _chain_progress(siblings: list[Stored], children: dict[uuid.UUID, list[Stored]]) -> None:
    # Statements run in index order, so each progress event follows the one before it, even
    # when a retried attempt's events were stored at other times than the first attempt's.
    progress = sorted(
        (item for item in siblings if isinstance(item[1].payload, MigrationProgress)),
        key=lambda item: item[1].payload.index,  # type: ignore[union-attr]
    )
    if len(progress) < 2:
        return
    chained = {item[1].event_id for item in progress[1:]}
    siblings[:] = [item for item in siblings if item[1].event_id not in chained]
    for before, after in itertools.pairwise(progress):
        children[before[1].event_id].append(after)


def progress_before(event: Event) -> int:
    """How many progress events of its migration precede ``event`` in time.

    An outcome follows the progress of every statement it ran; any other event follows none
    that it knows of.
    """
    match event.payload:
        case MigrationApplied():
            return event.payload.statements_applied
        case MigrationFailed():
            return event.payload.statement_index or 0
    return 0


class LiveOrder:
    """Releases a migration's events to a live reader in causal order as they are stored.

    An event is held back while its cause is not stored yet, and an outcome while progress
    events that precede it are missing, so a reader never sees an effect before its cause.
    Something that waits longer than ``grace_s`` is released anyway: a late event must not
    stall the stream for ever (the event list, read afterwards, still has the exact order).
    """

    def __init__(self, grace_s: float = 5.0) -> None:
        self._grace_s = grace_s
        self._stored: dict[uuid.UUID, Stored] = {}
        self._sent: set[uuid.UUID] = set()
        self._blocked_since: dict[uuid.UUID, float] = {}

    @property
    def last_seq(self) -> int:
        """The highest log position seen: read on from there."""
        return max((seq for seq, _ in self._stored.values()), default=0)

    @property
    def settled(self) -> bool:
        """True when every stored event has been released."""
        return len(self._sent) == len(self._stored)

    def release(self, new: Iterable[Stored], now: float) -> list[Stored]:
        """Take newly stored events; return those that may now be sent, in order."""
        for item in new:
            self._stored.setdefault(item[1].event_id, item)
        progress = sum(e.type is EventType.MIGRATION_PROGRESS for _, e in self._stored.values())
        out: list[Stored] = []
        for item in causal_order(self._stored.values()):
            event = item[1]
            if event.event_id in self._sent:
                continue
            if self._waits(event, progress) and not self._expired(event.event_id, now):
                break
            self._blocked_since.pop(event.event_id, None)
            self._sent.add(event.event_id)
            out.append(item)
        return out

    def _waits(self, event: Event, progress: int) -> bool:
        cause_missing = event.causation_id is not None and event.causation_id not in self._stored
        return cause_missing or progress < progress_before(event)

    def _expired(self, event_id: uuid.UUID, now: float) -> bool:
        since = self._blocked_since.setdefault(event_id, now)
        return now - since >= self._grace_s
