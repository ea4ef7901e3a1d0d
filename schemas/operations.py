"""Diff operations and generated statements, as data that travels in events.

An :class:`Operation` is one change to one object, Alembic-style: it keeps both the object it
replaces (``old``) and the one it installs (``new``), each the catalog model of its
``object_type`` (:data:`MODELS`), so that its inverse is mechanical (:meth:`Operation.reverse`).
What the comparator knew about a side that its object does not hold (the columns an enum swap
converts, the relations a function body reads, ...) travels beside it as :class:`Hints`. The
generator orders operations and renders them into :class:`Statement` objects for one dialect.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from schemashift.schemas.catalog import (
    CatalogModel,
    CheckConstraint,
    Collation,
    Column,
    Comment,
    CompositeType,
    Domain,
    EnumType,
    ExclusionConstraint,
    Extension,
    ForeignKey,
    Function,
    Index,
    InheritanceLink,
    Policy,
    PrimaryKey,
    Privilege,
    RangeType,
    ScheduledEvent,
    Schema,
    Sequence,
    Statistics,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from schemashift.schemas.hazards import Hazard


class OpKind(StrEnum):
    CREATE = "create"
    DROP = "drop"
    ALTER = "alter"


class ObjectType(StrEnum):
    """What an operation changes; ``old``/``new`` hold the catalog model :data:`MODELS` names."""

    SCHEMA = "schema"
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
    EVENT = "event"  # MySQL/MariaDB scheduled events


KeyConstraint = Annotated[
    PrimaryKey | UniqueConstraint | CheckConstraint | ExclusionConstraint,
    Field(discriminator="kind"),
]

MODELS: dict[ObjectType, Any] = {
    ObjectType.SCHEMA: Schema,
    ObjectType.EXTENSION: Extension,
    ObjectType.COLLATION: Collation,
    ObjectType.ENUM: EnumType,
    ObjectType.DOMAIN: Domain,
    ObjectType.COMPOSITE_TYPE: CompositeType,
    ObjectType.RANGE_TYPE: RangeType,
    ObjectType.FUNCTION: Function,
    ObjectType.SEQUENCE: Sequence,
    # CREATE/DROP: the table as CREATE TABLE makes it (foreign keys are operations of their own,
    # inherited columns the parent's). ALTER: the table without its columns, constraints and
    # indexes, which have operations of their own; old and new differ in what it changes.
    ObjectType.TABLE: Table,
    ObjectType.INHERITANCE: InheritanceLink,
    ObjectType.COLUMN: Column,
    ObjectType.CONSTRAINT: KeyConstraint,
    ObjectType.FOREIGN_KEY: ForeignKey,
    ObjectType.INDEX: Index,
    ObjectType.VIEW: View,
    ObjectType.MATERIALIZED_VIEW: View,
    ObjectType.TRIGGER: Trigger,
    ObjectType.POLICY: Policy,
    ObjectType.STATISTICS: Statistics,
    ObjectType.PRIVILEGE: Privilege,
    ObjectType.COMMENT: Comment,
    ObjectType.EVENT: ScheduledEvent,
}
"""The catalog model of each object type: what ``Operation.old`` and ``.new`` hold."""

_ADAPTERS = {t: TypeAdapter(m) for t, m in MODELS.items()}
_KEY_CONSTRAINTS = (PrimaryKey, UniqueConstraint, CheckConstraint, ExclusionConstraint)
_CLASSES: dict[ObjectType, tuple[type, ...]] = {
    t: _KEY_CONSTRAINTS if t is ObjectType.CONSTRAINT else (m,) for t, m in MODELS.items()
}

CatalogObject = (
    Schema
    | Extension
    | Collation
    | EnumType
    | Domain
    | CompositeType
    | RangeType
    | Function
    | Sequence
    | Table
    | InheritanceLink
    | Column
    | PrimaryKey
    | UniqueConstraint
    | CheckConstraint
    | ExclusionConstraint
    | ForeignKey
    | Index
    | View
    | Trigger
    | Policy
    | Statistics
    | Privilege
    | Comment
    | ScheduledEvent
)


def _model_as_is(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # Objects arrive as models (from the comparators, or made from dicts by the operation's
    # validator): checking one against each member of the union costs more than the rest of
    # building an operation.
    return value if isinstance(value, CatalogModel) else handler(value)


Side = Annotated[CatalogObject | None, WrapValidator(_model_as_is)]

M = TypeVar("M", bound=CatalogModel)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TypeUser(_Frozen):
    """A column whose type an enum swap converts (through text)."""

    schema_name: str
    table: str
    column: str
    type: str = Field(description="The column's type as format_type() names it.")
    default: str | None = Field(default=None, description="Dropped before, set after.")


class SwappedDomain(_Frozen):
    """A domain over a swapped enum: dropped and created again over the new type."""

    domain: Domain
    comment: str | None = Field(default=None, description="Set again on the new domain.")
    used_by: list[TypeUser] = Field(default_factory=list)


class TableState(_Frozen):
    """MySQL/MariaDB: what decides how the server can change a table in place (the ALGORITHM
    and LOCK of its ALTER TABLE): the server, and the table's facts on one side."""

    server: str | None = Field(description="SELECT VERSION() of the target's server.")
    engine: str | None = Field(default=None, description="ENGINE, e.g. 'InnoDB'.")
    row_format: str | None = Field(default=None, description="ROW_FORMAT, if set.")
    charset: str | None = Field(default=None, description="The table's default character set.")
    fulltext: bool = Field(
        default=False, description="It has a FULLTEXT index or an FTS_DOC_ID column."
    )
    indexed_virtual: bool = Field(
        default=False, description="An index or key covers one of its virtual columns."
    )
    key_columns: list[str] = Field(
        default_factory=list, description="The columns of its primary key."
    )
    indexed_columns: list[str] = Field(
        default_factory=list, description="The columns any of its keys and indexes covers."
    )


