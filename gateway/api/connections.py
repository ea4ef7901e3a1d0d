"""/api/v1/connections: the databases Schemashift may compare and migrate, by name."""

from __future__ import annotations

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncEngine

from schemashift.consumers.common import connections as registry
from schemashift.consumers.common.redact import redact_url
from schemashift.gateway.api.deps import Admin, Engine, Reader
from schemashift.gateway.api.models import ConnectionIn, ConnectionOut

router = APIRouter(prefix="/connections", tags=["connections"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_connection(body: ConnectionIn, engine: Engine, _: Admin) -> ConnectionOut:
    """Register (or replace) a named connection; the response masks its password."""
    return await register(engine, body)


async def register(engine: AsyncEngine, body: ConnectionIn) -> ConnectionOut:
    """Store the connection (the caller has checked the admin scope); it as shown, masked."""
    created_at = await registry.register(engine, body.name, body.url)
    return ConnectionOut(
        name=body.name,
        dialect=registry.dialect_of(body.url),
        url=redact_url(body.url),
        created_at=created_at,
    )


@router.get("")
async def list_connections(engine: Engine, _: Reader) -> list[ConnectionOut]:
    """Every registered connection, passwords masked."""
    return [ConnectionOut.from_row(row) for row in await registry.list_all(engine)]
