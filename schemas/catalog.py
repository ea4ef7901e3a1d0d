"""The catalog model: a database schema as plain, immutable data (no I/O here).

Introspectors fill it, the differ compares two of them, events carry them as JSON. Text that
PostgreSQL renders itself (column types from ``format_type``, defaults from ``pg_get_expr``,
constraint and index definitions from ``pg_get_constraintdef``/``pg_get_indexdef``) is kept
verbatim: it is both the canonical comparison basis and ready-to-run SQL. Parsed fields next to
it (columns, referenced table, actions, ...) serve ordering and humans.

Every kind of object lives in its own list on :class:`Catalog` and has a ``key`` tuple; new
kinds plug in as one more model plus one more list.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticUndefined

from schemashift.schemas.dialects import Dialect

Key = tuple[str, ...]

FkAction = Literal["no action", "restrict", "cascade", "set null", "set default"]
FkMatch = Literal["simple", "full", "partial"]


class CatalogModel(BaseModel):
    """Base of all catalog objects: immutable and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    def __eq__(self, other: object) -> bool:
        # BaseModel.__eq__ with its generic-model and extra/private checks left out (catalog
        # models have none): the differ compares every object of both catalogs.
        if type(other) is not type(self):
            return NotImplemented
        mine, theirs = self.__dict__, other.__dict__
        if mine == theirs:
            return True
        if len(mine) == len(theirs) == len(type(self).__pydantic_fields__):
            return False
        return super().__eq__(other)  # a cached property in a __dict__: fields only

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """An instance from ``values`` that already have the fields' types: no validation.

        For introspectors, which build hundreds of thousands of objects from catalog rows of
        known types. Several times faster than ``model_construct``, and the instances of a class
        share one fields-set (holding every field, so a ``model_copy`` update cannot change it),
        which more than halves their memory. Missing fields take their defaults; unknown ones
        raise ``TypeError``.
        """
        return cls.trusted_dict(values)

    @classmethod
    def trusted_dict(cls, values: dict[str, Any]) -> Self:
        """:meth:`trusted` taking the dict itself, which becomes the instance's ``__dict__``."""
        spec = _TRUSTED.get(cls) or _trusted_spec(cls)
        if values.keys() != spec.names:
            if not values.keys() <= spec.names:
                unknown = ", ".join(sorted(values.keys() - spec.names))
                raise TypeError(f"{cls.__name__} has no field {unknown}")
            for name in spec.names - values.keys():
                values[name] = spec.defaults[name]()
        obj = _new(cls)
        _set(obj, "__dict__", values)
        _set(obj, "__pydantic_fields_set__", spec.names_set)
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", None)
        return obj


_new = object.__new__
_set = object.__setattr__


class _TrustedSpec:
    """Per-class data of :meth:`CatalogModel.trusted`."""

    def __init__(self, cls: type[BaseModel]) -> None:
        self.names = frozenset(cls.model_fields)
        self.names_set = set(self.names)
        self.defaults: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if info.default_factory is not None:
                self.defaults[name] = info.default_factory
            elif info.default is not PydanticUndefined:
                self.defaults[name] = lambda value=info.default: value
            else:
                self.defaults[name] = _required(cls, name)


def _required(cls: type[BaseModel], name: str) -> Any:
    def missing() -> Any:
        raise TypeError(f"{cls.__name__}.{name} is required")

    return missing


_TRUSTED: dict[type[BaseModel], _TrustedSpec] = {}


def _trusted_spec(cls: type[BaseModel]) -> _TrustedSpec:
    spec = _TRUSTED[cls] = _TrustedSpec(cls)
    return spec


# --- columns -------------------------------------------------------------------------------


class Identity(CatalogModel):
    """``GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY`` and the options of its sequence."""

    generation: Literal["always", "by default"]
    start: int = 1
    increment: int = 1
    min_value: int | None = None
    max_value: int | None = None
    cache: int = 1
    cycle: bool = False


