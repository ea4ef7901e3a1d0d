"""Keep credentials out of events, logs and API responses."""

from __future__ import annotations

import logging
import re

# user:password@ inside any URL-looking text, e.g. in a driver's error message. The password
# runs to the last "@" of the URL: one typed without percent-encoding may contain "@" and "/"
# (an "@" further on, in a path or query, masks more than the password, never less).
_USERINFO = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>\S*)@(?=[^@\s]*(?:\s|$))",
    re.I,
)
_PASSWORD_KV = re.compile(r"(?P<key>password\s*=\s*)(?P<pw>'[^']*'|\"[^\"]*\"|\S+)", re.I)


# password=... in a URL's query string (libpq and asyncpg accept the password there too).
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&](?:ssl)?password=)(?P<pw>[^&#]*)", re.I)


def redact_url(url: str) -> str:
    """``url`` with its passwords (``user:pw@`` and ``?password=``) replaced by ``***``.

    Textual on purpose: it must also mask URLs that a parser refuses (several hosts, odd ports).
    """
    url = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['key']}***", url)


def redact_text(text: str, *secrets: str | None) -> str:
    """``text`` with every URL password, ``password=...`` pair and each given secret masked."""
    text = redact_url(text)
    text = _PASSWORD_KV.sub(lambda m: f"{m['key']}***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def url_password(url: str) -> str | None:
    """The password inside ``url`` (userinfo or query), if any, to mask wherever it echoes."""
    match = _USERINFO.search(url) or _QUERY_PASSWORD.search(url)
    return match["pw"] if match and match["pw"] else None


class RedactingFormatter(logging.Formatter):
    """A formatter whose output (message and traceback) never shows a URL password."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def install_log_redaction() -> None:
    """Redact passwords from every log record any library creates, and from our handlers'
    formatted output (tracebacks included)."""
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.args:
            record.msg, record.args = record.getMessage(), ()
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        return record

    logging.setLogRecordFactory(redacting_factory)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(
            RedactingFormatter(handler.formatter._fmt if handler.formatter else None)
        )
