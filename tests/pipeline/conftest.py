"""The running service for the tests that go through it: `schemashift serve` against the real
infrastructure.

One supervisor (gateway and the four consumers, each its own process) serves the whole session,
with its logs captured to a file so that tests can read what every role printed. What tests do
with it (tokens, connections, waiting for migrations, reading topics) is in
tests/support/service.py.

Tracing is on in it: every role exports its spans over OTLP to a receiver of the session's own
(tests/support/otlp.py), where tests/pipeline/test_tracing.py reads the traces of its
migrations. The suite thereby also runs the whole pipeline with tracing on; tracing off (the
default) is the code path of every other process, and tests/unit/test_tracing.py shows that
it adds nothing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.otlp import OtlpReceiver, start_receiver
from tests.support.service import (
    METRICS_ROLES,
    Service,
    create_token,
    free_ports,
    start_service,
)


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """The OTLP/HTTP endpoint the service's roles export their spans to."""
    receiver = start_receiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def service(
    kafka_bootstrap: str,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    otlp_receiver: OtlpReceiver,
) -> Iterator[Service]:
    """`schemashift serve` on a free port, stopped (SIGTERM, as Ctrl-C would) at the end."""
    metrics_ports = dict(zip(METRICS_ROLES, free_ports(len(METRICS_ROLES)), strict=True))
    env = os.environ | {
        "SCHEMASHIFT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SCHEMASHIFT_DATABASE_URL": database_url,
        "SCHEMASHIFT_LOG_LEVEL": "INFO",
        # Short, so that lock conflicts in tests resolve (or fail) in seconds.
        "SCHEMASHIFT_LOCK_TIMEOUT_MS": "500",
        "SCHEMASHIFT_APPLY_BACKOFF_S": "0.3",
        # Free ports, not the defaults a `serve` on this machine may hold; a second service
        # started with this env (tests/pipeline/test_scale_out.py) falls back to free ones.
        "SCHEMASHIFT_METRICS_ENABLED": "true",
        "SCHEMASHIFT_METRICS_HOST": "127.0.0.1",
        **{f"SCHEMASHIFT_{role.upper()}_METRICS_PORT": str(p) for role, p in metrics_ports.items()},
        "SCHEMASHIFT_TRACING": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_receiver.traces_endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        # Exported within half a second (5 s by default), so that tests need not wait long.
        "OTEL_BSP_SCHEDULE_DELAY": "500",
    }
    service = start_service(env, tmp_path_factory.mktemp("service"))
    service.admin_token = create_token(service, "admin")
    yield service
    service.stop()


@pytest.fixture
async def api(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the gateway, with an admin token."""
    async with httpx.AsyncClient(
        base_url=service.base_url,
        timeout=30,
        headers={"Authorization": f"Bearer {service.admin_token}"},
    ) as client:
        yield client