class Column(CatalogModel):
    """A table column. ``type``, ``default``, ``collation`` and ``generated`` are SQL text."""

    name: str
    type: str = Field(description="As format_type() renders it, e.g. 'character varying(20)'.")
    not_null: bool = False
    default: str | None = None
    collation: str | None = Field(
        default=None, description="Quoted collation name, only when not the type's default."
    )
    identity: Identity | None = None
    generated: str | None = Field(default=None, description="Expression of a generated column.")
    virtual: bool = Field(
        default=False,
        description="The generated column is VIRTUAL (PostgreSQL 18+): computed when read.",
    )
    not_null_name: str | None = Field(
        default=None,
        description="Name of the column's NOT NULL constraint when the server names them "
        "(PostgreSQL 18+) and it is not the default <table>_<column>_not_null.",
    )
    # MySQL/MariaDB only (None/False elsewhere); there ``collation`` is the bare collation name.
    charset: str | None = Field(
        default=None,
        description="MySQL: CHARACTER SET of a string column, only when it (or the collation) "
        "is not the table's default.",
    )
    on_update: str | None = Field(
        default=None, description="MySQL: ON UPDATE expression, e.g. 'current_timestamp()'."
    )
    auto_increment: bool = Field(default=False, description="MySQL: AUTO_INCREMENT column.")
    comment: str | None = Field(default=None, description="MySQL: the column's COMMENT.")
    invisible: bool = Field(
        default=False,
        description="MySQL 8.0.23+ and MariaDB 10.3.3+: INVISIBLE, left out of SELECT * and of "
        "INSERT without a column list.",
    )


# --- constraints ---------------------------------------------------------------------------


class TableConstraint(CatalogModel):
    """What every constraint of a table has; the subclasses are its kinds."""

    name: str
    definition: str = Field(
        description="pg_get_constraintdef() text without NOT VALID; the comparison basis. "
        "SQLite: the constraint as CREATE TABLE declares it, with its CONSTRAINT name when "
        "it has one."
    )
    columns: list[str] = Field(default_factory=list)
    deferrable: bool = False
    initially_deferred: bool = False
    valid: bool = Field(
        default=True,
        description="False for a CHECK or foreign key added NOT VALID and not "
        "validated since (convalidated).",
    )


class PrimaryKey(TableConstraint):
    kind: Literal["primary_key"] = "primary_key"


class UniqueConstraint(TableConstraint):
    kind: Literal["unique"] = "unique"


class CheckConstraint(TableConstraint):
    kind: Literal["check"] = "check"
    expression: str = ""
    no_inherit: bool = False


class ExclusionConstraint(TableConstraint):
    kind: Literal["exclude"] = "exclude"


class ForeignKey(TableConstraint):
    kind: Literal["foreign_key"] = "foreign_key"
    ref_schema: str
    ref_table: str
    ref_columns: list[str] = Field(default_factory=list)
    on_update: FkAction = "no action"
    on_delete: FkAction = "no action"
    match: FkMatch = "simple"

    @property
    def ref_key(self) -> Key:
        return (self.ref_schema, self.ref_table)


Constraint = Annotated[
    PrimaryKey | UniqueConstraint | CheckConstraint | ExclusionConstraint | ForeignKey,
    Field(discriminator="kind"),
]


class Index(CatalogModel):
    """A stand-alone index (indexes backing PK/unique/exclusion constraints are not listed)."""

    name: str
    definition: str = Field(
        description="pg_get_indexdef() text; the comparison basis. SQLite: the stored "
        "CREATE INDEX text after the index's name ('ON t (a) WHERE ...')."
    )
    unique: bool = False
    method: str = "btree"
    columns: list[str] = Field(
        default_factory=list, description="Every column the index uses (keys, expressions, WHERE)."
    )


# --- relations -----------------------------------------------------------------------------


