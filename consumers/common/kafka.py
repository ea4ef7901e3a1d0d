"""The Kafka side every role shares: a latency-tuned broker, subscriber options and publishing.

Delivery guarantees (see the design page): offsets are committed only after a handler's effect
is durable (auto-commit off; :mod:`schemashift.consumers.common.lanes` commits each partition
after its message), handlers are idempotent by event id, and a message that cannot be processed
goes to the dead-letter topic instead of blocking its partition
(:mod:`schemashift.consumers.common.deadletter`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Iterable
from typing import Any, NoReturn

from aiokafka.errors import OutOfOrderSequenceNumber, ProducerFenced
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from schemashift.consumers.common import metrics, tracing
from schemashift.consumers.common.settings import Settings, get_settings
from schemashift.schemas.events import Event

log = logging.getLogger("schemashift.kafka")

# FastStream's own lines (start and stop, partition assignments, and at DEBUG every message)
# go through this logger, so they share the roles' format and redaction and are shown at
# SCHEMASHIFT_LIBRARY_LOG_LEVEL (WARNING unless asked for).
LIBRARY_LOGGER = logging.getLogger("schemashift.faststream")


class _KnownNotices(logging.Filter):
    """Drops FastStream's notice that it creates no topics: it is printed on every start,
    whether the topics exist or not; :func:`missing_topics` says which ones do not."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Auto create topics is disabled")


LIBRARY_LOGGER.addFilter(_KnownNotices())


def broker_security(settings: Settings) -> BaseSecurity | None:
    """TLS and/or SASL for the Kafka clients, from ``SCHEMASHIFT_KAFKA_*`` settings."""
    protocol = settings.kafka_security_protocol.upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError(f"unknown Kafka security protocol {protocol!r}")
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
    if not protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=context)
    mechanisms = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }
    try:
        mechanism = mechanisms[settings.kafka_sasl_mechanism.upper()]
    except KeyError:
        raise ValueError(f"unknown SASL mechanism {settings.kafka_sasl_mechanism!r}") from None
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise ValueError("SASL needs SCHEMASHIFT_KAFKA_SASL_USERNAME and _PASSWORD")
    return mechanism(
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def make_broker(role: str, settings: Settings | None = None, **extra: Any) -> KafkaBroker:
    """A broker for ``role`` with the producer tuned for latency and durability."""
    settings = settings or get_settings()
    return KafkaBroker(
        settings.kafka_bootstrap,
        security=broker_security(settings),
        client_id=f"schemashift-{role}",
        acks="all",
        enable_idempotence=True,
        linger_ms=settings.producer_linger_ms,
        # Topics are created by `infra up` with explicit partition counts, never implicitly.
        allow_auto_create_topics=False,
        request_timeout_ms=15_000,
        graceful_timeout=30.0,
        # FastStream logs every message received and processed at this level: DEBUG keeps
        # them out of the INFO log a service runs with (SCHEMASHIFT_LOG_LEVEL=DEBUG shows them).
        log_level=logging.DEBUG,
        logger=LIBRARY_LOGGER,
        **extra,
    )


def subscriber_options(role: str, settings: Settings | None = None) -> dict[str, Any]:
    """Consumer settings of ``role``: its own group, long polls, and no commit of FastStream's
    own (:mod:`.lanes` commits each partition after its message's effect)."""
    settings = settings or get_settings()
    return {
        "group_id": f"schemashift-{role}",
        "ack_policy": AckPolicy.MANUAL,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        # aiokafka's fetch loop also wakes on a timer (200 ms by default) while a long poll is
        # out; every event it waits for wakes it anyway, so the timer only costs idle CPU.
        "consumer_timeout_ms": settings.fetch_max_wait_ms,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
    }


async def missing_topics(broker: KafkaBroker, topics: Iterable[str]) -> list[str]:
    """Those of ``topics`` the (started) broker does not have, in the order given."""
    existing = set(await broker.config.admin_client.list_topics())
    return [topic for topic in topics if topic not in existing]


# After these, aiokafka's idempotent producer never delivers to the partition again: it keeps a
# producer id and sequence that the broker no longer accepts (seen when a broker restart failed
# a batch in flight: every later batch is "out of order"). Only a new producer recovers.
LOST_PRODUCER_ERRORS: tuple[type[Exception], ...] = (OutOfOrderSequenceNumber, ProducerFenced)
# EX_TEMPFAIL: the process ends so that its supervisor starts it again with a new producer.
EXIT_PRODUCER_LOST = 75


async def publish_event(broker: KafkaBroker, event: Event) -> None:
    """Publish ``event`` on its topic, keyed by its target, with CloudEvents headers.

    If the producer can no longer deliver (:data:`LOST_PRODUCER_ERRORS`), the process exits
    at once, before the message in hand is committed or dead-lettered: restarted, it gets the
    message again and publishes with a new producer, as after a crash.
    """
    await confirmed(await metrics.counted_send(event.topic, send_event(broker, event)))


async def send_event(broker: KafkaBroker, event: Event) -> asyncio.Future[object]:
    """Hand ``event`` to the producer without waiting for the broker: the future resolves
    when it is acknowledged (:func:`confirmed`). Events sent one after another keep their order
    in their partition (the producer is idempotent)."""
    headers = event.cloudevents_headers()
    span = tracing.start_send(event, headers)  # adds traceparent when tracing is on
    try:
        sent = await broker.publish(
            event.model_dump_json().encode(),
            topic=event.topic,
            key=event.key,
            headers=headers,
            no_confirm=True,
        )
    except LOST_PRODUCER_ERRORS as exc:
        exit_for_a_new_producer(exc)
    except Exception as exc:
        tracing.send_failed(span, exc)
        raise
    if isinstance(sent, asyncio.Future):
        tracing.end_when_sent(span, sent)
        return sent
    # FastStream's in-memory test broker delivers at once and gives no future.
    done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    done.set_result(sent)
    tracing.end_when_sent(span, done)
    return done


async def confirmed(*sent: asyncio.Future[object]) -> None:
    """Wait until the broker acknowledged every future of :func:`send_event`; exits as
    :func:`publish_event` does if the producer can no longer deliver."""
    try:
        await asyncio.gather(*sent)
    except LOST_PRODUCER_ERRORS as exc:
        exit_for_a_new_producer(exc)


def exit_for_a_new_producer(exc: BaseException) -> NoReturn:
    """End the process now (no commit, no cleanup), saying why, so that it restarts."""
    log.critical(
        "the Kafka producer can no longer deliver (%s: %s); exiting with %d so that the "
        "process restarts with a new one; the message in hand is delivered again",
        type(exc).__name__,
        exc,
        EXIT_PRODUCER_LOST,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_PRODUCER_LOST)


async def publish_events(broker: KafkaBroker, events: Iterable[Event]) -> None:
    """Publish several events in order (each waits for the broker's acknowledgement)."""
    for event in events:
        await publish_event(broker, event)
