"""The local infrastructure is usable: topics, a Kafka round-trip, PostgreSQL, status.

Needs ``schemashift infra up`` (or ``python -m infra up``) first; reads the connection settings
from ``SCHEMASHIFT_KAFKA_BOOTSTRAP`` / ``SCHEMASHIFT_DATABASE_URL`` or ``<state>/env``, and the
extra PostgreSQL versions from ``SCHEMASHIFT_PG_VERSIONS`` / ``SCHEMASHIFT_DATABASE_URL_PG<M>``
(environment first, then ``<state>/env``).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemashift.consumers.common.settings import get_settings
from schemashift.infra import manager, pgversions
from schemashift.schemas.events import ALL_TOPICS

pytestmark = pytest.mark.integration


def _setting(name: str) -> str:
    value = os.environ.get(name) or manager.read_env().get(name)
    if not value:
        pytest.skip(f"{name} not set and no <state>/env: run `schemashift infra up` first")
    return value


@pytest.fixture(scope="module")
def bootstrap() -> str:
    return _setting(manager.KAFKA_ENV)


@pytest.fixture(scope="module")
def database_url() -> str:
    return _setting(manager.DATABASE_ENV)


async def test_every_topic_exists_with_the_partitions_of_the_setting(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        # list_topics first: describing a missing topic could auto-create it on some brokers.
        existing = set(await admin.list_topics())
        assert set(ALL_TOPICS) <= existing, f"missing: {sorted(set(ALL_TOPICS) - existing)}"
        partitions = {
            m["topic"]: len(m["partitions"]) for m in await admin.describe_topics(list(ALL_TOPICS))
        }
    finally:
        await admin.close()
    wanted = get_settings().topic_partitions
    assert {t: n for t, n in partitions.items() if n < wanted} == {}


async def test_produce_consume_round_trip(bootstrap: str) -> None:
    # A throwaway topic: test messages must not land in topics real consumers read.
    topic = f"schemashift.test.infra-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, b"ping", key=b"target-a")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(topic, sent.partition)
            consumer.assign([tp])
            consumer.seek(tp, sent.offset)
            record = await asyncio.wait_for(consumer.getone(), timeout=15)
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"target-a", b"ping")
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_postgres_answers(database_url: str) -> None:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        assert await conn.fetchval("select 1") == 1
    finally:
        await conn.close()


def test_status_reports_both_running(bootstrap: str, database_url: str) -> None:
    rows = {status.name: status for status in manager.status()}
    # "external" is the healthy state when the env vars point at services `up` did not start
    # (e.g. the docker-compose stack); "running" when `up` started them.
    assert rows["kafka"].healthy, rows["kafka"]
    assert rows["postgres"].healthy, rows["postgres"]
    password = database_url.partition("://")[2].partition("@")[0].partition(":")[2]
    assert not password or password not in rows["postgres"].detail


def _configured_versions() -> tuple[int, ...]:
    # The variable when set (make test exports it, possibly empty), else what the last
    # `infra up` recorded in <state>/env.
    text = os.environ.get(pgversions.VERSIONS_ENV)
    if text is None:
        text = manager.read_env().get(pgversions.VERSIONS_ENV, "")
    return pgversions.parse_versions(text)


def _version_urls() -> dict[int, str]:
    values = {**manager.read_env(), **os.environ}
    urls = {}
    for key, value in values.items():
        major = pgversions.major_of_url_env(key)
        if major is not None and value:
            urls[major] = value
    return urls


@pytest.fixture(scope="module")
def version_urls() -> dict[int, str]:
    """``{major: url}`` of every extra PostgreSQL version; fails if a configured one is missing."""
    configured = _configured_versions()
    urls = _version_urls()
    missing = [m for m in configured if m not in urls]
    assert not missing, (
        f"{pgversions.VERSIONS_ENV} asks for PostgreSQL {missing} but there is no "
        f"{', '.join(pgversions.url_env(m) for m in missing)}: run `schemashift infra up`"
    )
    if not urls:
        pytest.skip(f"no extra PostgreSQL versions configured ({pgversions.VERSIONS_ENV} is empty)")
    return urls


async def test_every_postgres_version_answers_with_its_major(version_urls: dict[int, str]) -> None:
    wrong = {}
    for major, url in sorted(version_urls.items()):
        conn = await asyncpg.connect(url, timeout=10)
        try:
            server_version_num = int(await conn.fetchval("SHOW server_version_num"))
            assert await conn.fetchval("select current_database()") == "schemashift"
        finally:
            await conn.close()
        if server_version_num // 10000 != major:
            wrong[major] = server_version_num
    assert wrong == {}, f"servers answering with another version (server_version_num): {wrong}"


def test_status_lists_every_extra_version_running(
    version_urls: dict[int, str], database_url: str
) -> None:
    rows = {status.name: status for status in manager.status()}
    # A listed major equal to the main server's has no cluster of its own: its URL is the main one.
    extras = [m for m, url in version_urls.items() if url != database_url]
    for major in extras:
        name = pgversions.component(major)
        assert name in rows, f"status() does not list {name}: {sorted(rows)}"
        assert rows[name].healthy, rows[name]
        assert f"PostgreSQL {major}." in rows[name].detail, rows[name]
    password = database_url.partition("://")[2].partition("@")[0].partition(":")[2]
    assert not password or all(password not in status.detail for status in rows.values())
