"""The console's session: a signed, expiring cookie that holds the API token (encrypted) and
the session's CSRF token.

The cookie is signed with itsdangerous and the token inside it encrypted with Fernet, each
with its own key derived from the server's secret (never the secret itself): a stolen expired
cookie gives neither a session nor the token. The token is checked against the database on
every request (:func:`schemashift.gateway.tokens.authenticate`), so revoking it ends the
session at the next request.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "schemashift_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the API token it signed in with and its CSRF token."""

    token: str
    csrf: str


class CsrfRefused(Exception):
    """A request that changes something came without the session's CSRF token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SessionCodec:
    """Turns a :class:`Session` into a cookie value and back."""

    def __init__(self, signing_key: bytes, encryption_key: bytes, max_age_s: int) -> None:
        self.max_age_s = max_age_s
        self._signer = URLSafeTimedSerializer(signing_key, salt="schemashift.console.session")
        self._fernet = Fernet(base64.urlsafe_b64encode(encryption_key))

    def new(self, token: str) -> Session:
        """A session for ``token`` with a fresh CSRF token."""
        return Session(token=token, csrf=secrets.token_urlsafe(32))

    def encode(self, session: Session) -> str:
        """The cookie value: signed, with the time it was issued."""
        sealed = self._fernet.encrypt(session.token.encode()).decode()
        return self._signer.dumps({"t": sealed, "c": session.csrf})

    def decode(self, value: str | None) -> Session | None:
        """The session in a cookie value; None when absent, tampered with or expired."""
        if not value:
            return None
        try:
            data = self._signer.loads(value, max_age=self.max_age_s)
            token = self._fernet.decrypt(data["t"].encode()).decode()
            csrf = data["c"]
        except (BadSignature, InvalidToken, KeyError, TypeError, AttributeError):
            return None
        if not isinstance(csrf, str) or not csrf:
            return None
        return Session(token=token, csrf=csrf)


def check_csrf(session: Session, submitted: str | None) -> None:
    """Raise :class:`CsrfRefused` unless ``submitted`` is the session's CSRF token."""
    if not submitted:
        raise CsrfRefused("the form has no CSRF token: reload the page and try again")
    if not hmac.compare_digest(submitted.encode(), session.csrf.encode()):
        raise CsrfRefused("the CSRF token does not match this session: reload the page")
