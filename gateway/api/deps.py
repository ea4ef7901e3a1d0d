"""FastAPI dependencies: the process-wide engine, broker, settings and notifications, and who
is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common.settings import Settings
from schemashift.gateway import tokens
from schemashift.gateway.api.notifications import Notifications
from schemashift.gateway.tokens import Principal, Scope


# Async, though they only read app.state: FastAPI runs a plain ``def`` dependency in a worker
# thread, a hand-off that costs more than the lookup.
async def _engine(request: Request) -> AsyncEngine:
    return request.app.state.engine


async def _broker(request: Request) -> KafkaBroker:
    return request.app.state.broker


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _notifications(request: Request) -> Notifications:
    return request.app.state.notifications


Engine = Annotated[AsyncEngine, Depends(_engine)]
Broker = Annotated[KafkaBroker, Depends(_broker)]
AppSettings = Annotated[Settings, Depends(_settings)]
Notified = Annotated[Notifications, Depends(_notifications)]

_bearer = HTTPBearer(auto_error=False, description="A token from `schemashift token create`.")


def authorize(who: Principal | None, scope: Scope) -> Principal:
    """``who`` if it may act with ``scope``: HTTPException 401 without a principal, 403 when
    it lacks the scope. The REST API and the console decide with it alike."""
    if who is None:
        raise HTTPException(
            401,
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not who.allows(scope):
        raise HTTPException(403, f"the token {who.name!r} lacks the {scope.value!r} scope")
    return who


def require(scope: Scope):
    """A dependency that admits a valid token with ``scope`` (401 without one, 403 without it)."""

    async def principal(
        engine: Engine,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        who = await tokens.authenticate(engine, credentials.credentials) if credentials else None
        return authorize(who, scope)

    return Depends(principal)


Reader = Annotated[Principal, require(Scope.READ)]
Trigger = Annotated[Principal, require(Scope.TRIGGER)]
Approver = Annotated[Principal, require(Scope.APPROVE)]
Admin = Annotated[Principal, require(Scope.ADMIN)]