class Table(CatalogModel):
    """A table with its columns (in attnum order), constraints and stand-alone indexes."""

    schema_name: str
    name: str
    unlogged: bool = False
    columns: list[Column] = Field(default_factory=list)
    constraints: list[Constraint] = Field(default_factory=list)
    indexes: list[Index] = Field(default_factory=list)
    partition_by: str | None = Field(
        default=None, description="pg_get_partkeydef() of a partitioned table, e.g. 'RANGE (d)'."
    )
    partition_of: list[str] | None = Field(
        default=None, description="[schema, table] of the parent this table is a partition of."
    )
    partition_bound: str | None = Field(
        default=None, description="E.g. \"FOR VALUES FROM ('2020-01-01') TO ('2021-01-01')\"."
    )
    inherits: list[list[str]] = Field(
        default_factory=list, description="[schema, table] of INHERITS parents, in order."
    )
    rls_enabled: bool = False
    rls_forced: bool = False
    options: list[str] = Field(
        default_factory=list,
        description="The table's options as its dialect writes them. PostgreSQL: storage "
        "parameters, e.g. 'fillfactor=70', 'toast.autovacuum_enabled=false'. SQLite: 'STRICT' "
        "and 'WITHOUT ROWID' (in that order). MySQL: KEY=value, sorted ('COLLATE=utf8mb4_bin', "
        "'COMMENT=<SQL literal>', 'DEFAULT CHARSET=utf8mb4', 'ENGINE=InnoDB', "
        "'ROW_FORMAT=DYNAMIC'): the table comment is its COMMENT option, its partitioning "
        "'PARTITION BY=<clause>'.",
    )
    replica_identity: str = Field(
        default="default",
        description="REPLICA IDENTITY: 'default', 'nothing', 'full' or 'index <name>'.",
    )
    auto_increment: int | None = Field(
        default=None,
        description="MySQL: the AUTO_INCREMENT counter, the next value the table hands out "
        "(None: not shown, as on a table without rows). Every insert moves it, so it is no part "
        "of the fingerprint; a migration only ever raises it.",
    )

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)

    def column(self, name: str) -> Column | None:
        """The column called ``name``, if any."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def foreign_keys(self) -> list[ForeignKey]:
        return [c for c in self.constraints if isinstance(c, ForeignKey)]

    @property
    def parents(self) -> list[Key]:
        """Tables whose columns this one inherits (its partition parent or INHERITS parents)."""
        found = [tuple(p) for p in self.inherits]
        if self.partition_of:
            found.insert(0, tuple(self.partition_of))
        return found


class InheritanceLink(CatalogModel):
    """A table's link to one parent: a partition's (with its bound) or an INHERITS child's.

    The object of INHERITANCE operations (CREATE attaches, DROP detaches); the catalog keeps
    these facts on :class:`Table` (``partition_of``, ``partition_bound``, ``inherits``).
    """

    parent: list[str] = Field(description="[schema, table] of the parent.")
    bound: str | None = Field(default=None, description="A partition's bound; None: INHERITS.")


class OwnedBy(CatalogModel):
    """The column a sequence belongs to (``ALTER SEQUENCE ... OWNED BY``)."""

    schema_name: str
    table: str
    column: str


class Sequence(CatalogModel):
    """A stand-alone sequence (identity sequences are part of their column)."""

    schema_name: str
    name: str
    data_type: str = "bigint"
    start: int = 1
    increment: int = 1
    min_value: int | None = None
    max_value: int | None = None
    cache: int = 1
    cycle: bool = False
    owned_by: OwnedBy | None = None

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class Collation(CatalogModel):
    """``CREATE COLLATION``: a libc or ICU collation (``locale`` is the ICU locale)."""

    schema_name: str
    name: str
    provider: Literal["libc", "icu", "default"] = "libc"
    deterministic: bool = True
    lc_collate: str | None = None
    lc_ctype: str | None = None
    locale: str | None = None

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class EnumType(CatalogModel):
    """``CREATE TYPE ... AS ENUM``; label order is significant."""

    schema_name: str
    name: str
    labels: list[str] = Field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


def labels_only_added(old: list[str], new: list[str]) -> bool:
    """Whether ``new`` keeps every label of ``old`` in its order, so that ``ALTER TYPE ... ADD
    VALUE`` gets there; otherwise (a label removed or moved) the type must be swapped."""
    remaining = iter(new)
    return all(label in remaining for label in old)


class View(CatalogModel):
    """A view or materialized view; ``definition`` is pg_get_viewdef() text (SQLite: the stored
    CREATE VIEW text after the view's name, ``AS SELECT ...``)."""

    schema_name: str
    name: str
    definition: str
    materialized: bool = False
    options: list[str] = Field(
        default_factory=list,
        description="reloptions, e.g. 'security_invoker=true', 'check_option=cascaded'.",
    )
    depends_on: list[list[str]] = Field(
        default_factory=list, description="[schema, relation, column] this view reads."
    )
    functions: list[list[str]] = Field(
        default_factory=list, description="[schema, name, identity args] of functions it calls."
    )
    indexes: list[Index] = Field(default_factory=list, description="Of a materialized view.")

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class DomainConstraint(CatalogModel):
    """A CHECK constraint of a domain."""

    name: str
    definition: str = Field(
        description="pg_get_constraintdef() text without NOT VALID, e.g. 'CHECK (VALUE > 0)'."
    )
    valid: bool = Field(default=True, description="False while NOT VALID (convalidated).")


class Domain(CatalogModel):
    """``CREATE DOMAIN``: a base type with a default, NOT NULL and CHECK constraints."""

    schema_name: str
    name: str
    base_type: str
    default: str | None = None
    not_null: bool = False
    collation: str | None = None
    constraints: list[DomainConstraint] = Field(default_factory=list)
    functions: list[list[str]] = Field(
        default_factory=list,
        description="[schema, name, identity args] of functions its default or checks call.",
    )
    types: list[list[str]] = Field(
        default_factory=list, description="[schema, name] of user types it is built on."
    )

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class Attribute(CatalogModel):
    """An attribute of a composite type."""

    name: str
    type: str
    collation: str | None = None


class RangeType(CatalogModel):
    """``CREATE TYPE ... AS RANGE``; functions are qualified names, None when the default."""

    schema_name: str
    name: str
    subtype: str
    subtype_opclass: str | None = None
    collation: str | None = None
    canonical: str | None = None
    subtype_diff: str | None = None
    multirange: str | None = Field(
        default=None, description="The multirange type's name when not the default (14+)."
    )
    types: list[list[str]] = Field(
        default_factory=list, description="[schema, name] of user types it uses."
    )
    functions: list[list[str]] = Field(
        default_factory=list, description="[schema, name, identity args] of its functions."
    )

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class CompositeType(CatalogModel):
    """``CREATE TYPE ... AS (...)``."""

    schema_name: str
    name: str
    attributes: list[Attribute] = Field(default_factory=list)
    types: list[list[str]] = Field(
        default_factory=list, description="[schema, name] of user types its attributes use."
    )

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class Function(CatalogModel):
    """A function or procedure; ``definition`` is pg_get_functiondef() text (runnable)."""

    schema_name: str
    name: str
    identity_args: str = Field(description="pg_get_function_identity_arguments(): the key.")
    kind: Literal["function", "procedure", "window", "aggregate"] = "function"
    result: str | None = Field(default=None, description="pg_get_function_result().")
    language: str = "sql"
    definition: str
    types: list[list[str]] = Field(
        default_factory=list,
        description="[schema, name] of user types (and row types of relations) its signature uses.",
    )
    functions: list[list[str]] = Field(
        default_factory=list,
        description="[schema, name, identity args] of user functions it is made of (an "
        "aggregate's) or calls in a BEGIN ATOMIC body.",
    )

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name, self.identity_args)


