"""One migration is one trace, across the five processes of `schemashift serve`.

The session's service runs with SCHEMASHIFT_TRACING=otlp and exports to the tests' own OTLP
receiver (tests/pipeline/conftest.py). The roles are separate processes, as in production, so
their spans are read where a collector would read them rather than from one process's
in-memory exporter: roles started in this process instead would have to read the topics in
consumer groups of their own, and the service's roles would then handle the same messages
beside them, publishing copies without trace context.

Each REST call below sends its own ``traceparent``, so the test knows the trace id to look for
and sees the gateway continue the caller's trace.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

import pytest

from schemashift.schemas.events import REPLAY_TOPIC
from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.service import (
    ALL_HAZARDS,
    TopicReader,
    registered_pair,
    settled_events,
    wait_for_status,
)

pytestmark = pytest.mark.integration

ROLES = ("gateway", "comparator", "generator", "executor", "tracker")
SOURCE = "CREATE TABLE t (id integer PRIMARY KEY, v text, n integer); CREATE INDEX t_v ON t (v)"
TARGET = "CREATE TABLE t (id integer PRIMARY KEY)"
REQUEST = "POST /api/v1/comparisons"


def traceparent() -> tuple[str, str, str]:
    """A new trace id, a caller's span id, and the header naming them (sampled)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def topic(event_type: str) -> str:
    return f"schemashift.{event_type}"


class Trace:
    """The spans of one trace, and the questions the tests ask of them."""

    def __init__(self, spans: Iterable[ReceivedSpan]) -> None:
        self.spans = list(spans)
        self.by_id = {span.span_id: span for span in self.spans}

    def find(
        self, service: str, kind: str, name: str, migration_id: str | None = None
    ) -> list[ReceivedSpan]:
        return [
            s
            for s in self.spans
            if s.service == f"schemashift-{service}"
            and s.kind == kind
            and s.name == name
            and (
                migration_id is None or s.attributes.get("schemashift.migration.id") == migration_id
            )
        ]

    def sent(self, service: str, event_type: str, migration_id: str) -> list[ReceivedSpan]:
        return self.find(service, "PRODUCER", f"send {topic(event_type)}", migration_id)

    def processed(self, service: str, event_type: str, migration_id: str) -> list[ReceivedSpan]:
        return self.find(service, "CONSUMER", f"process {topic(event_type)}", migration_id)

    def hop(
        self, producer: str, event_type: str, consumer: str, migration_id: str
    ) -> tuple[ReceivedSpan, ReceivedSpan]:
        """The PRODUCER span of ``producer`` that sent the event, and the CONSUMER span of
        ``consumer`` that handled it, its child."""
        sends = self.sent(producer, event_type, migration_id)
        assert sends, f"no span of {producer} sending {event_type}: {self.names()}"
        for send in sends:
            for process in self.processed(consumer, event_type, migration_id):
                if process.parent_span_id == send.span_id:
                    assert (
                        process.attributes["messaging.message.id"]
                        == send.attributes["messaging.message.id"]
                    )
                    return send, process
        raise AssertionError(
            f"no span of {consumer} processing {event_type} under {producer}'s send: {self.names()}"
        )

    def names(self) -> list[str]:
        return sorted(f"{s.service}: {s.kind} {s.name}" for s in self.spans)


def connected(got: Trace) -> bool:
    """Whether the parent of every span but the REST call's has arrived: each process exports
    on its own schedule, so a span may come before its parent."""
    return all(s.parent_span_id in got.by_id for s in got.spans if s.kind != "SERVER")


def migration_complete(migration_id: str, progress: int):
    """Whether every span the migration's trace should hold has arrived: the last ones of
    the chain, and the parents of each."""

    def done(spans: list[ReceivedSpan]) -> bool:
        got = Trace(spans)
        return (
            len(got.processed("tracker", "migration.progress", migration_id)) >= progress
            and bool(got.processed("tracker", "migration.applied", migration_id))
            and bool(got.processed("comparator", "migration.applied", migration_id))
            and bool(got.processed("tracker", "script.generated", migration_id))
            and bool(got.find("gateway", "SERVER", REQUEST))
            and connected(got)
        )

    return done


def handled(service: str, event_type: str, migration_id: str):
    """Whether ``service``'s handling of the event has arrived, with its parents."""

    def done(spans: list[ReceivedSpan]) -> bool:
        got = Trace(spans)
        return bool(got.processed(service, event_type, migration_id)) and connected(got)

    return done


