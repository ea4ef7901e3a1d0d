"""MySQL and MariaDB events as catalog :class:`ScheduledEvent` objects.

Read in bulk from ``information_schema.EVENTS``, with the times converted to UTC by the server
in the same query: ``EXECUTE_AT``, ``STARTS`` and ``ENDS`` are shown in the event's own time
zone (the session's when it was created), ``CREATED`` and ``LAST_ALTERED`` in the reading
session's. An event's ``definition`` is the runnable ``CREATE EVENT`` text in one normal form,
the comparison basis: no DEFINER (who created it is no schema fact) and no database name (the
body's `` `db`. `` before names is removed), every clause written as ``SHOW CREATE EVENT``
orders them, and each time as its UTC instant converted to the running session's time zone
(``CONVERT_TZ('2035-01-01 00:00:00', '+00:00', @@time_zone)``), so that an event created on a
server or session in another time zone compares by when it runs.

How a schedule compares:

- ``STARTS`` defaults to the moment an ``EVERY`` event is created, or given a new schedule by
  ``ALTER EVENT ... ON SCHEDULE``, and ``information_schema`` then shows that moment. A
  ``STARTS`` equal (to the second) to ``CREATED`` or ``LAST_ALTERED`` is taken as not given and
  left out, so that two events created alike at different times compare equal. Limits: an
  explicit ``STARTS`` of that very second reads as none (it means the same then); a schedule
  change followed by another ``ALTER EVENT`` leaves a ``STARTS`` that is neither and reads as
  given (the migration then writes the schedule again, restarting the cycle). The cycle's
  phase of an event without ``STARTS`` (the time of day a daily event runs) is not compared.
- An event is *done* once its time has passed by the server's clock at reading: a one-time
  event after ``AT``, a recurring one after ``ENDS``. The server creates a done event disabled
  when it is ``ON COMPLETION PRESERVE`` (an enabled one is read as ``DISABLE``) and drops it at
  once when it is not; a done event that is not preserved is therefore left out (the scheduler
  drops it too). Limit: a done event the scheduler has not run yet (it was off) would still run
  once; that is not compared.

Not compared: the ``sql_mode``, time zone and client character set an event was created under,
when it last ran, and the server it was created on (``ORIGINATOR``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.common.drivers.mysql import DRIVER, literal
from schemashift.schemas.catalog import EventStatus, ScheduledEvent

q = DRIVER.sql_dialect.identifier_preparer.quote_identifier

_UTC = "'+00:00'"
EVENTS = (
    "SELECT *, "
    f"CONVERT_TZ(EXECUTE_AT, TIME_ZONE, {_UTC}) AS EXECUTE_AT_UTC, "
    f"CONVERT_TZ(STARTS, TIME_ZONE, {_UTC}) AS STARTS_UTC, "
    f"CONVERT_TZ(ENDS, TIME_ZONE, {_UTC}) AS ENDS_UTC, "
    f"CONVERT_TZ(CREATED, @@session.time_zone, {_UTC}) AS CREATED_UTC, "
    f"CONVERT_TZ(LAST_ALTERED, @@session.time_zone, {_UTC}) AS LAST_ALTERED_UTC, "
    "UTC_TIMESTAMP() AS NOW_UTC "
    "FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s ORDER BY EVENT_NAME"
)

# STATUS as information_schema shows it (MySQL 8.4 says REPLICA_SIDE_DISABLED).
_STATUS: dict[str, EventStatus] = {
    "ENABLED": "ENABLE",
    "DISABLED": "DISABLE",
    "SLAVESIDE_DISABLED": "DISABLE ON SLAVE",
    "REPLICA_SIDE_DISABLED": "DISABLE ON SLAVE",
}
_PLAIN_NUMBER = re.compile(r"-?\d+")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def instant(utc: datetime) -> str:
    """A UTC time as event clauses take it in a session of any time zone."""
    return f"CONVERT_TZ('{utc:%Y-%m-%d %H:%M:%S}', {_UTC}, @@time_zone)"


def _utc(row: dict[str, Any], column: str) -> datetime | None:
    """``column`` of ``row`` in UTC; the server cannot convert a named time zone whose
    tables are not loaded."""
    if row.get(column) is None:
        return None
    converted = row.get(f"{column}_UTC")
    if not isinstance(converted, datetime):
        raise IntrospectionError(
            f"cannot read the {column} time of event {_text(row['EVENT_NAME'])}: the server "
            f"cannot convert its time zone {row.get('TIME_ZONE')} to UTC (load the time zone "
            "tables, mysql_tzinfo_to_sql)"
        )
    return converted


def _interval(value: Any) -> str:
    """``EVERY``'s quantity: a plain number bare, anything else (``'1 4'`` of DAY_HOUR) quoted."""
    text = _text(value).strip()
    if len(text) > 1 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return text if _PLAIN_NUMBER.fullmatch(text) else literal(text)


def _schedule(row: dict[str, Any]) -> str:
    if row["EVENT_TYPE"] != "RECURRING":
        at = _utc(row, "EXECUTE_AT")
        assert at is not None, "a one-time event has a time"
        return f"AT {instant(at)}"
    text = f"EVERY {_interval(row['INTERVAL_VALUE'])} {row['INTERVAL_FIELD']}"
    starts = _utc(row, "STARTS")
    implicit = (row.get("CREATED_UTC"), row.get("LAST_ALTERED_UTC"))
    if starts is not None and starts not in implicit:
        text += f" STARTS {instant(starts)}"
    ends = _utc(row, "ENDS")
    if ends is not None:
        text += f" ENDS {instant(ends)}"
    return text


def _done(row: dict[str, Any]) -> bool:
    """Whether the event's last time has passed by the server's clock."""
    last = _utc(row, "ENDS" if row["EVENT_TYPE"] == "RECURRING" else "EXECUTE_AT")
    now = row.get("NOW_UTC")
    return last is not None and isinstance(now, datetime) and last <= now


def build_events(database: str, rows: list[dict[str, Any]]) -> list[ScheduledEvent]:
    """The events of ``database`` from the rows of :data:`EVENTS` (see the module for the
    normal form and the events left out)."""
    found = []
    for row in rows:
        preserve = row["ON_COMPLETION"] == "PRESERVE"
        status = _STATUS.get(_text(row["STATUS"]).upper(), "DISABLE")
        if _done(row):
            if not preserve:
                continue
            if status == "ENABLE":
                status = "DISABLE"
        name = _text(row["EVENT_NAME"])
        comment = _text(row["EVENT_COMMENT"]) if row.get("EVENT_COMMENT") else None
        body = _text(row["EVENT_DEFINITION"]).replace(f"{q(database)}.", "")
        schedule = _schedule(row)
        lines = [
            f"CREATE EVENT {q(name)}",
            f"    ON SCHEDULE {schedule}",
            f"    ON COMPLETION {'PRESERVE' if preserve else 'NOT PRESERVE'}",
            f"    {status}",
        ]
        if comment is not None:
            lines.append(f"    COMMENT {literal(comment)}")
        lines.append(f"    DO {body}")
        found.append(
            ScheduledEvent.trusted(
                schema_name=database,
                name=name,
                definition="\n".join(lines),
                schedule=schedule,
                preserve=preserve,
                status=status,
                comment=comment,
                body=body,
            )
        )
    return found
