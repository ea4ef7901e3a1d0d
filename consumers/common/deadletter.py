"""Dead letters: bounded retries, then the message goes aside and the partition moves on.

FastStream has no dead-letter queue for Kafka, and on Kafka a NACK seeks back and retries at
once without limit. :class:`DeadLetters` decides instead, for every call a role makes
(:mod:`.lanes`):

- a message that can never succeed (not JSON, not an event, an unknown type, a
  :class:`PermanentError`) goes to ``schemashift.deadletter`` at once with the reason and the
  original bytes, and is then acknowledged;
- a handler that fails for another reason is retried in place with exponential backoff;
- when the infrastructure itself is away (metadata database, broker), the message is not
  acknowledged after the retries: it is redelivered, so an outage loses nothing;
- any other error that outlasts the retries dead-letters the message, so one bad message never
  becomes a crash loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from schemashift.consumers.common import metrics, tracing
from schemashift.consumers.common.drivers import drivers
from schemashift.consumers.common.kafka import LOST_PRODUCER_ERRORS, exit_for_a_new_producer
from schemashift.consumers.common.redact import redact_text
from schemashift.consumers.common.settings import Settings
from schemashift.schemas.events import DEAD_LETTER_TOPIC, DeadLetter

log = logging.getLogger("schemashift.deadletter")


class PermanentError(Exception):
    """A message that will never be processed, whatever the retries; its text is the reason."""


_INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    KafkaError,
    OperationalError,
    InterfaceError,
    asyncio.TimeoutError,
)


def _is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # A broken connection in a driver's own exception (the PostgreSQL driver's library,
    # asyncpg, is also the metadata database's).
    if any(driver.is_connection_lost(exc) for driver in drivers()):
        return True
    return isinstance(exc, _INFRASTRUCTURE_ERRORS)


def reason_of(exc: BaseException) -> str:
    """Why a message was dead-lettered, in words that carry no secret."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"invalid event: {where}: {first.get('msg')}"[:500]
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc}"
    return redact_text(f"{type(exc).__name__}: {exc}")[:1000]


class Redeliver(Exception):
    """The infrastructure is away after every retry: the message must not be acknowledged."""


class DeadLetters:
    """The dead-letter topic of one role's subscribers, and the retry policy in front of it."""

    def __init__(self, broker: KafkaBroker, consumer: str, settings: Settings) -> None:
        self.consumer = consumer
        self._settings = settings
        self._publisher = broker.publisher(
            DEAD_LETTER_TOPIC,
            schema=DeadLetter,
            title=f"{DEAD_LETTER_TOPIC}:Publish:{consumer}",
            description="Messages this role could not process, with the reason and original bytes.",
        )

    async def attempt(self, call: Callable[[], Awaitable[None]]) -> str | None:
        """Run ``call`` with bounded retries and backoff.

        Returns None once it succeeded, or the reason to dead-letter its messages: at once for
        a message that can never succeed, after the retries for any other error. Raises
        :class:`Redeliver` when the infrastructure (metadata database, broker) is still away
        after the retries: the messages are then read again, so an outage loses nothing.
        """
        delay = self._settings.handler_backoff_s
        attempt = 0
        while True:
            try:
                await call()
                return None
            except (ValidationError, json.JSONDecodeError, PermanentError) as exc:
                return reason_of(exc)
            except Exception as exc:
                attempt += 1
                if attempt <= self._settings.handler_retries:
                    metrics.handler_retried()
                    log.warning(
                        "%s: attempt %d failed (%s); retrying in %.1fs",
                        self.consumer,
                        attempt,
                        reason_of(exc),
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                if _is_infrastructure_error(exc):
                    log.error("%s: infrastructure unavailable (%s)", self.consumer, reason_of(exc))
                    raise Redeliver(reason_of(exc)) from exc
                log.exception("%s: giving up on a message", self.consumer)
                return reason_of(exc)

    async def send(self, msg: KafkaMessage, reason: str) -> None:
        """Publish ``msg`` with ``reason`` on the dead-letter topic (acknowledged by the broker)."""
        record = cast("ConsumerRecord[bytes, bytes]", msg.raw_message)
        letter = DeadLetter(
            reason=reason,
            consumer=self.consumer,
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
            original_key=record.key.decode(errors="replace") if record.key else None,
            original_value_b64=base64.b64encode(msg.body or b"").decode(),
        )
        tracing.dead_lettered(reason)
        log.warning(
            "%s: dead-lettered %s[%s]@%s: %s",
            self.consumer,
            record.topic,
            record.partition,
            record.offset,
            reason,
        )
        headers = {"schemashift_reason": reason[:200], "schemashift_consumer": self.consumer}
        try:
            with tracing.sending(DEAD_LETTER_TOPIC, letter.original_key, headers):
                await self._publisher.publish(
                    letter.model_dump_json().encode(), key=record.key, headers=headers
                )
        except LOST_PRODUCER_ERRORS as exc:
            exit_for_a_new_producer(exc)  # the message stays uncommitted: it comes back
        except Exception:
            metrics.message_published(DEAD_LETTER_TOPIC, metrics.FAILED)
            raise
        metrics.message_published(DEAD_LETTER_TOPIC, metrics.CONFIRMED)
        metrics.dead_lettered(record.topic)
