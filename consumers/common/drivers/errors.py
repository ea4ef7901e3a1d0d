"""Why a database could not be read or reached, in words safe to publish.

Every driver translates its own exceptions into these (:meth:`Driver.translate_error`), with a
one-line reason that never contains the password of the URL (it is redacted to ``***``).
"""

from __future__ import annotations

from urllib.parse import unquote

from schemashift.consumers.common.redact import redact_text, url_password

__all__ = [
    "AuthenticationFailed",
    "IntrospectionError",
    "Unreachable",
    "UnsupportedDialect",
    "scrub",
]


class IntrospectionError(Exception):
    """Reading a database's schema failed; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unreachable(IntrospectionError):
    """The server could not be reached (refused, timed out, unknown host, ...)."""


class AuthenticationFailed(IntrospectionError):
    """The server rejected the credentials."""


class UnsupportedDialect(IntrospectionError):
    """The URL's scheme names a database this engine cannot read."""


def scrub(text: str, url: str) -> str:
    """``text`` on one line, without the URL's password (raw or percent-decoded)."""
    password = url_password(url)
    return " ".join(redact_text(text, password, unquote(password or "")).split())
