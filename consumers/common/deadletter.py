"""Dead-letter middleware: bounded retries, then the message goes aside and the partition moves on.

FastStream has no dead-letter queue for Kafka, and on Kafka a NACK seeks back and retries at
once without limit. This middleware decides instead:

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
from typing import Any

from aiokafka.errors import KafkaError
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from schemashift.consumers.common.drivers import drivers
from schemashift.consumers.common.kafka import LOST_PRODUCER_ERRORS, exit_for_a_new_producer
from schemashift.consumers.common.redact import redact_text
from schemashift.consumers.common.settings import get_settings
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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"invalid event: {where}: {first.get('msg')}"[:500]
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc}"
    return redact_text(f"{type(exc).__name__}: {exc}")[:1000]


def dead_letter_middleware(broker: KafkaBroker, consumer: str) -> type[BaseMiddleware]:
    """A middleware class for ``consumer``'s subscribers that dead-letters through ``broker``."""
    settings = get_settings()
    publisher = broker.publisher(
        DEAD_LETTER_TOPIC,
        schema=DeadLetter,
        title=f"{DEAD_LETTER_TOPIC}:Publish:{consumer}",
        description="Messages this role could not process, with the reason and original bytes.",
    )

    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Any, msg: Any) -> Any:
            delay = settings.handler_backoff_s
            attempt = 0
            while True:
                try:
                    return await call_next(msg)
                except (ValidationError, json.JSONDecodeError, PermanentError) as exc:
                    await self._dead_letter(msg, _reason(exc))
                    return None
                except Exception as exc:
                    attempt += 1
                    if attempt <= settings.handler_retries:
                        log.warning(
                            "%s: attempt %d failed (%s); retrying in %.1fs",
                            consumer,
                            attempt,
                            _reason(exc),
                            delay,
                        )
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 10.0)
                        continue
                    if _is_infrastructure_error(exc):
                        # Not acknowledged: redelivered once the infrastructure is back.
                        log.error("%s: infrastructure unavailable (%s)", consumer, _reason(exc))
                        raise
                    log.exception("%s: giving up on a message", consumer)
                    await self._dead_letter(msg, _reason(exc))
                    return None

        async def _dead_letter(self, msg: Any, reason: str) -> None:
            record = msg.raw_message
            letter = DeadLetter(
                reason=reason,
                consumer=consumer,
                original_topic=record.topic,
                original_partition=record.partition,
                original_offset=record.offset,
                original_key=record.key.decode(errors="replace") if record.key else None,
                original_value_b64=base64.b64encode(msg.body or b"").decode(),
            )
            log.warning(
                "%s: dead-lettered %s[%s]@%s: %s",
                consumer,
                record.topic,
                record.partition,
                record.offset,
                reason,
            )
            try:
                await publisher.publish(
                    letter.model_dump_json().encode(),
                    key=record.key,
                    headers={"schemashift_reason": reason[:200], "schemashift_consumer": consumer},
                )
            except LOST_PRODUCER_ERRORS as exc:
                exit_for_a_new_producer(exc)  # the message stays uncommitted: it comes back

    return DeadLetterMiddleware
