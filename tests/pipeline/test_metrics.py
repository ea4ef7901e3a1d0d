"""/metrics of every role of the running service, scraped before and after one flow: each
counter and histogram moves by what the flow did, and by nothing more.

The service is shared with the other tests of the session, so every check is a difference,
taken once the service is idle (no counter moves between two scrapes) before and after.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemashift.schemas.events import DEAD_LETTER_TOPIC, EventType
from tests.support.service import (
    METRICS_ROLES,
    Service,
    registered_pair,
    request_apply,
    settled_events,
    wait_for_status,
)

pytestmark = pytest.mark.integration

ROLES = ("gateway", *METRICS_ROLES)
# Samples whose value is a count of something that happened (counters, histogram counts).
COUNTS = (
    "schemashift_messages_consumed_total",
    "schemashift_messages_published_total",
    "schemashift_dead_letters_total",
    "schemashift_handler_retries_total",
    "schemashift_migrations_total",
    "schemashift_stage_duration_seconds_count",
    "schemashift_migration_duration_seconds_count",
)
LAG = "schemashift_consumer_lag_messages"

Sample = tuple[str, str, frozenset[tuple[str, str]]]  # role, sample name, labels


def topic(event_type: EventType) -> str:
    return event_type.topic


async def scrape(client: httpx.AsyncClient, service: Service) -> tuple[dict[Sample, float], str]:
    """Every sample of every role, and the texts served (to look for what must not be there)."""
    samples: dict[Sample, float] = {}
    texts = []
    for role in ROLES:
        response = await client.get(service.metrics_url(role))
        assert response.status_code == 200, f"{role}: {response.status_code}"
        texts.append(response.text)
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                labels = frozenset(sample.labels.items())
                samples[(role, sample.name, labels)] = sample.value
    return samples, "\n".join(texts)


def counts(samples: dict[Sample, float]) -> dict[Sample, float]:
    return {key: value for key, value in samples.items() if key[1] in COUNTS}


async def idle_scrape(
    client: httpx.AsyncClient, service: Service, timeout: float = 60
) -> tuple[dict[Sample, float], str]:
    """A scrape taken once no count has moved for two seconds and no partition lags."""
    deadline = time.monotonic() + timeout
    previous, _ = await scrape(client, service)
    still = 0
    while True:
        await asyncio.sleep(1.0)
        current, text = await scrape(client, service)
        lagging = {k: v for k, v in current.items() if k[1] == LAG and v != 0}
        still = still + 1 if counts(current) == counts(previous) and not lagging else 0
        if still >= 2:
            return current, text
        if time.monotonic() > deadline:
            raise AssertionError(f"the service did not settle; lagging: {lagging}")
        previous = current


def moved(before: dict[Sample, float], after: dict[Sample, float]) -> Counter[Sample]:
    """How much each count moved (only those that did)."""
    deltas: Counter[Sample] = Counter()
    for key, value in counts(after).items():
        delta = value - before.get(key, 0.0)
        if delta:
            deltas[key] = delta
    return deltas


def sample(role: str, name: str, **labels: str) -> Sample:
    return (role, name, frozenset(labels.items()))


def consumed(role: str, event_type: EventType | str, outcome: str = "handled") -> Sample:
    name = event_type.topic if isinstance(event_type, EventType) else event_type
    return sample(role, "schemashift_messages_consumed_total", topic=name, outcome=outcome)


def published(role: str, event_type: EventType | str, outcome: str = "confirmed") -> Sample:
    name = event_type.topic if isinstance(event_type, EventType) else event_type
    return sample(role, "schemashift_messages_published_total", topic=name, outcome=outcome)


def stage(role: str, name: str) -> Sample:
    return sample(role, "schemashift_stage_duration_seconds_count", stage=name)


async def test_one_flow_moves_every_count_of_every_role_by_what_it_did(api, service, new_database):
    source_sql = "CREATE TABLE t (id integer PRIMARY KEY, v text NOT NULL, n integer)"
    target_sql = "CREATE TABLE t (id integer PRIMARY KEY)"
    async with httpx.AsyncClient(timeout=10) as client:
        # No token: Prometheus scrapes the gateway as it scrapes the roles.
        before, _ = await idle_scrape(client, service)
        source_url, target_url, source, target = await registered_pair(
            api, new_database, source_sql, target_sql
        )
        migration_id = await request_apply(api, source, target)
        migration = await wait_for_status(api, migration_id, {"applied", "failed"})
        assert migration["status"] == "applied", migration["error"]
        await settled_events(api, migration_id)
        after, text = await idle_scrape(client, service)

    statements = len(migration["statements"])
    assert statements >= 2
    requested, diff, script = (
        EventType.COMPARISON_REQUESTED,
        EventType.DIFF_COMPUTED,
        EventType.SCRIPT_GENERATED,
    )
    progress, applied = EventType.MIGRATION_PROGRESS, EventType.MIGRATION_APPLIED
    ended = {"status": "applied", "dialect": "postgresql"}
    expected = Counter(
        {
            published("gateway", requested): 1,
            consumed("comparator", requested): 1,
            consumed("comparator", applied): 1,  # the target's queue moves on
            stage("comparator", "compare"): 1,
            published("comparator", diff): 1,
            consumed("generator", diff): 1,
            stage("generator", "generate"): 1,
            published("generator", script): 1,
            consumed("executor", script): 1,
            stage("executor", "apply"): 1,
            published("executor", progress): statements,
            published("executor", applied): 1,
            consumed("tracker", requested): 1,
            consumed("tracker", diff): 1,
            consumed("tracker", script): 1,
            consumed("tracker", progress): statements,
            consumed("tracker", applied): 1,
            sample("tracker", "schemashift_migrations_total", **ended): 1,
            sample("tracker", "schemashift_migration_duration_seconds_count", **ended): 1,
        }
    )
    assert moved(before, after) == expected

    # The durations are the flow's: positive, and the whole no shorter than its apply.
    def grew(role: str, name: str, **labels: str) -> float:
        key = sample(role, name, **labels)
        return after[key] - before.get(key, 0.0)

    apply_s = grew("executor", "schemashift_stage_duration_seconds_sum", stage="apply")
    total_s = grew("tracker", "schemashift_migration_duration_seconds_sum", **ended)
    assert 0 < apply_s <= total_s
    assert grew("comparator", "schemashift_stage_duration_seconds_sum", stage="compare") > 0

    # Each role says what it runs; each consumer reports the lag of partitions it owns.
    for role in ROLES:
        infos = [k for k in after if k[0] == role and k[1] == "schemashift_build_info"]
        assert [dict(k[2])["role"] for k in infos] == [role]
    for role in METRICS_ROLES:
        assert any(k[0] == role and k[1] == LAG for k in after), f"{role} reports no lag"
    # Names are never labels; URLs never appear.
    for secret in (source, target, migration_id, source_url, target_url):
        assert secret not in text


async def test_a_message_that_cannot_be_read_is_counted_as_dead_lettered(
    api, service, kafka_bootstrap
):
    from aiokafka import AIOKafkaProducer

    topic_name = EventType.DIFF_COMPUTED.topic
    async with httpx.AsyncClient(timeout=10) as client:
        before, _ = await idle_scrape(client, service)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            key = f"metrics-{uuid.uuid4().hex[:8]}".encode()
            await producer.send_and_wait(topic_name, b"{not an event", key=key)
        finally:
            await producer.stop()
        after, _ = await idle_scrape(client, service)

    # Both roles that read the topic refuse it: each counts it and sends its own letter.
    expected: Counter[Sample] = Counter()
    for role in ("generator", "tracker"):
        expected[consumed(role, topic_name, "dead_lettered")] = 1
        expected[sample(role, "schemashift_dead_letters_total", topic=topic_name)] = 1
        expected[published(role, DEAD_LETTER_TOPIC)] = 1
    assert moved(before, after) == expected
