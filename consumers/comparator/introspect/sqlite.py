"""Read a SQLite database's schema (its ``main`` database) into a :class:`Catalog`.

The PRAGMAs give the columns (declared type, NOT NULL, default, primary key position, hidden
generated columns), the indexes (origin, uniqueness, partial, key columns) and the objects;
the stored ``CREATE`` text gives what no PRAGMA reports: collations, generation expressions,
CHECK constraints, constraint names, AUTOINCREMENT, DEFERRABLE, STRICT and WITHOUT ROWID.

How SQLite's schema maps onto the catalog model:

* one schema, ``main``; tables named ``sqlite_*`` (SQLite's own), virtual tables and their
  shadow tables, and the executor's history table are left out;
* ``Column.type`` is the declared type as ``PRAGMA table_xinfo`` reports it (SQLite upper-cases
  the standard names), ``default`` its default text as that PRAGMA gives it (an expression
  without its parentheses), ``collation`` the declared COLLATE name, ``generated`` the
  expression of a generated column and ``virtual`` whether it is VIRTUAL;
* constraints (primary key, unique, check, foreign keys) whether declared on a column or on
  the table: ``definition`` is the canonical text the renderer writes back, with a
  ``CONSTRAINT name`` prefix only when the constraint was named; an unnamed one gets a name in
  the catalog all the same (``<table>_pkey``, ``<table>_<columns>_key``, ``<table>_check<N>``,
  ``<table>_<columns>_fkey``, lower-cased), which SQL never shows. A primary key's definition
  ends in ``AUTOINCREMENT`` when it has it. The indexes SQLite makes for them
  (``sqlite_autoindex_*``) are theirs, not indexes of their own;
* ``Table.options`` holds ``"STRICT"`` and ``"WITHOUT ROWID"`` (in that order);
* indexes, views and triggers keep their stored text after their name as ``definition``
  (``ON t (a) WHERE b > 0``, ``AS SELECT ...``, ``AFTER INSERT ON t BEGIN ... END``): the
  comparison basis, whatever the quoting of the name. A view's ``depends_on`` lists every
  column of each table or view its text names (a best effort: a name that is also a column or
  an alias may add a dependency that is not one, never miss one).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections import defaultdict
from typing import Any

from schemashift.consumers.common.drivers.sqlite import DRIVER
from schemashift.consumers.common.drivers.sqlite_sql import (
    ColumnDef,
    Constraint,
    ForeignKeyClause,
    TableDef,
    parse_create_table,
    significant,
    text_after_name,
    tokenize,
    words,
)
from schemashift.schemas.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    FkAction,
    ForeignKey,
    Index,
    PrimaryKey,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from schemashift.schemas.catalog import Constraint as CatalogConstraint
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.reserved import SQLITE_HISTORY_TABLE

SCHEMA = "main"
q = DRIVER.quote

_OBJECTS = "SELECT type, name, tbl_name, sql FROM main.sqlite_schema ORDER BY rowid"
_COLUMNS = (
    'SELECT m.name, p.cid, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden '
    "FROM main.sqlite_schema m JOIN pragma_table_xinfo(m.name, 'main') p "
    "WHERE m.type IN ('table', 'view') ORDER BY m.name, p.cid"
)
_ONE_COLUMNS = (
    'SELECT cid, name, type, "notnull", dflt_value, pk, hidden '
    "FROM pragma_table_xinfo(?, 'main') ORDER BY cid"
)
_INDEXES = (
    'SELECT m.name, l.name, l."unique", l.origin, l.partial '
    "FROM main.sqlite_schema m JOIN pragma_index_list(m.name, 'main') l "
    "WHERE m.type = 'table' ORDER BY m.name, l.name"
)
_INDEX_COLUMNS = (
    "SELECT m.name, x.seqno, x.cid, x.name FROM main.sqlite_schema m "
    "JOIN pragma_index_xinfo(m.name, 'main') x WHERE m.type = 'index' AND x.key "
    "ORDER BY m.name, x.seqno"
)


async def _columns(conn: Any, objects: list[Any]) -> list[Any]:
    """Every column of every table and view; a view that cannot be compiled (it names a
    table that is gone) has none."""
    try:
        return list(await conn.execute_fetchall(_COLUMNS))
    except sqlite3.OperationalError:
        pass
    rows: list[Any] = []
    for kind, name, _, _ in objects:
        if kind not in ("table", "view"):
            continue
        try:
            found = await conn.execute_fetchall(_ONE_COLUMNS, (name,))
        except sqlite3.OperationalError:
            continue
        rows += [(name, *row) for row in found]
    return rows


def _left_out(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("sqlite_") or lowered == SQLITE_HISTORY_TABLE


def _stamp(objects: list[Any]) -> str:
    # The schema is the CREATE text of its objects: sqlite_schema is all there is to it.
    return hashlib.sha256(repr([tuple(row) for row in objects]).encode()).hexdigest()


async def read_stamp(conn: Any) -> str:
    """The stamp of the ``main`` database's schema: equal stamps, equal schemas."""
    return _stamp(list(await conn.execute_fetchall(_OBJECTS)))


