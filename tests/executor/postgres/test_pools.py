"""Pooled PostgreSQL connections: the session is reset on release unless the pool's users
promise to leave no session state; an open transaction is rolled back either way."""

from __future__ import annotations

import pytest

from schemashift.consumers.common.targets import TargetPools

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.mark.parametrize("session_state", [True, False])
async def test_release_resets_what_the_pool_users_may_leave(new_database, session_state) -> None:
    url = await new_database()
    pools = TargetPools(max_size=1, session_state=session_state)
    try:
        async with pools.connection(url) as conn:
            await conn.execute("SET application_name = 'left behind'")
            await conn.execute("SELECT pg_advisory_lock(42)")
            await conn.execute("BEGIN")
            await conn.execute("CREATE TABLE t (id int)")
        async with pools.connection(url) as conn:  # max_size 1: the same connection
            name = await conn.fetchval("SHOW application_name")
            locks = await conn.fetchval(
                "SELECT count(*) FROM pg_locks"
                " WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('public.t')") is None
    finally:
        await pools.close()
    if session_state:
        assert (name, locks) == ("", 0)
    else:
        assert (name, locks) == ("left behind", 1)