class Trigger(CatalogModel):
    """A trigger on a table or view; ``definition`` is pg_get_triggerdef() text (SQLite: the
    stored CREATE TRIGGER text after the trigger's name, and ``function`` is empty)."""

    schema_name: str
    table: str
    name: str
    definition: str
    enabled: Literal["O", "D", "R", "A"] = Field(
        default="O", description="tgenabled: O (the default), D(isabled), R(eplica), A(lways)."
    )
    function: list[str] = Field(description="[schema, name, identity args] of its function.")

    @property
    def key(self) -> Key:
        return (self.schema_name, self.table, self.name)


EventStatus = Literal["ENABLE", "DISABLE", "DISABLE ON SLAVE"]


class ScheduledEvent(CatalogModel):
    """A MySQL/MariaDB event: a statement the server's scheduler runs once (``AT``) or
    repeatedly (``EVERY``). ``definition`` is the runnable ``CREATE EVENT`` text in one normal
    form, the comparison basis; the other fields are its clauses, which ``ALTER EVENT`` changes
    one by one. Times are UTC instants, written so that any session's time zone reads them
    right (the introspector's module says how a schedule is normalised)."""

    schema_name: str
    name: str
    definition: str = Field(
        description="CREATE EVENT without DEFINER or the database's name; every clause written."
    )
    schedule: str = Field(
        description="What follows ON SCHEDULE: 'AT <time>' or 'EVERY <n> <unit> [STARTS <time>] "
        "[ENDS <time>]'; STARTS only when it is neither when the event was created nor when "
        "it was last altered (the server's default)."
    )
    preserve: bool = Field(
        default=False, description="ON COMPLETION PRESERVE: kept (disabled) once it is done."
    )
    status: EventStatus = "ENABLE"
    comment: str | None = None
    body: str = Field(description="The statement after DO, as stored, without the database name.")

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class Statistics(CatalogModel):
    """Extended statistics (``CREATE STATISTICS``) on a table's columns or expressions."""

    schema_name: str
    name: str
    table: list[str] = Field(description="[schema, table] it is on.")
    definition: str = Field(description="pg_get_statisticsobjdef(): the CREATE STATISTICS text.")
    target: int | None = Field(default=None, description="SET STATISTICS; None: the default.")

    @property
    def key(self) -> Key:
        return (self.schema_name, self.name)


class Policy(CatalogModel):
    """A row-level security policy."""

    schema_name: str
    table: str
    name: str
    permissive: bool = True
    command: Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"] = "ALL"
    roles: list[str] = Field(default_factory=lambda: ["public"])
    using: str | None = None
    with_check: str | None = None

    @property
    def key(self) -> Key:
        return (self.schema_name, self.table, self.name)


PrivilegeTarget = Literal["schema", "table", "sequence", "function", "column"]


