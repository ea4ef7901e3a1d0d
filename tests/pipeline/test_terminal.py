"""What a user reads in the terminal of `schemashift serve`: the roles' own lines, not the
libraries' (FastStream's start-up, partition assignments, and its notice that it creates no
topics, printed on every start), and a clear error when a topic a role needs is missing."""

from __future__ import annotations

import uuid

import pytest

from schemashift.consumers.common.kafka import make_broker, missing_topics
from schemashift.consumers.common.settings import Settings
from schemashift.schemas.topics import TOPICS
from tests.support.service import registered_pair, request_apply, wait_for_status

pytestmark = pytest.mark.integration


async def test_a_flow_prints_the_roles_lines_and_no_library_notices(api, service, new_database):
    source, target = "CREATE TABLE t (id integer PRIMARY KEY, v text)", "CREATE TABLE t (id int)"
    _, _, source_name, target_name = await registered_pair(api, new_database, source, target)
    migration_id = await request_apply(api, source_name, target_name)
    assert (await wait_for_status(api, migration_id, {"applied", "failed"}))["status"] == "applied"

    logs = service.logs()
    assert "schemashift: serving" in logs
    assert "Auto create topics is disabled" not in logs
    assert "FastStream app started" not in logs
    assert "assigned to partitions" not in logs
    # None of the known topics went missing, so no role named one.
    assert "do not exist on the broker" not in logs


async def test_missing_topics_are_named(kafka_bootstrap):
    broker = make_broker("test-topics", Settings(kafka_bootstrap=kafka_bootstrap))
    absent = f"schemashift.absent-{uuid.uuid4().hex[:8]}"
    await broker.start()
    try:
        known = [topic.name for topic in TOPICS]
        assert await missing_topics(broker, [known[0], absent, known[-1]]) == [absent]
        assert await missing_topics(broker, known) == []
    finally:
        await broker.stop()