class Hints(_Frozen):
    """What the comparator knew about one side of an operation that its object does not hold:
    facts of the surrounding schema that decide the order or the SQL. Each field names the
    object types it is set on; the others keep the default."""

    references: list[list[str]] = Field(
        default_factory=list,
        description="function: [schema, relation] of the tables and views its body or "
        "signature names, which must exist first (it is created with the views).",
    )
    swapped_types: list[list[str]] = Field(
        default_factory=list,
        description="function: [schema, type] of the types its signature uses that an enum "
        "swap replaces (it is dropped before the swap and created after it).",
    )
    partitioned: bool = Field(
        default=False,
        description="index: its table is partitioned, so it cannot be built CONCURRENTLY.",
    )
    on_view: bool = Field(
        default=False,
        description="index: of a materialized view (created after the view).",
    )
    parent_checks: list[str] | None = Field(
        default=None,
        description="inheritance: the parent's inheritable CHECK constraints, which the table "
        "must have before it is attached; None when the parent is not in the catalog.",
    )
    used_by: list[TypeUser] = Field(
        default_factory=list,
        description="enum: the columns of the type (or an array of it) that a swap converts.",
    )
    domains: list[SwappedDomain] = Field(
        default_factory=list, description="enum: the domains over it, swapped with it."
    )
    fresh: bool = Field(
        default=False,
        description="privilege: on an object the migration creates or recreates (granted "
        "after it exists).",
    )
    revoke: bool = Field(
        default=False,
        description="privilege (ALTER): revoked again after its object is recreated, instead "
        "of granted again.",
    )
    table_state: TableState | None = Field(
        default=None,
        description="table (ALTER), column, constraint, foreign key, index (MySQL): the "
        "target's server and the table as it is on this side (old: before the migration, new: "
        "after it), which decide how the ALTER TABLE can run in place.",
    )


