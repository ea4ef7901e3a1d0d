"""Request and response bodies of the REST API (validated strictly: unknown fields are refused)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemashift.consumers.common.connections import dialect_of
from schemashift.schemas.events import EngineOptions, MigrationStatus, Mode
from schemashift.schemas.hazards import Hazard

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class Problem(BaseModel):
    """An error answer: what went wrong, in one sentence."""

    detail: str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConnectionIn(_Strict):
    name: str = Field(pattern=NAME_PATTERN, description="How events and requests refer to it.")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Database URL, e.g. postgresql://user:password@host:5432/db",
        examples=["postgresql://app:secret@db.internal:5432/app"],
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, url: str) -> str:
        dialect_of(url)
        return url


class ConnectionOut(BaseModel):
    name: str
    dialect: str
    url: str = Field(description="The URL with its password masked.")
    created_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ConnectionOut:
        return cls(
            name=row["name"],
            dialect=row["dialect"],
            url=row["display_url"],
            created_at=row["created_at"],
        )


class ComparisonIn(_Strict):
    source: str = Field(pattern=NAME_PATTERN, description="Connection with the desired schema.")
    target: str = Field(pattern=NAME_PATTERN, description="Connection to change.")
    mode: Mode = Field(default=Mode.PLAN, description="plan: wait for approval; apply: run.")
    allow_hazards: list[Hazard] = Field(default_factory=list, max_length=len(Hazard))
    options: EngineOptions = Field(
        default_factory=EngineOptions, description="Engine behaviours to turn on (all off)."
    )


class Links(BaseModel):
    self: str
    events: str
    approve: str
    reject: str
    rollback: str


class ComparisonAccepted(BaseModel):
    migration_id: uuid.UUID
    status: MigrationStatus
    links: Links


class MigrationOut(BaseModel):
    id: uuid.UUID
    source: str | None
    target: str
    mode: str | None
    status: MigrationStatus
    summary: dict[str, Any] | None = None
    statements: list[dict[str, Any]] | None = None
    reverse_statements: list[dict[str, Any]] | None = None
    hazards: list[str] | None = None
    checksum: str | None = None
    progress: int = 0
    total: int | None = None
    error: dict[str, Any] | None = None
    approved_by: str | None = None
    rejected_by: str | None = None
    rollback_of: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime
    applied_at: datetime | None = None


class MigrationPage(BaseModel):
    items: list[MigrationOut]
    limit: int
    offset: int


class ApprovalIn(_Strict):
    """The approver is the token's name; a comment may say why."""

    comment: str | None = Field(default=None, max_length=1000)


class RejectionIn(_Strict):
    """The rejecter is the token's name; a comment may say why."""

    comment: str | None = Field(default=None, max_length=1000)


class RollbackIn(_Strict):
    """The requester is the token's name; a comment may say why."""

    comment: str | None = Field(default=None, max_length=1000)
    mode: Mode = Field(default=Mode.PLAN, description="plan: wait for approval; apply: run.")
    allow_hazards: list[Hazard] = Field(default_factory=list, max_length=len(Hazard))
    options: EngineOptions = Field(
        default_factory=EngineOptions,
        description="Only concurrent_indexes applies: a rollback's operations are given.",
    )


class ReplayIn(_Strict):
    """At least one filter: a migration, a target or a time range."""

    migration_id: uuid.UUID | None = None
    target: str | None = Field(default=None, pattern=NAME_PATTERN)
    since: datetime | None = None
    until: datetime | None = None
    topic: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,200}$",
        description="Where to publish; default schemashift.replay. Pipeline topics are refused.",
    )


class ReplayOut(BaseModel):
    topic: str
    published: int
