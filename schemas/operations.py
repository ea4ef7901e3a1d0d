"""Diff operations and generated statements, as data that travels in events.

An :class:`Operation` is one change to one object, Alembic-style: it keeps both the object it
replaces (``old``) and the one it installs (``new``), as catalog-model dicts, so that its inverse
is mechanical (:meth:`Operation.reverse`). The generator orders operations and renders them into
:class:`Statement` objects for one dialect.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemashift.schemas.hazards import Hazard


class OpKind(StrEnum):
    CREATE = "create"
    DROP = "drop"
    ALTER = "alter"


class ObjectType(StrEnum):
    """What an operation changes; ``old``/``new`` hold the matching catalog model as a dict."""

    SCHEMA = "schema"  # old/new: {"name": ...}
    EXTENSION = "extension"
    COLLATION = "collation"
    ENUM = "enum"
    DOMAIN = "domain"
    COMPOSITE_TYPE = "composite_type"
    RANGE_TYPE = "range_type"
    FUNCTION = "function"  # functions and procedures
    SEQUENCE = "sequence"
    TABLE = "table"  # the table with columns, non-FK constraints and indexes
    INHERITANCE = "inheritance"  # a partition's or child's link to its parent (ATTACH/DETACH)
    COLUMN = "column"
    CONSTRAINT = "constraint"  # primary key, unique, check, exclusion
    FOREIGN_KEY = "foreign_key"
    INDEX = "index"
    VIEW = "view"
    MATERIALIZED_VIEW = "materialized_view"
    TRIGGER = "trigger"
    POLICY = "policy"
    STATISTICS = "statistics"  # extended statistics (CREATE STATISTICS)
    PRIVILEGE = "privilege"  # CREATE = GRANT, DROP = REVOKE
    COMMENT = "comment"


_INVERSE_KIND = {OpKind.CREATE: OpKind.DROP, OpKind.DROP: OpKind.CREATE, OpKind.ALTER: OpKind.ALTER}

Direction = Literal["both", "forward", "reverse"]
_INVERSE_DIRECTION: dict[Direction, Direction] = {
    "both": "both",
    "forward": "reverse",
    "reverse": "forward",
}


class Operation(BaseModel):
    """One change to one object: CREATE (new only), DROP (old only) or ALTER (both)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OpKind
    object_type: ObjectType
    schema_name: str | None = None
    name: str
    table: str | None = Field(default=None, description="Owning table of columns/constraints.")
    old: dict[str, Any] | None = None
    new: dict[str, Any] | None = None
    reason: str | None = Field(
        default=None, description="Why an unchanged object is touched (e.g. rebuilt for a type)."
    )
    dependent: bool = Field(
        default=False,
        description="The object is the same on both sides and is dropped and created again "
        "only because something it depends on changes (a view over a column whose type "
        "changes, a foreign key over a rebuilt key): its statements carry dependent_rebuild.",
    )
    direction: Direction = Field(
        default="both",
        description="'reverse': needed only by the script that undoes the migration (e.g. a view "
        "rebuilt around the enum swap that removes a value the migration adds); 'forward': only "
        "by the migration itself (such an operation, reversed).",
    )

    def reverse(self) -> Operation:
        """The operation that undoes this one."""
        return self.model_copy(
            update={
                "kind": _INVERSE_KIND[self.kind],
                "old": self.new,
                "new": self.old,
                "direction": _INVERSE_DIRECTION[self.direction],
            }
        )

    @property
    def forward(self) -> bool:
        """Whether the migration itself runs it (not only its reverse)."""
        return self.direction != "reverse"

    @property
    def label(self) -> str:
        """E.g. ``create_table``: the key of ``DiffSummary.by_kind``."""
        return f"{self.kind.value}_{self.object_type.value}"

    @property
    def qualified_name(self) -> str:
        """``schema.table.name`` without quoting, for messages and ``Statement.object``."""
        parts = [p for p in (self.schema_name, self.table, self.name) if p is not None]
        return ".".join(parts)

    @property
    def obj(self) -> dict[str, Any]:
        """The object as it exists after (or, for drops, before) the operation."""
        value = self.new if self.new is not None else self.old
        assert value is not None, "an operation needs old or new"
        return value


class Statement(BaseModel):
    """One SQL statement of a migration script, with what it risks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sql: str
    kind: str = Field(description="Operation label, e.g. 'alter_column'.")
    object: str = Field(description="Qualified name of the object it changes.")
    hazards: list[Hazard] = Field(default_factory=list)
    transactional: bool = True

    def annotated(self) -> str:
        """The SQL after comment lines that say what it risks, for a DBA reading the script."""
        notes = []
        if self.hazards:
            notes.append("-- hazards: " + ", ".join(h.value for h in self.hazards))
        if not self.transactional:
            notes.append("-- runs on its own, outside the migration's transaction")
        return "\n".join([*notes, self.sql])


class Script(BaseModel):
    """Ordered statements that migrate the target, and those that undo them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    statements: list[Statement] = Field(default_factory=list)
    reverse_statements: list[Statement] = Field(default_factory=list)

    @property
    def hazards(self) -> list[Hazard]:
        """Every hazard of the forward statements, each once, in first-seen order."""
        seen: dict[Hazard, None] = {}
        for statement in self.statements:
            seen.update(dict.fromkeys(statement.hazards))
        return list(seen)

    def sql(self, *, reverse: bool = False) -> str:
        """The forward (or reverse) script as text: one statement per paragraph, each after a
        comment naming its hazards."""
        return "\n\n".join(
            s.annotated() for s in (self.reverse_statements if reverse else self.statements)
        )