async def test_one_migration_is_one_trace_whose_spans_cover_every_role(
    api, service, otlp_receiver: OtlpReceiver, new_database
):
    source_url, target_url, source, target = await registered_pair(
        api, new_database, SOURCE, TARGET
    )
    trace_id, caller, header = traceparent()
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
        headers={"traceparent": header},
    )
    assert response.status_code == 202, response.text
    migration_id = response.json()["migration_id"]
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]
    statements = len(migration["statements"])
    assert statements >= 1

    spans = Trace(
        await otlp_receiver.wait_for(migration_complete(migration_id, statements), trace_id)
    )

    # Every role took part, and the trace is one tree hanging from the caller's span.
    assert {s.service for s in spans.spans} == {f"schemashift-{role}" for role in ROLES}
    (server,) = spans.find("gateway", "SERVER", REQUEST)
    assert server.parent_span_id == caller
    assert server.attributes["http.response.status_code"] == 202
    for span in spans.spans:
        assert span is server or span.parent_span_id in spans.by_id, span

    # The REST call publishes the request; each role's handling is the child of the send of
    # the event it handles, and what it publishes the child of that handling.
    send_request, compare_request = spans.hop(
        "gateway", "comparison.requested", "comparator", migration_id
    )
    assert send_request.parent_span_id == server.span_id
    (compare,) = spans.find("comparator", "INTERNAL", "compare", migration_id)
    assert compare.parent_span_id == compare_request.span_id
    send_diff, generate = spans.hop("comparator", "diff.computed", "generator", migration_id)
    assert send_diff.parent_span_id == compare.span_id
    send_script, handle_script = spans.hop(
        "generator", "script.generated", "executor", migration_id
    )
    assert send_script.parent_span_id == generate.span_id
    (execute,) = spans.find("executor", "INTERNAL", "execute", migration_id)
    assert execute.parent_span_id == handle_script.span_id
    send_applied, _ = spans.hop("executor", "migration.applied", "tracker", migration_id)
    assert send_applied.parent_span_id == execute.span_id
    progress = spans.sent("executor", "migration.progress", migration_id)
    assert len(progress) == statements
    assert all(p.parent_span_id == execute.span_id for p in progress)
    # The outcome moves the comparator's queue on, in the same trace.
    spans.hop("executor", "migration.applied", "comparator", migration_id)
    # The tracker stored every event of the chain, each under its own send.
    for producer, event_type in (
        ("gateway", "comparison.requested"),
        ("comparator", "diff.computed"),
        ("generator", "script.generated"),
        ("executor", "migration.progress"),
    ):
        spans.hop(producer, event_type, "tracker", migration_id)
    assert len(spans.processed("tracker", "migration.progress", migration_id)) >= statements

    # Kafka's side of each handling, by the messaging conventions.
    for span in spans.spans:
        if span.kind == "CONSUMER":
            assert span.attributes["messaging.system"] == "kafka"
            assert span.attributes["messaging.destination.name"] == span.name.split()[1]
            assert int(span.attributes["messaging.destination.partition.id"]) >= 0
            assert span.attributes["messaging.kafka.offset"] >= 0
            assert span.attributes["messaging.kafka.message.key"] == target
        if span.kind in ("PRODUCER", "CONSUMER"):
            assert span.attributes["schemashift.migration.id"] == migration_id
        assert span.status_code != 2, span  # STATUS_CODE_ERROR

    # No credential of the registered databases went into a span.
    text = repr(spans.spans)
    for url in (source_url, target_url):
        password = urlsplit(url).password
        if password:
            assert password not in text


async def test_a_request_that_waited_in_the_queue_keeps_its_own_trace(
    api, service, otlp_receiver: OtlpReceiver, new_database
):
    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    # The first migration waits for approval: the second request waits behind it in the
    # comparator's queue until the first is rejected.
    _, _, first_header = traceparent()
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "plan", "allow_hazards": ALL_HAZARDS},
        headers={"traceparent": first_header},
    )
    assert response.status_code == 202, response.text
    first = response.json()["migration_id"]
    assert (await wait_for_status(api, first, {"awaiting_approval", "failed"}))[
        "status"
    ] == "awaiting_approval"

    second_trace, _, second_header = traceparent()
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
        headers={"traceparent": second_header},
    )
    assert response.status_code == 202, response.text
    second = response.json()["migration_id"]
    # Queued, not compared: its trace so far ends at the comparator's handling of the request.
    queued = Trace(
        await otlp_receiver.wait_for(
            handled("comparator", "comparison.requested", second),
            second_trace,
        )
    )
    _, arrival = queued.hop("gateway", "comparison.requested", "comparator", second)
    assert not queued.find("comparator", "INTERNAL", "compare", second)
    assert (await api.get(f"/api/v1/migrations/{second}")).json()["status"] == "requested"

    reject_trace, _, reject_header = traceparent()
    response = await api.post(
        f"/api/v1/migrations/{first}/reject",
        json={"comment": "not now"},
        headers={"traceparent": reject_header},
    )
    assert response.status_code == 202, response.text
    migration = await wait_for_status(api, second, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]

    spans = Trace(
        await otlp_receiver.wait_for(
            migration_complete(second, len(migration["statements"])), second_trace
        )
    )
    # Compared on behalf of the rejection, in the request's own trace, linked to the rejection.
    (compare,) = spans.find("comparator", "INTERNAL", "compare", second)
    assert compare.parent_span_id == arrival.span_id
    rejection = Trace(
        await otlp_receiver.wait_for(
            handled("comparator", "migration.rejected", first),
            reject_trace,
        )
    )
    (released_by,) = rejection.processed("comparator", "migration.rejected", first)
    assert (reject_trace, released_by.span_id) in compare.links
    # From there on, the second migration's chain is in its own trace.
    send_diff, _ = spans.hop("comparator", "diff.computed", "generator", second)
    assert send_diff.parent_span_id == compare.span_id
    spans.hop("generator", "script.generated", "executor", second)
    spans.hop("executor", "migration.applied", "tracker", second)
    assert not rejection.find("generator", "CONSUMER", "process schemashift.diff.computed")


