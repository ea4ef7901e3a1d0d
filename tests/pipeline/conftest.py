"""The running service for the tests that go through it: `schemashift serve` against the real
infrastructure.

One supervisor (gateway and the four consumers, each its own process) serves the whole session,
with its logs captured to a file so that tests can read what every role printed. What tests do
with it (tokens, connections, waiting for migrations, reading topics) is in
tests/support/service.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.infra import REPO_ROOT
from tests.support.service import Service, create_token, free_port


@pytest.fixture(scope="session")
def service(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """`schemashift serve` on a free port, stopped (SIGTERM, as Ctrl-C would) at the end."""
    port = free_port()
    run_dir = tmp_path_factory.mktemp("service")
    log_path = run_dir / "serve.log"
    env = os.environ | {
        "SCHEMASHIFT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SCHEMASHIFT_DATABASE_URL": database_url,
        "SCHEMASHIFT_GATEWAY_PORT": str(port),
        "SCHEMASHIFT_LOG_LEVEL": "INFO",
        # Short, so that lock conflicts in tests resolve (or fail) in seconds.
        "SCHEMASHIFT_LOCK_TIMEOUT_MS": "500",
        "SCHEMASHIFT_APPLY_BACKOFF_S": "0.3",
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "schemashift.gateway.cli", "serve", "--pid-dir", str(run_dir)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            pytest.fail(f"serve exited at start-up:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the gateway did not come up:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.3)
    service = Service(base, log_path, process, run_dir, env)
    service.admin_token = create_token(service, "admin")
    yield service
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
async def api(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the gateway, with an admin token."""
    async with httpx.AsyncClient(
        base_url=service.base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {service.admin_token}"},
    ) as client:
        yield client