NO_HINTS = Hints()

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
    old: Side = Field(
        default=None, description="The object as the target has it (the model of object_type)."
    )
    new: Side = Field(default=None, description="The object as the migration leaves it.")
    old_hints: Hints | None = Field(default=None, description="Hints about the old side.")
    new_hints: Hints | None = Field(default=None, description="Hints about the new side.")
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

    @model_validator(mode="before")
    @classmethod
    def _objects_of_their_type(cls, data: Any) -> Any:
        # A dict side (an event read back, a test) becomes the model of the object type, which
        # a plain union of the models could not choose.
        if not isinstance(data, dict) or "object_type" not in data:
            return data
        sides = [s for s in ("old", "new") if isinstance(data.get(s), dict)]
        if not sides:
            return data
        object_type = ObjectType(data["object_type"])
        data = _from_untyped_sides(object_type, data, sides)
        adapter = _ADAPTERS[object_type]
        return {**data, **{s: adapter.validate_python(data[s]) for s in sides}}

    @model_validator(mode="after")
    def _sides_match_the_object_type(self) -> Operation:
        wanted = _CLASSES[self.object_type]
        for side in (self.old, self.new):
            if side is not None and not isinstance(side, wanted):
                raise ValueError(
                    f"a {self.object_type.value} operation holds {type(side).__name__}, "
                    f"not {' or '.join(c.__name__ for c in wanted)}"
                )
        return self

    def reverse(self) -> Operation:
        """The operation that undoes this one."""
        return self.model_copy(
            update={
                "kind": _INVERSE_KIND[self.kind],
                "old": self.new,
                "new": self.old,
                "old_hints": self.new_hints,
                "new_hints": self.old_hints,
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
    def obj(self) -> CatalogObject:
        """The object as it exists after (or, for drops, before) the operation."""
        value = self.new if self.new is not None else self.old
        assert value is not None, "an operation needs old or new"
        return value

    @property
    def hints(self) -> Hints:
        """The hints of :attr:`obj`'s side."""
        hints = self.new_hints if self.new is not None else self.old_hints
        return hints or NO_HINTS

    def obj_as(self, model: type[M]) -> M:
        """:attr:`obj`, checked to be a ``model`` (for the type checker and for safety)."""
        return _checked(self, self.obj, model)

    def old_as(self, model: type[M]) -> M:
        """``old``, checked to be a ``model``."""
        return _checked(self, self.old, model)

    def new_as(self, model: type[M]) -> M:
        """``new``, checked to be a ``model``."""
        return _checked(self, self.new, model)


# Events stored before operations were typed kept the hints inside the objects, under these
# keys, and an ALTER of a table held only the flags it changed.
_UNTYPED_HINTS = {
    "references": "references",
    "swapped_types": "swapped_types",
    "partitioned": "partitioned",
    "on_view": "on_view",
    "checks": "parent_checks",
    "used_by": "used_by",
    "domains": "domains",
    "fresh": "fresh",
    "revoke": "revoke",
}


def _from_untyped_sides(
    object_type: ObjectType, data: dict[str, Any], sides: list[str]
) -> dict[str, Any]:
    """``data`` with its sides in the shape of the catalog models, when an event of the log
    has them in the earlier untyped shape (their replay and rollback must keep working)."""
    data = dict(data)
    for side in sides:
        obj: dict[str, Any] = data[side]
        if object_type is ObjectType.TABLE and "name" not in obj:
            obj = {"schema_name": data.get("schema_name"), "name": data.get("name"), **obj}
        found = obj.keys() & _UNTYPED_HINTS.keys()
        if object_type in (ObjectType.TABLE, ObjectType.COLUMN) or not found:
            data[side] = obj
            continue
        hints = {_UNTYPED_HINTS[k]: obj[k] for k in found}
        data[side] = {k: v for k, v in obj.items() if k not in found}
        data[f"{side}_hints"] = {**(data.get(f"{side}_hints") or {}), **hints}
    return data


def _checked(op: Operation, value: object, model: type[M]) -> M:
    if not isinstance(value, model):
        held = type(value).__name__
        raise TypeError(f"{op.label} {op.qualified_name} holds {held}, not {model.__name__}")
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
