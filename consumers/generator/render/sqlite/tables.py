"""Tables: CREATE and DROP TABLE, ADD and DROP COLUMN, and the rebuild of a table.

A rebuild follows SQLite's own procedure for the schema changes ALTER TABLE cannot make
("making other kinds of table schema changes"): with foreign key enforcement off (the script
turns it off before its transaction), the new table is created under a reserved name, the rows
are copied into it, the old table is dropped, the new one renamed into its place and its
indexes created. The triggers and views that go with the old table are dropped before and
created after (operations of their own, see :mod:`schemashift.consumers.comparator.rules.sqlite`),
and the script checks every foreign key before it commits.
"""

from __future__ import annotations

from schemashift.consumers.common.drivers.sqlite_sql import significant, tokenize
from schemashift.schemas.catalog import Column, PrimaryKey, Table
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Operation, OpKind
from schemashift.schemas.reserved import SQLITE_REBUILD_PREFIX

from .common import Emit, H, RenderContext, default_sql, literal, q
from .objects import create_index


def column_definition(col: Column, primary_key: str | None = None) -> str:
    """``name type [PRIMARY KEY ...] [NOT NULL] [GENERATED ...|DEFAULT ...] [COLLATE]``."""
    parts = [q(col.name)]
    if col.type:
        parts.append(col.type)
    if primary_key:
        parts.append(primary_key)
    if col.not_null:
        parts.append("NOT NULL")
    if col.generated is not None:
        kind = "VIRTUAL" if col.virtual else "STORED"
        parts.append(f"GENERATED ALWAYS AS ({col.generated}) {kind}")
    elif col.default is not None:
        parts.append(f"DEFAULT {default_sql(col.default)}")
    if col.collation:
        parts.append(f"COLLATE {col.collation}")
    return " ".join(parts)


def _inline_primary_key(pk: PrimaryKey) -> str:
    """An AUTOINCREMENT primary key as its column declares it (the only place SQLite takes
    AUTOINCREMENT): ``[CONSTRAINT n] PRIMARY KEY [DESC] [ON CONFLICT x] AUTOINCREMENT``."""
    tokens = significant(tokenize(pk.definition))
    text = pk.definition
    opening = next(i for i, t in enumerate(tokens) if t.kind == "(")
    closing = next(i for i, t in enumerate(tokens) if t.kind == ")" and i > opening)
    inner = tokens[opening + 1 : closing]
    order = f" {inner[-1].text.upper()}" if inner and inner[-1].is_word("ASC", "DESC") else ""
    head = text[: tokens[opening].start].rstrip()
    tail = text[tokens[closing].end :]
    return f"{head}{order}{tail}"


def create_table_sql(table: Table, name: str | None = None) -> str:
    """The CREATE TABLE statement of ``table`` (under ``name``, for a rebuild)."""
    inline = {}
    constraints = []
    for c in table.constraints:
        if isinstance(c, PrimaryKey) and c.definition.endswith("AUTOINCREMENT"):
            inline[c.columns[0].lower()] = _inline_primary_key(c)
        else:
            constraints.append(c.definition)
    lines = [column_definition(c, inline.get(c.name.lower())) for c in table.columns]
    body = ",\n    ".join(lines + constraints)
    options = f" {', '.join(table.options)}" if table.options else ""
    return f"CREATE TABLE {q(name or table.name)} (\n    {body}\n){options}"


