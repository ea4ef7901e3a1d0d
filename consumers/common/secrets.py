"""Encryption at rest of connection URLs (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from ``SCHEMASHIFT_SECRET_KEY`` or from the key file (``.schemashift/secret.key``
by default, created with mode 0600 by `schemashift infra up`). The gateway encrypts, and
decrypts only to read a target's schema for the console; the comparator and the executor decrypt
just before they connect. Other uses of the server's
secret (the console's session cookies) get keys derived from it (:func:`derive_key`), never the
key itself.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

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


def _key() -> bytes:
    settings = get_settings()
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.secret_key_file)
    if not path.exists():
        raise SecretKeyMissing(
            f"no encryption key: set SCHEMASHIFT_SECRET_KEY or create {path} "
            "(`schemashift infra up` does)"
        )
    return path.read_bytes().strip()


@lru_cache
def _fernet() -> Fernet:
    return Fernet(_key())


@lru_cache
def derive_key(purpose: str) -> bytes:
    """32 bytes derived from the server's secret for ``purpose`` alone (HKDF-SHA256): a key
    for one use tells nothing of the secret or of the keys for other uses."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"schemashift",
        info=f"schemashift/{purpose}".encode(),
    ).derive(_key())


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