async def introspect_connection(conn: Any) -> Catalog:
    """The catalog of the ``main`` database behind an aiosqlite connection, read in one
    transaction (a consistent snapshot) that is rolled back."""
    await conn.execute("BEGIN")
    try:
        version = (await conn.execute_fetchall("SELECT sqlite_version()"))[0][0]
        objects = list(await conn.execute_fetchall(_OBJECTS))
        columns = await _columns(conn, objects)
        indexes = list(await conn.execute_fetchall(_INDEXES))
        index_columns = list(await conn.execute_fetchall(_INDEX_COLUMNS))
    finally:
        await conn.execute("ROLLBACK")
    catalog = build_catalog(version, objects, columns, indexes, index_columns)
    return catalog.model_copy(update={"stamp": _stamp(objects)})


def build_catalog(
    version: str,
    objects: list[Any],
    columns: list[Any],
    indexes: list[Any],
    index_columns: list[Any],
) -> Catalog:
    """The catalog from the rows of the queries above."""
    cols: dict[str, list[Any]] = defaultdict(list)
    for row in columns:
        cols[row[0]].append(row)
    idx: dict[str, list[Any]] = defaultdict(list)
    for row in indexes:
        idx[row[0]].append(row)
    idx_cols: dict[str, list[str]] = defaultdict(list)
    for row in index_columns:
        if row[2] is not None and row[2] >= 0:
            idx_cols[row[0]].append(row[3])
    sql_of = {(row[0], row[1]): row[3] for row in objects}
    tables_rows = [r for r in objects if r[0] == "table" and not _left_out(r[1]) and r[3]]
    tables_rows = [r for r in tables_rows if not _is_virtual(r[3])]
    shadows = _shadow_tables(objects)
    tables_rows = [r for r in tables_rows if r[1] not in shadows]
    relation_names = {r[1].lower(): r[1] for r in tables_rows}
    tables = [
        _table(r[1], r[3], cols[r[1]], idx[r[1]], idx_cols, sql_of, relation_names)
        for r in tables_rows
    ]
    view_rows = [r for r in objects if r[0] == "view" and r[3] and not _left_out(r[1])]
    relation_columns = {t.name.lower(): (t.name, [c.name for c in t.columns]) for t in tables}
    for row in view_rows:
        relation_columns[row[1].lower()] = (row[1], [c[2] for c in cols[row[1]]])
    views = [_view(r[1], r[3], relation_columns) for r in view_rows]
    names = {**relation_names, **{r[1].lower(): r[1] for r in view_rows}}
    triggers = [
        Trigger(
            schema_name=SCHEMA,
            table=names.get(r[2].lower(), r[2]),
            name=r[1],
            definition=text_after_name(r[3], "TRIGGER"),
            function=[],
        )
        for r in objects
        if r[0] == "trigger" and r[3]
    ]
    return Catalog(
        dialect=Dialect.SQLITE,
        server_version=version,
        schemas=[SCHEMA],
        tables=tables,
        views=views,
        triggers=triggers,
    )


