"""MySQL's and MariaDB's rules: one schema per database, inherited character sets, and what
the target's flavour and version can run.

A MySQL catalog's schema is the connected database, whose name differs between source and
target: the source's tables are moved onto the target's name, so that the shared comparators
match tables by name. A string column's character set and collation are compared only where
they are not the table's default on both sides (a column that follows its table's default is
equal to one that follows the other's, when the defaults are equal). A table's AUTO_INCREMENT
counter is a difference only when the source's is higher: the migration raises it, never
lowers it. A statement the target's server would refuse is refused before anything runs.
Triggers keep the source's order (:mod:`.mysql_triggers`); a changed routine is replaced in
place on MariaDB, dropped and created again on MySQL.
"""

from __future__ import annotations

import re
from typing import Any

from schemashift.consumers.comparator.compare.common import UnsupportedByTarget, alter, pair
from schemashift.schemas.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    ForeignKey,
    Function,
    Index,
    Table,
    Trigger,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .mysql_state import with_table_states
from .mysql_triggers import follows, keep_order

Version = tuple[int, ...]


def flavour(catalog: Catalog) -> tuple[str, Version]:
    """("mariadb" or "mysql", version numbers) of the server a catalog was read from."""
    text = catalog.server_version or ""
    kind = "mariadb" if "mariadb" in text.lower() else "mysql"
    numbers = re.match(r"(\d+)\.(\d+)\.?(\d*)", text)
    if numbers is None:
        return kind, ()
    return kind, tuple(int(n) for n in numbers.groups() if n)


def table_defaults(table: Table) -> tuple[str | None, str | None]:
    """(DEFAULT CHARSET, COLLATE) of a table's options."""
    options = dict(o.split("=", 1) for o in table.options if "=" in o)
    return options.get("DEFAULT CHARSET"), options.get("COLLATE")


def _inherits(column: Column, defaults: tuple[str | None, str | None]) -> bool:
    return (column.charset, column.collation) == defaults


def _moved(table: Table, schema: str) -> Table:
    constraints = [
        c.model_copy(update={"ref_schema": schema}) if isinstance(c, ForeignKey) else c
        for c in table.constraints
    ]
    return table.model_copy(update={"schema_name": schema, "constraints": constraints})


def _without_inherited(table: Table, other: Table | None) -> Table:
    """``table`` without the character sets and collations its columns inherit, where ``other``
    (the same table of the other side) has the same defaults or does not exist."""
    mine = table_defaults(table)
    if other is not None and table_defaults(other) != mine:
        return table
    columns, changed = [], False
    for column in table.columns:
        if column.charset is not None and _inherits(column, mine):
            theirs = other.column(column.name) if other is not None else None
            if theirs is None or theirs.charset is None or _inherits(theirs, mine):
                column = column.model_copy(update={"charset": None, "collation": None})
                changed = True
        columns.append(column)
    return table.model_copy(update={"columns": columns}) if changed else table


def counter(table: Table) -> int:
    """The table's AUTO_INCREMENT counter (1 when it shows none)."""
    return table.auto_increment or 1


def _counter_not_lowered(table: Table, other: Table | None) -> Table:
    """The source's ``table`` with the counter of ``other`` (its target twin) where the
    source's is not higher. Lowering a counter is no difference: rows may exist at or above
    the lower value (the server then silently sets max(id) + 1 instead), and a lower counter
    would hand out again the values of deleted rows that others may still hold."""
    if (
        other is None
        or counter(table) > counter(other)
        or table.auto_increment == other.auto_increment
    ):
        return table
    return table.model_copy(update={"auto_increment": other.auto_increment})


def _replaced(catalog: Catalog, **fields: Any) -> Catalog:
    values = {name: getattr(catalog, name) for name in Catalog.model_fields}
    return Catalog.trusted_dict({**values, **fields})


def _schema_of(catalog: Catalog) -> str | None:
    """The database name a catalog's objects carry (None for an empty database)."""
    for objects in (
        catalog.tables,
        catalog.views,
        catalog.triggers,
        catalog.functions,
        catalog.scheduled_events,
    ):
        for obj in objects:
            return obj.schema_name
    return None


def comparable(source: Catalog, target: Catalog) -> tuple[Catalog, Catalog]:
    """``source`` on the target's database name, and both without inherited character sets."""
    schema = _schema_of(target)
    source_tables = source.tables
    views, triggers, functions = source.views, source.triggers, source.functions
    events = source.scheduled_events
    if schema is not None and _schema_of(source) not in (None, schema):
        source_tables = [_moved(t, schema) for t in source.tables]
        views = [
            v.model_copy(
                update={
                    "schema_name": schema,
                    "depends_on": [[schema, *d[1:]] for d in v.depends_on],
                }
            )
            for v in source.views
        ]
        triggers = [t.model_copy(update={"schema_name": schema}) for t in source.triggers]
        functions = [f.model_copy(update={"schema_name": schema}) for f in source.functions]
        events = [e.model_copy(update={"schema_name": schema}) for e in source.scheduled_events]
    src = {t.name: t for t in source_tables}
    tgt = {t.name: t for t in target.tables}
    source = _replaced(
        source,
        tables=[
            _counter_not_lowered(_without_inherited(t, tgt.get(t.name)), tgt.get(t.name))
            for t in source_tables
        ],
        views=views,
        triggers=triggers,
        functions=functions,
        scheduled_events=events,
    )
    target = _replaced(
        target, tables=[_without_inherited(t, src.get(t.name)) for t in target.tables]
    )
    return source, target


# (flavour, minimum version, feature, test on an operation's new object).
def _desc_index(obj: object) -> bool:
    return isinstance(obj, Index | Table) and " DESC" in _definitions(obj)


