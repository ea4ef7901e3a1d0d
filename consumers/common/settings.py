"""Configuration of every role, read from the environment (prefix ``SCHEMASHIFT_``).

`schemashift infra up` writes `.schemashift/env`; it is read as a dotenv file so that a role
started from the repository finds the local infrastructure without any exported variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path(".schemashift")


class Settings(BaseSettings):
    """Everything a role can be configured with; each field maps to ``SCHEMASHIFT_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="SCHEMASHIFT_", env_file=STATE_DIR / "env", extra="ignore"
    )

    kafka_bootstrap: str = "127.0.0.1:19092"
    database_url: str = "postgresql://schemashift@127.0.0.1:54329/schemashift"
    # Partitions of every topic (`infra up` creates them so, and grows existing ones): how
    # many consumers of one role can share the work, target by target.
    topic_partitions: int = Field(default=12, ge=1)
    # The MariaDB/MySQL server `infra up` started (or was pointed at): the demo's MariaDB pair.
    mariadb_url: str | None = None

    # How long the broker may hold a fetch that has no message: a long poll answers as soon as
    # a message arrives, so this only sets how often an idle consumer wakes up.
    fetch_max_wait_ms: int = 5000
    # Messages of different partitions (so of different targets) a role handles at once; per
    # role as JSON, e.g. SCHEMASHIFT_ROLE_CONCURRENCY='{"executor": 4}'.
    concurrency: int = Field(default=8, ge=1)
    role_concurrency: dict[str, int] = Field(default_factory=dict)
    producer_linger_ms: int = 1
    # Kafka's defaults: a killed consumer's partitions move to a live one within 10 s, and an
    # idle consumer wakes up for its heartbeat every 3 s (every second cost 1% of a core).
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3000
    # Above the longest migration, so that a slow apply is not mistaken for a dead consumer.
    max_poll_interval_ms: int = 15 * 60 * 1000

    # The event loop of every role and the gateway: uvloop's (libuv, in C) spends less CPU
    # per request than asyncio's own selector loop, on every socket read and write.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000

    # Retries of a failing handler (metadata DB or broker briefly away) before its message
    # goes to the dead-letter topic.
    handler_retries: int = Field(default=5, ge=0)
    handler_backoff_s: float = Field(default=0.2, gt=0)

    statement_timeout_ms: int = 0
    lock_timeout_ms: int = 10_000
    # Attempts after the first when a migration meets a transient error (lock timeout,
    # serialization failure, lost connection); the whole transaction is retried.
    apply_retries: int = Field(default=3, ge=0)
    apply_backoff_s: float = Field(default=0.5, gt=0)

    log_level: str = "INFO"
    # FastStream's own lines: INFO shows its start, stop and partition assignments (and
    # aiokafka's group and connection lines), DEBUG also every message handled.
    library_log_level: str = "WARNING"

    # Encryption key of connection URLs at rest (Fernet); else read from secret_key_file.
    secret_key: SecretStr | None = None
    secret_key_file: Path = STATE_DIR / "secret.key"

    # Kafka security: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"  # PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    # Largest request body the gateway accepts.
    max_request_bytes: int = 1_048_576

    # Prometheus metrics: each role serves http://<metrics_host>:<its port>/metrics (the
    # gateway serves /metrics on its own port, whatever these say). A port another instance
    # holds is not fatal: the role takes a free one and logs where. 0 takes a free one always.
    metrics_enabled: bool = True
    metrics_host: str = "127.0.0.1"
    comparator_metrics_port: int = Field(default=9101, ge=0, le=65535)
    generator_metrics_port: int = Field(default=9102, ge=0, le=65535)
    executor_metrics_port: int = Field(default=9103, ge=0, le=65535)
    tracker_metrics_port: int = Field(default=9104, ge=0, le=65535)

    def metrics_port(self, role: str) -> int:
        """The metrics port configured for ``role`` (a consumer role)."""
        port = getattr(self, f"{role}_metrics_port", None)
        if not isinstance(port, int):
            raise ValueError(f"no metrics port setting for role {role!r}")
        return port

    # OpenTelemetry traces (consumers/common/tracing.py): "otlp" exports them over OTLP
    # (HTTP/protobuf), configured by the standard OTEL_EXPORTER_OTLP_* variables of the process
    # environment; "off" creates no span and adds no header.
    tracing: Literal["off", "otlp"] = "off"

    # How long a sign-in to the web console lasts; revoking its token ends it at once.
    console_session_hours: float = Field(default=12, gt=0)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