class Privilege(CatalogModel):
    """One privilege one role holds on one object (from the ACL; the owner's are left out).

    ``target`` is the object's key: [schema] for schemas, [schema, name] for relations,
    [schema, name, identity args] for functions, [schema, table, column] for a column's own
    privileges (``GRANT SELECT (column) ON ...``).
    """

    object_type: PrivilegeTarget
    target: list[str]
    grantee: str = Field(description="Role name, or 'PUBLIC'.")
    privilege: str = Field(description="E.g. 'SELECT', 'USAGE', 'EXECUTE'.")
    grantable: bool = False

    @property
    def key(self) -> Key:
        return (self.object_type, *self.target, self.grantee, self.privilege)


class Extension(CatalogModel):
    name: str
    schema_name: str
    version: str | None = None

    @property
    def key(self) -> Key:
        return (self.name,)


class Comment(CatalogModel):
    """``COMMENT ON <object_type> <target>``; ``target`` is the object's key."""

    object_type: Literal[
        "table",
        "column",
        "view",
        "materialized view",
        "schema",
        "index",
        "sequence",
        "type",
        "domain",
        "function",
        "constraint",
        "trigger",
        "policy",
    ]
    target: list[str] = Field(
        description="[schema, name], [schema, table, column|constraint|trigger|policy], "
        "[schema, name, identity args] for functions, [schema] for schemas."
    )
    text: str

    @property
    def key(self) -> Key:
        return (self.object_type, *self.target)


class Schema(CatalogModel):
    """A schema (namespace); the object of SCHEMA operations."""

    name: str


# --- the whole database --------------------------------------------------------------------

# Fields that describe where a catalog came from, or that the data moves, not what the schema
# is: a staleness check that saw them would fail on every insert.
_NOT_FINGERPRINTED: dict[str, Any] = {
    "server_version": True,
    "tables": {"__all__": {"auto_increment"}},
}


class Catalog(CatalogModel):
    """Everything the engine knows about one database's schema."""

    dialect: Dialect = Dialect.POSTGRESQL
    server_version: str | None = None
    stamp: str | None = Field(
        None,
        exclude=True,
        description="What the dialect's one-query stamp of the database answered when this "
        "catalog was read, if it has one: the same stamp later means the same schema.",
    )
    schemas: list[str] = Field(default_factory=list)
    extensions: list[Extension] = Field(default_factory=list)
    collations: list[Collation] = Field(default_factory=list)
    enums: list[EnumType] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)
    composite_types: list[CompositeType] = Field(default_factory=list)
    range_types: list[RangeType] = Field(default_factory=list)
    sequences: list[Sequence] = Field(default_factory=list)
    functions: list[Function] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    views: list[View] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)
    statistics: list[Statistics] = Field(default_factory=list)
    privileges: list[Privilege] = Field(
        default_factory=list, description="Always read; compared only when asked to."
    )
    comments: list[Comment] = Field(default_factory=list)
    scheduled_events: list[ScheduledEvent] = Field(
        default_factory=list, description="MySQL/MariaDB events (CREATE EVENT)."
    )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (with ``update``), without what was cached of this catalog's fields."""
        copy = super().model_copy(update=update, deep=deep)
        for name in ("tables_by_key", "_fingerprint"):
            copy.__dict__.pop(name, None)
        return copy

    @cached_property
    def tables_by_key(self) -> dict[Key, Table]:
        """Tables keyed by (schema, name)."""
        return {t.key: t for t in self.tables}

    def table(self, schema: str, name: str) -> Table | None:
        """The table ``schema.name``, if any."""
        return self.tables_by_key.get((schema, name))

    def server_major(self) -> int | None:
        """The major version of the server the catalog was read from (e.g. 15), if known."""
        if not self.server_version:
            return None
        head = self.server_version.split()[0].split(".")[0]
        return int(head) if head.isdigit() else None

    def canonical(self) -> dict[str, Any]:
        """A JSON-able form in which order that carries no meaning is normalised away."""
        data = self.model_dump(mode="json", exclude=_NOT_FINGERPRINTED)
        canonical: dict[str, Any] = _canonical(data)  # a dict stays a dict
        return canonical

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON: equal schemas (ignoring column order) hash equal."""
        return self._fingerprint

    @cached_property
    def _fingerprint(self) -> str:
        # Once per catalog (it is immutable): a cached catalog is fingerprinted again and again.
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _canonical(value: Any) -> Any:
    """Sort lists of objects (columns, tables, constraints...) by content, recursively.

    Lists of plain strings keep their order: key columns and enum labels are ordered facts.
    """
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if items and all(isinstance(v, dict) for v in items):
            items.sort(key=lambda v: json.dumps(v, sort_keys=True))
        return items
    return value