def _definitions(obj: object) -> str:
    if isinstance(obj, Index):
        return obj.definition
    if isinstance(obj, Table):
        return " ".join(i.definition for i in obj.indexes)
    return ""


def _checks(obj: object) -> bool:
    if isinstance(obj, CheckConstraint):
        return True
    return isinstance(obj, Table) and any(isinstance(c, CheckConstraint) for c in obj.constraints)


def _ignored(obj: object) -> bool:
    return (obj is not None and _definitions(obj).endswith(" IGNORED")) or " IGNORED " in (
        _definitions(obj) + " "
    )


def _trigger_order(obj: object) -> bool:
    return isinstance(obj, Trigger) and follows(obj) is not None


def _aggregate(obj: object) -> bool:
    return isinstance(obj, Function) and obj.kind == "aggregate"


def _invisible(obj: object) -> bool:
    if isinstance(obj, Column):
        return obj.invisible
    return isinstance(obj, Table) and any(c.invisible for c in obj.columns)


FEATURES: list[tuple[str, Version, str, Any]] = [
    ("mariadb", (10, 8), "descending index parts", _desc_index),
    ("mysql", (8, 0), "descending index parts", _desc_index),
    ("mariadb", (10, 2, 1), "CHECK constraints", _checks),
    ("mysql", (8, 0, 16), "CHECK constraints", _checks),
    ("mariadb", (10, 6), "IGNORED indexes", _ignored),
    ("mariadb", (10, 2, 3), "several triggers of one table, timing and event", _trigger_order),
    ("mysql", (5, 7, 2), "several triggers of one table, timing and event", _trigger_order),
    ("mariadb", (10, 3, 3), "stored aggregate functions", _aggregate),
    ("mariadb", (10, 3, 3), "invisible columns", _invisible),
    ("mysql", (8, 0, 23), "invisible columns", _invisible),
]

# MariaDB replaces a routine in place (CREATE OR REPLACE) from this version; MySQL never does.
_REPLACES_ROUTINES = (10, 1, 3)


def replaces_routines(target: Catalog) -> bool:
    """Whether the target's server has CREATE OR REPLACE FUNCTION and PROCEDURE."""
    kind, version = flavour(target)
    return kind == "mariadb" and version >= _REPLACES_ROUTINES


def routine_changes(ops: list[Operation], target: Catalog) -> list[Operation]:
    """``ops`` with each routine change (an ALTER: CREATE OR REPLACE) made a drop and a create
    where the target's server cannot replace a routine (the create follows the drop at once,
    see :mod:`...generator.mysql_order`)."""
    if replaces_routines(target):
        return ops
    out: list[Operation] = []
    for o in ops:
        if o.object_type is ObjectType.FUNCTION and o.kind is OpKind.ALTER:
            out += pair(
                ObjectType.FUNCTION,
                o.old,
                o.new,
                o.name,
                schema_name=o.schema_name,
                reason="the server cannot replace a routine",
                direction=o.direction,
            )
        else:
            out.append(o)
    return out


def check_versions(ops: list[Operation], target: Catalog) -> None:
    """Raise :class:`UnsupportedByTarget` for an operation the target's server cannot run.
    Unknown versions are not checked."""
    kind, version = flavour(target)
    if not version:
        return
    for o in ops:
        if o.kind is OpKind.DROP and o.object_type is not ObjectType.CONSTRAINT:
            continue
        for flavour_, minimum, feature, test in FEATURES:
            if flavour_ != kind or version >= minimum:
                continue
            if test(o.new) or (o.kind is OpKind.DROP and test(o.old)):
                name = "MariaDB" if kind == "mariadb" else "MySQL"
                wanted = ".".join(str(n) for n in minimum)
                raise UnsupportedByTarget(
                    f"{o.label} {o.qualified_name} needs {feature}, which the target's server "
                    f"({target.server_version}) does not support; {name} {wanted} or later "
                    "is required"
                )


class MysqlRules:
    """The rules of :class:`Dialect.MYSQL` (see the module's functions)."""

    dialect = Dialect.MYSQL
    comparable = staticmethod(comparable)
    check_versions = staticmethod(check_versions)

    @staticmethod
    def operations(ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
        """The shared comparators' operations (which the renderer merges per table), with the
        trigger rebuilds that keep the source's trigger order, routine changes as the target's
        server makes them, the raised AUTO_INCREMENT counters and what the server can do in
        place (the state of each operation's table). MySQL catalogs hold no privileges: the ones
        the shared comparators derive from PostgreSQL's default ACL of a new function are left
        out."""
        ops = [o for o in ops if o.object_type is not ObjectType.PRIVILEGE]
        ops = routine_changes(keep_order(ops, source, target), target)
        return with_table_states(raised_counters(ops, source, target), source, target)


def raised_counters(ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
    """``ops`` with each table whose counter the source has higher (see
    :func:`comparable`) raised: on the table's ALTER if it has one, else on an ALTER of its
    own (whose reverse, lowering it, renders as nothing)."""
    twins = {t.name: t for t in target.tables}
    raised = {
        t.name: t.auto_increment
        for t in source.tables
        if t.name in twins and counter(t) > counter(twins[t.name])
    }
    if not raised:
        return ops
    out = []
    for o in ops:
        if o.object_type is ObjectType.TABLE and o.kind is OpKind.ALTER and o.name in raised:
            new = o.new_as(Table).model_copy(update={"auto_increment": raised.pop(o.name)})
            o = o.model_copy(update={"new": new})
        out.append(o)
    for name, value in sorted(raised.items()):
        was = twins[name].model_copy(update={"columns": [], "constraints": [], "indexes": []})
        now = was.model_copy(update={"auto_increment": value})
        out.append(alter(ObjectType.TABLE, was, now, name, schema_name=was.schema_name))
    return out


RULES = MysqlRules()