# CREATE VIRTUAL TABLE, with whitespace or comments between the words: the head alone, since
# tokenizing every table's whole text for it cost more than the rest of the introspection.
_VIRTUAL = re.compile(
    r"(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*CREATE(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)+VIRTUAL\b",
    re.I | re.S,
)


def _is_virtual(sql: str) -> bool:
    return _VIRTUAL.match(sql) is not None


def _shadow_tables(objects: list[Any]) -> set[str]:
    """Tables that belong to a virtual table (named ``<virtual>_<suffix>``)."""
    virtual = [r[1] for r in objects if r[0] == "table" and r[3] and _is_virtual(r[3])]
    return {
        r[1] for r in objects if r[0] == "table" and any(r[1].startswith(v + "_") for v in virtual)
    }


def _view(name: str, sql: str, relations: dict[str, tuple[str, list[str]]]) -> View:
    definition = text_after_name(sql, "VIEW")
    mentioned = words(definition)
    depends: list[list[str]] = []
    for word in sorted(mentioned):
        found = relations.get(word)
        if found is None or found[0].lower() == name.lower():
            continue
        relation, columns = found
        # The relation's columns that the text names (for a view over every column, "*"):
        # the same on both sides of a comparison whenever the text is.
        used = [c for c in columns if c.lower() in mentioned]
        depends += [[SCHEMA, relation, c] for c in used] or [[SCHEMA, relation, "*"]]
    return View(schema_name=SCHEMA, name=name, definition=definition, depends_on=depends)


def _table(
    name: str,
    sql: str,
    column_rows: list[Any],
    index_rows: list[Any],
    index_columns: dict[str, list[str]],
    sql_of: dict[tuple[str, str], str],
    relation_names: dict[str, str],
) -> Table:
    parsed = parse_create_table(sql)
    columns = [_column(row, parsed.column(row[2])) for row in column_rows]
    names = [c.name for c in columns]
    constraints = _constraints(name, parsed, column_rows, names, relation_names)
    indexes = []
    for row in index_rows:
        if row[3] != "c":
            continue  # the index of a primary key or unique constraint
        text = sql_of.get(("index", row[1]))
        if not text:
            continue
        definition = text_after_name(text, "INDEX")
        used = list(dict.fromkeys(index_columns.get(row[1], [])))
        mentioned = words(definition)
        used += [n for n in names if n.lower() in mentioned and n not in used]
        indexes.append(Index(name=row[1], definition=definition, unique=bool(row[2]), columns=used))
    options = [o for o in ("STRICT", "WITHOUT ROWID") if o in parsed.options]
    return Table(
        schema_name=SCHEMA,
        name=name,
        columns=columns,
        constraints=constraints,
        indexes=indexes,
        options=options,
    )


def _column(row: Any, parsed: ColumnDef | None) -> Column:
    _, _, name, type_, notnull, default, _, hidden = row
    collation = generated = None
    if parsed is not None:
        collate = parsed.first("collate")
        collation = collate.collation if collate else None
        generation = parsed.first("generated")
        generated = generation.expression if generation else None
    return Column(
        name=name,
        type=type_ or "",
        not_null=bool(notnull),
        default=default,
        collation=collation,
        generated=generated,
        virtual=hidden == 2,
    )


def _quoted_columns(items: list[tuple[str, str]]) -> str:
    """Indexed columns as ``"name" <rest as declared>`` (``COLLATE``, ``ASC``/``DESC``)."""
    parts = []
    for name, text in items:
        rest = significant(tokenize(text))[1:]
        tail = text[rest[0].start :] if rest else ""
        parts.append(f"{q(name)} {tail}".rstrip())
    return ", ".join(parts)


def _named(constraint: Constraint, body: str) -> str:
    return f"CONSTRAINT {q(constraint.name)} {body}" if constraint.name else body


def _conflict(constraint: Constraint) -> str:
    return f" ON CONFLICT {constraint.conflict}" if constraint.conflict else ""