def render_table(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE TABLE (with its foreign keys and indexes), DROP TABLE, or a rebuild."""
    if op.kind is OpKind.DROP:
        emit(f"DROP TABLE {q(op.name)}", H.DATA_LOSS, H.IRREVERSIBLE)
        return
    if op.kind is OpKind.ALTER:
        rebuild(op.old_as(Table), op.new_as(Table), emit)
        return
    table = op.obj_as(Table)
    emit(create_table_sql(table))
    for index in table.indexes:
        emit(create_index(index))


def render_column(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """ALTER TABLE ADD COLUMN or DROP COLUMN (the differ leaves no other column change to
    SQLite's ALTER TABLE: see the rules' module)."""
    table = f"ALTER TABLE {q(op.table or '')}"
    col = op.obj_as(Column)
    if op.kind is OpKind.CREATE:
        emit(f"{table} ADD COLUMN {column_definition(col)}")
    elif op.kind is OpKind.DROP:
        # The table's content is rewritten without the column; the reverse adds it back empty,
        # except a generated column, whose values it computes again.
        lost = [H.DATA_LOSS] if col.generated else [H.DATA_LOSS, H.IRREVERSIBLE]
        emit(f"{table} DROP COLUMN {q(op.name)}", H.TABLE_REWRITE, *lost)
    else:
        raise ValueError(f"SQLite changes column {op.qualified_name} by rebuilding its table")


def _is_rowid_alias(table: Table) -> bool:
    if "WITHOUT ROWID" in table.options:
        return False
    pk = next((c for c in table.constraints if isinstance(c, PrimaryKey)), None)
    if pk is None or len(pk.columns) != 1:
        return False
    column = table.column(pk.columns[0])
    return column is not None and column.type.upper() == "INTEGER"


_ROWID_NAMES = {"rowid", "_rowid_", "oid"}


def _keeps_rowid(old: Table, new: Table) -> bool:
    """Whether the copy can carry the rows' rowids over: both tables have them, the new one
    without a column of its own for them, and no column takes their names."""
    names = {c.name.lower() for c in old.columns + new.columns}
    rowid_tables = "WITHOUT ROWID" not in old.options and "WITHOUT ROWID" not in new.options
    return rowid_tables and not _is_rowid_alias(new) and not names & _ROWID_NAMES


def _autoincrement(table: Table) -> bool:
    return any(
        isinstance(c, PrimaryKey) and c.definition.endswith("AUTOINCREMENT")
        for c in table.constraints
    )


def rebuild(old: Table, new: Table, emit: Emit) -> None:
    """SQLite's table rebuild from ``old`` to ``new`` (see the module)."""
    temporary = SQLITE_REBUILD_PREFIX + new.name
    rewrite: tuple[Hazard, ...] = (H.TABLE_REWRITE,)
    emit(create_table_sql(new, temporary), *rewrite)
    olds = {c.name.lower(): c for c in old.columns}
    into, select = [], []
    lost = False
    for column in new.columns:
        before = olds.get(column.name.lower())
        if column.generated is not None or before is None:
            continue  # computed, or new: its default fills it
        value = q(before.name)
        if column.not_null and not before.not_null and column.default is not None:
            value = f"coalesce({value}, {default_sql(column.default)})"
        into.append(q(column.name))
        select.append(value)
        lost |= before.type != column.type or before.collation != column.collation
    kept = {c.name.lower() for c in new.columns if c.generated is None}
    lost |= any(c.name.lower() not in kept and c.generated is None for c in old.columns)
    if _keeps_rowid(old, new):
        into.insert(0, "rowid")
        select.insert(0, "rowid")
    checked = _checks_rows(old, new)
    if into:
        copy = (
            f"INSERT INTO {q(temporary)} ({', '.join(into)})\n"
            f"SELECT {', '.join(select)} FROM {q(old.name)}"
        )
        emit(
            copy,
            *rewrite,
            *([H.NEEDS_VALIDATION] if checked else []),
            *([H.DATA_LOSS, H.IRREVERSIBLE] if lost else []),
        )
    if _autoincrement(old) and _autoincrement(new):
        # The copy set the new table's counter to its largest key: keep the old one's if it is
        # larger (rows deleted at the end), so that no key is ever used twice.
        emit(
            "INSERT INTO sqlite_sequence (name, seq) "
            f"SELECT {literal(temporary)}, 0 WHERE NOT EXISTS "
            f"(SELECT 1 FROM sqlite_sequence WHERE name = {literal(temporary)})",
            *rewrite,
        )
        emit(
            "UPDATE sqlite_sequence SET seq = max(seq, coalesce("
            f"(SELECT max(seq) FROM sqlite_sequence WHERE name = {literal(old.name)}), 0)) "
            f"WHERE name = {literal(temporary)}",
            *rewrite,
        )
    emit(f"DROP TABLE {q(old.name)}", *rewrite)
    emit(f"ALTER TABLE {q(temporary)} RENAME TO {q(new.name)}", *rewrite)
    for index in new.indexes:
        emit(create_index(index), H.INDEX_BUILD, *rewrite)


def _checks_rows(old: Table, new: Table) -> bool:
    """Whether the copy checks rows against something the old table did not hold them to."""
    if {c.definition for c in new.constraints} - {c.definition for c in old.constraints}:
        return True
    was = {c.name.lower(): c for c in old.columns}
    return any(
        c.not_null and not (c.name.lower() in was and was[c.name.lower()].not_null)
        for c in new.columns
    ) or "STRICT" in set(new.options) - set(old.options)
