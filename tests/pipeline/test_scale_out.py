"""Two instances of every role on one broker: they share the partitions of each role's topics,
and when one instance's executor and comparator are killed (SIGKILL) mid-run, the other takes
their partitions over. Nothing is lost, nothing is done twice, and each target's migrations
run in the order they were submitted.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal

import asyncpg
import pytest

from tests.support.service import (
    METRICS_ROLES,
    history,
    registered_pair,
    request_apply,
    start_service,
    wait_for_status,
)

pytestmark = pytest.mark.integration

TARGETS = 20
PER_TARGET = 5


async def _stored_kinds(database_url: str, ids: list[str]) -> dict[str, dict[str, int]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT migration_id::text AS id, type, count(*) AS n FROM events"
            " WHERE migration_id = ANY($1::uuid[]) GROUP BY 1, 2",
            ids,
        )
    finally:
        await conn.close()
    kinds: dict[str, dict[str, int]] = {i: {} for i in ids}
    for row in rows:
        kinds[row["id"]][row["type"]] = row["n"]
    return kinds


async def test_two_instances_share_the_partitions_and_survive_a_kill(
    api, service, new_database, database_url, tmp_path
):
    # FastStream's INFO lines name the partitions each consumer was given (read below).
    second = start_service(service.env | {"SCHEMASHIFT_LIBRARY_LOG_LEVEL": "INFO"}, tmp_path)
    try:
        source_sql = (
            "CREATE TABLE t (id integer PRIMARY KEY, v text, n integer);"
            "CREATE INDEX t_v ON t (v); CREATE TABLE u (id integer PRIMARY KEY);"
        )
        pairs = [
            await registered_pair(api, new_database, source_sql, "CREATE TABLE t (id integer)")
            for _ in range(TARGETS)
        ]

        async def lane(source: str, target: str) -> list[str]:
            ids = []
            for _ in range(PER_TARGET):
                ids.append(await request_apply(api, source, target))
                await asyncio.sleep(0.2)  # requests keep coming while the roles die
            return ids

        lanes = asyncio.gather(*(lane(s, t) for _, _, s, t in pairs))
        await asyncio.sleep(1.0)
        os.kill(second.pid("executor"), signal.SIGKILL)
        os.kill(second.pid("comparator"), signal.SIGKILL)
        submitted = await lanes
        ids = [i for per_target in submitted for i in per_target]
        assert len(ids) == TARGETS * PER_TARGET
        for migration_id in ids:
            migration = await wait_for_status(api, migration_id, {"applied", "failed"}, 180)
            assert migration["status"] == "applied", migration["error"]
    finally:
        second.stop()

    # Each applied once, in submission order: one history row per migration, in its target.
    for (_, target_url, _, _), per_target in zip(pairs, submitted, strict=True):
        assert await history(target_url) == per_target, "ran twice, or out of order"
    # No event stored twice: one of each step per migration (redone work would add others).
    for migration_id, kinds in (await _stored_kinds(database_url, ids)).items():
        for kind in ("comparison.requested", "diff.computed", "script.generated"):
            assert kinds.get(kind) == 1, f"{migration_id}: {kind} stored {kinds.get(kind)} times"
        assert kinds.get("migration.applied") == 1, f"{migration_id}: {kinds}"
    # The second instance did take a share: its consumers were given partitions.
    logs = second.logs()
    for topic in ("schemashift.comparison.requested", "schemashift.script.generated"):
        assert f"TopicPartition(topic='{topic}'" in logs, f"no partition of {topic} went there"
    # Its serve found the first instance's metrics ports taken and gave its roles free ones,
    # which it printed; the roles killed and restarted kept theirs (none fell back itself).
    (listed,) = re.findall(r"^schemashift: metrics: (.*)$", logs, re.M)
    ports = dict(re.findall(r"(\w+) http://127\.0\.0\.1:(\d+)/metrics", listed))
    for role in METRICS_ROLES:
        assert ports[role] != service.env[f"SCHEMASHIFT_{role.upper()}_METRICS_PORT"], role
    assert "is taken" not in logs
