"""API tokens: created and revoked with `schemashift token`, stored as Argon2 hashes.

A token reads ``ss_<id>_<secret>``: the id finds its row, the secret is checked against the
stored Argon2 hash. Argon2 is slow on purpose, so a verified secret is remembered in-process
by its SHA-256; the row (revocation, scopes) is still read on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, DateTime, String, Table, Text, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.db import autocommit, metadata

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("scopes", JSONB, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)


class Scope(StrEnum):
    READ = "read"
    TRIGGER = "trigger"
    APPROVE = "approve"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and what it may do."""

    name: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        """``admin`` may do everything; other scopes only themselves."""
        return Scope.ADMIN in self.scopes or scope in self.scopes


_hasher = PasswordHasher()
_verified: dict[str, str] = {}  # token id → SHA-256 of the secret that matched its hash


class TokenError(ValueError):
    """A token cannot be created or revoked as asked."""


async def create(engine: AsyncEngine, name: str, scopes: set[Scope]) -> str:
    """Create a token and return it; only its hash is stored, so it is shown only now."""
    if not scopes:
        raise TokenError("a token needs at least one scope")
    token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        taken = await conn.execute(select(api_tokens.c.id).where(api_tokens.c.name == name))
        if taken.first() is not None:
            raise TokenError(f"a token named {name!r} exists: revoke it first")
        await conn.execute(
            insert(api_tokens).values(
                id=token_id,
                name=name,
                scopes=sorted(s.value for s in scopes),
                secret_hash=_hasher.hash(secret),
            )
        )
    return f"ss_{token_id}_{secret}"


async def revoke(engine: AsyncEngine, name: str) -> None:
    """Revoke the token ``name`` (it stops working at once) and free its name."""
    async with engine.begin() as conn:
        found = await conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=func.now(), name=api_tokens.c.name + "#revoked-" + api_tokens.c.id)
            .returning(api_tokens.c.id)
        )
        token_id = found.scalar_one_or_none()
    if token_id is None:
        raise TokenError(f"no active token named {name!r}")
    _verified.pop(token_id, None)


# Hot-path statements are built once (see db.py).
_ACTIVE_TOKEN = select(api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.secret_hash).where(
    api_tokens.c.id == bindparam("id"), api_tokens.c.revoked_at.is_(None)
)


async def authenticate(engine: AsyncEngine, token: str) -> Principal | None:
    """The principal of a valid, unrevoked token; None otherwise."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != "ss" or not token_id or not secret or len(token) > 200:
        return None
    async with autocommit(engine) as conn:
        row = (await conn.execute(_ACTIVE_TOKEN, {"id": token_id})).first()
    if row is None:
        return None
    digest = hashlib.sha256(secret.encode()).hexdigest()
    known = _verified.get(token_id)
    if known is None or not hmac.compare_digest(known, digest):
        try:
            _hasher.verify(row.secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return None
        _verified[token_id] = digest
    return Principal(row.name, frozenset(Scope(s) for s in row.scopes))


async def list_tokens(engine: AsyncEngine) -> list[tuple[str, list[str], datetime]]:
    """Active tokens: (name, scopes, created_at)."""
    async with autocommit(engine) as conn:
        rows = await conn.execute(
            select(api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.created_at)
            .where(api_tokens.c.revoked_at.is_(None))
            .order_by(api_tokens.c.name)
        )
        return [(r.name, r.scopes, r.created_at) for r in rows]