async def test_a_planned_migration_runs_in_its_own_trace_once_approved(
    api, service, otlp_receiver: OtlpReceiver, new_database
):
    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    plan_trace, _, plan_header = traceparent()
    response = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "plan", "allow_hazards": ALL_HAZARDS},
        headers={"traceparent": plan_header},
    )
    assert response.status_code == 202, response.text
    migration_id = response.json()["migration_id"]
    waiting = await wait_for_status(api, migration_id, {"awaiting_approval", "failed"})
    assert waiting["status"] == "awaiting_approval", waiting["error"]

    approval_trace, _, approval_header = traceparent()
    response = await api.post(
        f"/api/v1/migrations/{migration_id}/approve",
        json={"comment": "reviewed"},
        headers={"traceparent": approval_header},
    )
    assert response.status_code == 202, response.text
    migration = await wait_for_status(api, migration_id, {"applied", "failed"})
    assert migration["status"] == "applied", migration["error"]

    spans = Trace(
        await otlp_receiver.wait_for(
            migration_complete(migration_id, len(migration["statements"])), plan_trace
        )
    )
    approval = Trace(
        await otlp_receiver.wait_for(
            handled("executor", "migration.approved", migration_id),
            approval_trace,
        )
    )
    # The approval is a trace of its own: the call, its event, the executor's handling of it.
    (approve_call,) = approval.find(
        "gateway", "SERVER", "POST /api/v1/migrations/{migration_id}/approve"
    )
    send_approval, handle_approval = approval.hop(
        "gateway", "migration.approved", "executor", migration_id
    )
    assert send_approval.parent_span_id == approve_call.span_id
    # The run continues the plan's trace, under the script's arrival, linked to the approval.
    _, handle_script = spans.hop("generator", "script.generated", "executor", migration_id)
    (execute,) = spans.find("executor", "INTERNAL", "execute", migration_id)
    assert execute.parent_span_id == handle_script.span_id
    assert (approval_trace, handle_approval.span_id) in execute.links
    send_applied, _ = spans.hop("executor", "migration.applied", "tracker", migration_id)
    assert send_applied.parent_span_id == execute.span_id
    assert not approval.sent("executor", "migration.applied", migration_id)


async def test_replayed_events_carry_the_trace_of_the_replay_request(
    api, service, otlp_receiver: OtlpReceiver, new_database, kafka_bootstrap
):
    _, _, source, target = await registered_pair(api, new_database, SOURCE, TARGET)
    accepted = await api.post(
        "/api/v1/comparisons",
        json={"source": source, "target": target, "mode": "apply", "allow_hazards": ALL_HAZARDS},
    )
    migration_id = accepted.json()["migration_id"]
    await wait_for_status(api, migration_id, {"applied", "failed"})
    stored = await settled_events(api, migration_id)

    trace_id, caller, header = traceparent()
    async with TopicReader(kafka_bootstrap, REPLAY_TOPIC) as reader:
        response = await api.post(
            "/api/v1/replays", json={"migration_id": migration_id}, headers={"traceparent": header}
        )
        assert response.status_code == 200, response.text
        records = await reader.read_until(
            lambda rs: (
                sum(json.loads(r.value)["migration_id"] == migration_id for r in rs) >= len(stored)
            )
        )
    records = [r for r in records if json.loads(r.value)["migration_id"] == migration_id]

    def sends(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        return Trace(spans).find("gateway", "PRODUCER", f"send {REPLAY_TOPIC}")

    spans = Trace(
        await otlp_receiver.wait_for(
            lambda got: len(sends(got)) >= len(stored) and connected(Trace(got)), trace_id
        )
    )
    (server,) = spans.find("gateway", "SERVER", "POST /api/v1/replays")
    assert server.parent_span_id == caller
    by_id = {s.span_id: s for s in sends(spans.spans)}
    assert all(s.parent_span_id == server.span_id for s in by_id.values())
    for record in records:
        _, record_trace, record_span, _ = dict(record.headers)["traceparent"].decode().split("-")
        assert record_trace == trace_id
        event_id = json.loads(record.value)["event_id"]
        assert by_id[record_span].attributes["messaging.message.id"] == event_id
