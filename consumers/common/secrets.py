"""Encryption at rest of connection URLs (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from ``SCHEMASHIFT_SECRET_KEY`` or from the key file (``.schemashift/secret.key``
by default, created with mode 0600 by `schemashift infra up`). The gateway only encrypts;
the comparator and the executor decrypt, just before they connect.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from schemashift.consumers.common.settings import get_settings


class SecretKeyMissing(RuntimeError):
    """No encryption key is configured."""


def create_key_file(path: Path) -> bool:
    """Create a new random key at ``path`` (mode 0600) unless one exists; True if created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key())
    return True


@lru_cache
def _fernet() -> Fernet:
    settings = get_settings()
    if settings.secret_key is not None:
        return Fernet(settings.secret_key.get_secret_value().encode())
    path = Path(settings.secret_key_file)
    if not path.exists():
        raise SecretKeyMissing(
            f"no encryption key: set SCHEMASHIFT_SECRET_KEY or create {path} "
            "(`schemashift infra up` does)"
        )
    return Fernet(path.read_bytes().strip())


def encrypt(plaintext: str) -> str:
    """``plaintext`` encrypted and authenticated, as URL-safe text."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext of :func:`encrypt`'s output; ValueError if the key does not match."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "cannot decrypt: the secret key does not match the one it was stored with"
        ) from None