def references_text(clause: ForeignKeyClause, table: str) -> str:
    """``REFERENCES "t" ("c") ...`` with only what differs from the defaults."""
    text = f"REFERENCES {q(table)}"
    if clause.columns:
        text += f" ({', '.join(q(c) for c in clause.columns)})"
    if clause.on_delete != "no action":
        text += f" ON DELETE {clause.on_delete.upper()}"
    if clause.on_update != "no action":
        text += f" ON UPDATE {clause.on_update.upper()}"
    if clause.match:
        text += f" MATCH {clause.match}"
    if clause.deferrable:
        text += " DEFERRABLE INITIALLY DEFERRED" if clause.initially_deferred else " DEFERRABLE"
    return text


def _unique_name(wanted: str, taken: set[str]) -> str:
    """A name for an unnamed constraint, lower-cased (SQLite's names are case-insensitive,
    and no SQL shows it), that no other constraint of the table has."""
    wanted = wanted.lower()
    name, n = wanted, 1
    while name.lower() in taken:
        n += 1
        name = f"{wanted}{n}"
    taken.add(name.lower())
    return name


def _constraints(
    table: str,
    parsed: TableDef,
    column_rows: list[Any],
    names: list[str],
    relation_names: dict[str, str],
) -> list[CatalogConstraint]:
    declared: list[tuple[Constraint, list[tuple[str, str]], bool]] = []
    for column in parsed.columns:
        for c in column.constraints:
            if c.kind in ("primary_key", "unique", "check", "foreign_key"):
                columns = [(column.name, q(column.name) + (" DESC" if c.descending else ""))]
                declared.append((c, columns, True))
    declared += [(c, c.columns, False) for c in parsed.constraints]
    taken = {c.name.lower() for c, _, _ in declared if c.name}
    found: list[CatalogConstraint] = []
    checks = 0
    for c, items, on_column in declared:
        cols = [_real_column(n, names) for n, _ in items]
        if c.kind == "primary_key":
            body = f"PRIMARY KEY ({_quoted_columns(items)}){_conflict(c)}"
            body += " AUTOINCREMENT" if c.autoincrement else ""
            name = c.name or _unique_name(f"{table}_pkey", taken)
            found.append(PrimaryKey(name=name, definition=_named(c, body), columns=cols))
        elif c.kind == "unique":
            body = f"UNIQUE ({_quoted_columns(items)}){_conflict(c)}"
            name = c.name or _unique_name(f"{table}_{'_'.join(cols)}_key", taken)
            found.append(UniqueConstraint(name=name, definition=_named(c, body), columns=cols))
        elif c.kind == "check":
            checks += 1
            expression = c.expression or ""
            mentioned = words(expression)
            used = [n for n in names if n.lower() in mentioned]
            if on_column:
                used = list(dict.fromkeys([cols[0], *used]))
            name = c.name or _unique_name(f"{table}_check{checks}", taken)
            found.append(
                CheckConstraint(
                    name=name,
                    definition=_named(c, f"CHECK ({expression})"),
                    columns=used,
                    expression=expression,
                )
            )
        elif c.kind == "foreign_key" and c.references is not None:
            clause = c.references
            ref_table = relation_names.get(clause.table.lower(), clause.table)
            body = f"FOREIGN KEY ({', '.join(q(n) for n in cols)}) "
            body += references_text(clause, ref_table)
            name = c.name or _unique_name(f"{table}_{'_'.join(cols)}_fkey", taken)
            found.append(
                ForeignKey(
                    name=name,
                    definition=_named(c, body),
                    columns=cols,
                    ref_schema=SCHEMA,
                    ref_table=ref_table,
                    ref_columns=list(clause.columns),
                    on_delete=_action(clause.on_delete),
                    on_update=_action(clause.on_update),
                    deferrable=clause.deferrable,
                    initially_deferred=clause.initially_deferred,
                )
            )
    return found


def _real_column(name: str, names: list[str]) -> str:
    """``name`` as the table spells it (SQLite's names are case-insensitive)."""
    return next((n for n in names if n.lower() == name.lower()), name)


def _action(text: str) -> FkAction:
    actions: dict[str, FkAction] = {
        "no action": "no action",
        "restrict": "restrict",
        "cascade": "cascade",
        "set null": "set null",
        "set default": "set default",
    }
    return actions[text]
