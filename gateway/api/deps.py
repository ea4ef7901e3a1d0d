"""FastAPI dependencies: the process-wide engine, broker and settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from consumers.common.settings import Settings


def _engine(request: Request) -> AsyncEngine:
    return request.app.state.engine


def _broker(request: Request) -> KafkaBroker:
    return request.app.state.broker


def _settings(request: Request) -> Settings:
    return request.app.state.settings


Engine = Annotated[AsyncEngine, Depends(_engine)]
Broker = Annotated[KafkaBroker, Depends(_broker)]
AppSettings = Annotated[Settings, Depends(_settings)]
