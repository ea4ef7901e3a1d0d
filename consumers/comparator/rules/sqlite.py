"""SQLite's rules: the operations as SQLite carries them out, and what its versions can run.

SQLite's ALTER TABLE can add a column, drop a plain column and rename; everything else about
an existing table (a type, a default, NOT NULL, a constraint, a foreign key, STRICT...) is
changed by rebuilding the table: a new table is created, the rows are copied into it, the old
one is dropped and the new one takes its name. :func:`sqlite_operations` turns the shared
comparators' operations into those SQLite runs:

* a created table carries its foreign keys (SQLite declares them in CREATE TABLE only), and a
  dropped one keeps them for the reverse script, instead of separate foreign key operations;
* the changes of an existing table stay separate operations when each of them, and its
  reverse, is one SQLite can make in place (ADD COLUMN of a nullable column or one with a
  constant default, not part of a key, not a stored generated column; DROP COLUMN of a column
  no key, index, foreign key, CHECK, generated column or trigger uses; CREATE/DROP INDEX).
  Otherwise they become ONE operation, an ALTER of the table whose ``old`` and ``new`` are the
  whole table (columns, constraints, foreign keys, indexes) as the target and the source have
  it, with the changes in its ``reason``: the renderer rebuilds the table once for all of them;
* a rebuilt table's triggers, and the views and triggers that name it (and the views and
  triggers over those), are dropped and created again around the rebuild (dependent), since
  renaming the new table into place checks every view and trigger of the schema;
* foreign keys rebuilt only because a key they reference is (dependent operations of the
  shared comparators) need nothing in SQLite, which matches them by name when it checks them.

SQLite's identifiers are case-insensitive, so the target's tables and their columns take the
source's spelling before the comparison when they differ only in case (:func:`comparable`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel

from schemashift.consumers.common.drivers.sqlite_sql import is_constant, words
from schemashift.consumers.comparator.compare.common import UnsupportedByTarget
from schemashift.schemas.catalog import (
    Catalog,
    Column,
    PrimaryKey,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import ObjectType, Operation, OpKind

# --- versions ------------------------------------------------------------------------------

Version = tuple[int, ...]


def version_of(catalog: Catalog) -> Version | None:
    """The SQLite version a catalog was read from, e.g. (3, 40, 1)."""
    text = (catalog.server_version or "").split()[0] if catalog.server_version else ""
    parts = text.split(".")
    if not parts or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


DROP_COLUMN: Version = (3, 35, 0)

# (minimum version, feature, pattern in the text of an object the migration creates). The
# statements the engine writes itself need 3.26 (ALTER TABLE RENAME TO that keeps foreign
# keys, PRAGMA table_xinfo); it never writes RENAME COLUMN (3.25).
FEATURES: list[tuple[Version, str, re.Pattern[str]]] = [
    ((3, 44, 0), "concat() and concat_ws()", re.compile(r"\bconcat(_ws)?\s*\(", re.I)),
    ((3, 38, 0), "the -> and ->> operators", re.compile(r"->>?")),
    ((3, 38, 0), "unixepoch()", re.compile(r"\bunixepoch\s*\(", re.I)),
    ((3, 37, 0), "STRICT tables", re.compile(r"^STRICT$")),
    ((3, 35, 0), "RETURNING clauses", re.compile(r"\bRETURNING\b", re.I)),
    ((3, 32, 0), "iif()", re.compile(r"\biif\s*\(", re.I)),
    ((3, 31, 0), "generated columns", re.compile(r"^GENERATED ALWAYS AS")),
    ((3, 30, 0), "NULLS FIRST/LAST", re.compile(r"\bNULLS\s+(FIRST|LAST)\b", re.I)),
    ((3, 30, 0), "FILTER clauses on aggregates", re.compile(r"\bFILTER\s*\(\s*WHERE\b", re.I)),
]


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Column):
        yield from _texts([value.type, value.default])
        if value.generated is not None:
            yield "GENERATED ALWAYS AS"
            yield value.generated
    elif isinstance(value, BaseModel):
        for v in value.__dict__.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def check_versions(ops: list[Operation], target: Catalog) -> None:
    """Raise :class:`UnsupportedByTarget` if an operation (or its reverse) needs a SQLite
    newer than the target's: DROP COLUMN (3.35, for a column dropped or added in place),
    STRICT tables (3.37), generated columns (3.31), and syntax of the texts it would run.
    An unknown version is not checked."""
    version = version_of(target)
    if version is None:
        return
    needed: list[tuple[Version, str]] = []
    if version < DROP_COLUMN and any(o.object_type is ObjectType.COLUMN for o in ops):
        needed.append((DROP_COLUMN, "ALTER TABLE DROP COLUMN"))
    missing = [f for f in FEATURES if version < f[0]]
    for o in ops if missing else []:
        if o.kind is OpKind.DROP:
            continue  # the reverse creates what the target already has
        texts = list(_texts(o.new))
        for minimum, feature, pattern in missing:
            if any(pattern.search(t) for t in texts):
                needed.append((minimum, f"{feature} ({o.label} {o.qualified_name})"))
    if needed:
        minimum, feature = max(needed)
        shown = ".".join(map(str, version))
        raise UnsupportedByTarget(
            f"the migration needs {feature}, which SQLite {shown} (the target's version) "
            f"does not support; SQLite {'.'.join(map(str, minimum))} or later is required"
        )


# --- case-insensitive names ----------------------------------------------------------------


def comparable(source: Catalog, target: Catalog) -> tuple[Catalog, Catalog]:
    """The target with the source's spelling of table and column names that differ from it
    only in case (SQLite's names are case-insensitive: ``Users`` and ``users`` are one table);
    the columns its constraints, indexes and triggers name follow."""
    names = {t.name.lower(): t.name for t in source.tables}
    tables, changed = [], False
    for table in target.tables:
        wanted = names.get(table.name.lower(), table.name)
        mine = source.table("main", wanted)
        renamed = _respelled(table, wanted, mine)
        changed |= renamed is not table
        tables.append(renamed)
    if not changed:
        return source, target
    values = {name: getattr(target, name) for name in Catalog.model_fields}
    triggers = [
        t.model_copy(update={"table": names.get(t.table.lower(), t.table)}) for t in target.triggers
    ]
    return source, Catalog.trusted_dict({**values, "tables": tables, "triggers": triggers})


def _respelled(table: Table, name: str, source: Table | None) -> Table:
    spelling = {c.name.lower(): c.name for c in source.columns} if source else {}
    columns = {c.name: spelling.get(c.name.lower(), c.name) for c in table.columns}
    if name == table.name and all(k == v for k, v in columns.items()):
        return table

    def cols(names: list[str]) -> list[str]:
        return [columns.get(n, n) for n in names]

    constraints = [c.model_copy(update={"columns": cols(c.columns)}) for c in table.constraints]
    return table.model_copy(
        update={
            "name": name,
            "columns": [c.model_copy(update={"name": columns[c.name]}) for c in table.columns],
            "constraints": constraints,
            "indexes": [i.model_copy(update={"columns": cols(i.columns)}) for i in table.indexes],
        }
    )


# --- the operations SQLite runs ------------------------------------------------------------

_PARTS = (
    ObjectType.TABLE,
    ObjectType.COLUMN,
    ObjectType.CONSTRAINT,
    ObjectType.FOREIGN_KEY,
    ObjectType.INDEX,
)


def sqlite_operations(ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
    """The shared comparators' ``ops`` as SQLite carries them out (see the module)."""
    created = {(o.schema_name, o.name) for o in ops if _is_table(o, OpKind.CREATE)}
    dropped = {(o.schema_name, o.name) for o in ops if _is_table(o, OpKind.DROP)}
    version = version_of(target)
    in_place = version is None or version >= DROP_COLUMN
    out: list[Operation] = []
    by_table: dict[tuple[str | None, str], list[Operation]] = {}
    for o in ops:
        key = table_of(o) if o.object_type in _PARTS else None
        if key is None:
            out.append(o)
        elif o.object_type is ObjectType.TABLE and o.kind is not OpKind.ALTER:
            full = source.table(*_key(key)) if o.kind is OpKind.CREATE else target.table(*_key(key))
            side = "new" if o.kind is OpKind.CREATE else "old"
            out.append(o.model_copy(update={side: full}) if full is not None else o)
        elif key in created or key in dropped:
            continue  # part of CREATE TABLE, or gone with DROP TABLE
        elif o.object_type is ObjectType.FOREIGN_KEY and o.dependent:
            continue  # its referenced key is rebuilt: SQLite checks it by name
        else:
            by_table.setdefault(key, []).append(o)
    rebuilt: list[Table] = []
    for key, parts in by_table.items():
        old, new = target.table(*_key(key)), source.table(*_key(key))
        if old is None or new is None:
            out += parts
            continue
        if in_place and all(_in_place(o, old, new, target) for o in parts):
            out += parts
            continue
        changes = ", ".join(f"{o.label} {o.name}" for o in parts)
        out.append(
            Operation(
                kind=OpKind.ALTER,
                object_type=ObjectType.TABLE,
                schema_name=key[0],
                name=new.name,
                old=old,
                new=new,
                reason=f"the table is rebuilt for: {changes}",
            )
        )
        rebuilt.append(old)
    return out + _around_rebuilds(rebuilt, out, source, target)


def table_of(o: Operation) -> tuple[str | None, str] | None:
    """The table that ``o`` changes (itself or one of its parts)."""
    if o.object_type is ObjectType.TABLE:
        return (o.schema_name, o.name)
    return (o.schema_name, o.table) if o.table is not None else None


def _key(key: tuple[str | None, str]) -> tuple[str, str]:
    return (key[0] or "main", key[1])


def _is_table(o: Operation, kind: OpKind) -> bool:
    return o.object_type is ObjectType.TABLE and o.kind is kind


def _keys(table: Table) -> set[str]:
    """Lower-cased names of the columns of the table's primary key and unique constraints."""
    return {
        n.lower()
        for c in table.constraints
        if isinstance(c, PrimaryKey | UniqueConstraint)
        for n in c.columns
    }


def _addable(column: Column, table: Table) -> bool:
    """Whether ALTER TABLE ADD COLUMN can add ``column`` of ``table`` (which has it)."""
    if column.name.lower() in _keys(table):
        return False
    if column.generated is not None:
        return column.virtual
    if column.default is None:
        return not column.not_null
    return is_constant(column.default)


def _droppable(column: Column, table: Table, catalog: Catalog) -> bool:
    """Whether ALTER TABLE DROP COLUMN can drop ``column`` of ``table`` in ``catalog``:
    nothing but views (which the differ rebuilds) and indexes (which it drops first) uses it."""
    name = column.name.lower()
    if name in _keys(table) or any(
        name in (n.lower() for n in fk.columns) for fk in table.foreign_keys
    ):
        return False
    for other in catalog.tables:
        for fk in other.foreign_keys:
            if fk.ref_table.lower() == table.name.lower() and name in (
                c.lower() for c in fk.ref_columns
            ):
                return False
    texts = [c.expression for c in table.constraints if hasattr(c, "expression")]
    texts += [c.generated for c in table.columns if c.generated and c.name != column.name]
    texts += [t.definition for t in catalog.triggers]
    return not any(name in words(text) for text in texts if text)


def _in_place(o: Operation, old: Table, new: Table, target: Catalog) -> bool:
    """Whether SQLite's ALTER TABLE makes ``o`` (and its reverse) without a rebuild."""
    if o.object_type is ObjectType.INDEX:
        return not o.dependent
    if o.object_type is not ObjectType.COLUMN or o.kind is OpKind.ALTER:
        return False
    column = o.obj_as(Column)
    if o.kind is OpKind.CREATE:
        # The reverse drops it again from the source's table.
        used = [c.generated for c in new.columns if c.generated and c.name != column.name]
        return _addable(column, new) and not any(column.name.lower() in words(u) for u in used)
    return _droppable(column, old, target) and _addable(column, old)


def _around_rebuilds(
    rebuilt: list[Table], ops: list[Operation], source: Catalog, target: Catalog
) -> list[Operation]:
    """Drop and create again the triggers of rebuilt tables and the views and triggers that
    name them (or name such a view), unless the diff already drops them."""
    if not rebuilt:
        return []
    touched = {
        (o.object_type, o.schema_name, o.table, o.name) for o in ops if o.kind is OpKind.DROP
    }
    names = {t.name.lower() for t in rebuilt}
    views: list[View] = []
    grew = True
    while grew:  # a view over a rebuilt view is rebuilt too
        grew = False
        for view in target.views:
            if view not in views and (words(view.definition) & names):
                views.append(view)
                names.add(view.name.lower())
                grew = True
    triggers = [
        t for t in target.triggers if t.table.lower() in names or words(t.definition) & names
    ]
    out: list[Operation] = []
    source_views = {v.key: v for v in source.views}
    for view in views:
        if (ObjectType.VIEW, view.schema_name, None, view.name) in touched:
            continue
        again = source_views.get(view.key)
        out += _rebuild(ObjectType.VIEW, view, again, view.name, schema_name=view.schema_name)
    source_triggers = {t.key: t for t in source.triggers}
    for trigger in triggers:
        where = (ObjectType.TRIGGER, trigger.schema_name, trigger.table, trigger.name)
        if where in touched:
            continue
        again_t = source_triggers.get(trigger.key)
        out += _rebuild(
            ObjectType.TRIGGER,
            trigger,
            again_t,
            trigger.name,
            schema_name=trigger.schema_name,
            table=trigger.table,
        )
    return out


def _rebuild(
    object_type: ObjectType,
    old: View | Trigger,
    new: View | Trigger | None,
    name: str,
    **where: Any,
) -> Iterable[Operation]:
    """Drop ``old`` before the rebuild and create ``new`` after it (when the source has it:
    one only the target has is already dropped for good)."""
    yield Operation(
        kind=OpKind.DROP,
        object_type=object_type,
        name=name,
        old=old,
        reason="its table is rebuilt",
        dependent=new == old,
        **where,
    )
    if new is not None:
        yield Operation(
            kind=OpKind.CREATE,
            object_type=object_type,
            name=name,
            new=new,
            reason="its table is rebuilt",
            dependent=new == old,
            **where,
        )


class SQLiteRules:
    """The rules of :class:`Dialect.SQLITE` (see the module's functions)."""

    dialect = Dialect.SQLITE
    comparable = staticmethod(comparable)
    check_versions = staticmethod(check_versions)
    operations = staticmethod(sqlite_operations)


RULES = SQLiteRules()
