"""A table's information_schema rows checked against its ``SHOW CREATE TABLE`` text.

The catalog is built from information_schema; ``SHOW CREATE TABLE`` is the server's own
rendering of the same table. Where both state a fact and they disagree, one of them is wrong
about the table (a server bug, a table changed between the two reads, a definition our reading
of information_schema misses), and a migration computed from either could damage it: the table
is refused with the disagreement, never guessed. The facts compared:

- the columns' names and order, types, NOT NULL, and whether each is generated (and how);
- MariaDB's column-level checks, and the names of the table-level checks;
- the primary key and every index: its name, its kind (unique, fulltext, spatial) and its parts
  (column, prefix length, DESC; an expression part only as an expression, whose text the two
  sources may print differently);
- the foreign keys: names, columns, referenced table and columns;
- whether the table is partitioned, and then its method, expression and partitions (names
  where the text lists them, else their number) and its subpartitioning.

Index methods (``USING HASH`` on InnoDB is stored as a B-tree), comments, defaults and options
are not compared: one source states them differently from the other by design.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.common.gcpause import gc_paused
from schemashift.schemas.catalog import Column

from .mysql_showcreate import KeyPart, ShowCreateUnreadable, ShownTable, parse

__all__ = ["cross_checked"]

Rows = dict[str, list[dict[str, Any]]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def cross_checked(
    row: dict[str, Any], parts: Rows, columns: list[Column], *, sql_mode: str = ""
) -> ShownTable:
    """The parsed ``SHOW CREATE TABLE`` of the table of ``row`` (its text in
    ``row["CREATE_TABLE"]``), after checking it against the table's information_schema rows
    and its built ``columns``; :class:`IntrospectionError` naming the table and what
    disagrees, when something does."""
    name = _text(row["TABLE_NAME"])
    try:
        # The tokens are short-lived: a collector's pass over them would only cost time.
        with gc_paused():
            shown = parse(
                _text(row["CREATE_TABLE"]),
                backslash_escapes="NO_BACKSLASH_ESCAPES" not in sql_mode.upper(),
            )
    except ShowCreateUnreadable as exc:
        raise IntrospectionError(
            f"cannot read table {name}: its SHOW CREATE TABLE text cannot be read ({exc}); "
            "refusing to guess its definition"
        ) from None
    found = disagreements(shown, row, parts, columns)
    if found:
        raise IntrospectionError(
            f"cannot read table {name}: SHOW CREATE TABLE and information_schema disagree on "
            + "; ".join(found)
            + "; refusing to guess which is right"
        )
    return shown


def disagreements(
    shown: ShownTable, row: dict[str, Any], parts: Rows, columns: list[Column]
) -> list[str]:
    """Each fact on which ``shown`` and the information_schema rows disagree, in words."""
    found = _column_disagreements(shown, parts, columns)
    found += _check_disagreements(shown, parts)
    found += _index_disagreements(shown, parts)
    found += _foreign_key_disagreements(shown, parts)
    found += _partition_disagreements(shown, row)
    return found


def _names(values: list[str]) -> str:
    return ", ".join(values) or "none"


def _column_disagreements(shown: ShownTable, parts: Rows, columns: list[Column]) -> list[str]:
    listed = [_text(r["COLUMN_NAME"]) for r in parts["columns"]]
    printed = [c.name for c in shown.columns]
    if listed != printed:
        return [
            f"the columns (information_schema: {_names(listed)}; SHOW CREATE TABLE: "
            f"{_names(printed)})"
        ]
    found = []
    for r, built, col in zip(parts["columns"], columns, shown.columns, strict=True):
        column_type = " ".join(_text(r["COLUMN_TYPE"]).lower().split())
        if column_type != col.type:
            found.append(
                f"the type of column {col.name} (information_schema: {column_type}; "
                f"SHOW CREATE TABLE: {col.type})"
            )
        not_null = r["IS_NULLABLE"] == "NO"
        if not_null != col.not_null:
            found.append(
                f"whether column {col.name} is NOT NULL (information_schema: "
                f"{'yes' if not_null else 'no'}; SHOW CREATE TABLE: "
                f"{'yes' if col.not_null else 'no'})"
            )
        generated = None
        if built.generated is not None:
            generated = "virtual" if built.virtual else "stored"
        if generated != col.generated:
            found.append(
                f"whether column {col.name} is generated (information_schema: "
                f"{generated or 'no'}; SHOW CREATE TABLE: {col.generated or 'no'})"
            )
    return found


def _check_disagreements(shown: ShownTable, parts: Rows) -> list[str]:
    """Table-level check names; MariaDB's column-level checks (named after their column)."""
    table_level = sorted(
        _text(c["CONSTRAINT_NAME"]) for c in parts["checks"] if c.get("LEVEL") != "Column"
    )
    found = []
    if table_level != sorted(shown.checks):
        found.append(
            f"the checks (information_schema: {_names(table_level)}; SHOW CREATE TABLE: "
            f"{_names(sorted(shown.checks))})"
        )
    column_level = sorted(
        _text(c["CONSTRAINT_NAME"]) for c in parts["checks"] if c.get("LEVEL") == "Column"
    )
    inline = sorted(c.name for c in shown.columns if c.inline_check)
    if column_level != inline:
        found.append(
            f"the columns with a check of their own (information_schema: "
            f"{_names(column_level)}; SHOW CREATE TABLE: {_names(inline)})"
        )
    return found


def _index_kind(first: dict[str, Any]) -> str:
    if first["INDEX_NAME"] == "PRIMARY":
        return "primary"
    method = _text(first["INDEX_TYPE"] or "").upper()
    if method in ("FULLTEXT", "SPATIAL", "VECTOR"):
        return method.lower()
    return "plain" if int(first["NON_UNIQUE"]) else "unique"


def _statistics_parts(rows: list[dict[str, Any]]) -> tuple[KeyPart, ...]:
    spatial = _index_kind(rows[0]) == "spatial"
    parts = []
    for r in rows:
        expression = r.get("EXPRESSION")
        length = r["SUB_PART"]
        parts.append(
            KeyPart(
                column=None if expression else _text(r["COLUMN_NAME"]),
                # A SPATIAL index's parts report a length of their own that the text omits.
                length=None if expression or spatial or length is None else int(length),
                descending=r["COLLATION"] == "D",
            )
        )
    return tuple(parts)


def _shown_parts(parts: tuple[KeyPart, ...], kind: str) -> tuple[KeyPart, ...]:
    if kind != "spatial":
        return parts
    return tuple(KeyPart(p.column, None, p.descending) for p in parts)


def _describe(parts: tuple[KeyPart, ...]) -> str:
    words = []
    for p in parts:
        word = p.column if p.column is not None else "(expression)"
        if p.length is not None:
            word += f"({p.length})"
        words.append(word + (" DESC" if p.descending else ""))
    return "(" + ", ".join(words) + ")"


def _index_disagreements(shown: ShownTable, parts: Rows) -> list[str]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in parts["statistics"]:
        grouped[_text(r["INDEX_NAME"])].append(r)
    printed = {i.name: i for i in shown.indexes}
    if sorted(grouped) != sorted(printed):
        return [
            f"the keys and indexes (information_schema: {_names(sorted(grouped))}; "
            f"SHOW CREATE TABLE: {_names(sorted(printed))})"
        ]
    found = []
    for name, rows in sorted(grouped.items()):
        index = printed[name]
        kind, listed = _index_kind(rows[0]), _statistics_parts(rows)
        if kind != index.kind:
            found.append(
                f"the kind of index {name} (information_schema: {kind}; SHOW CREATE TABLE: "
                f"{index.kind})"
            )
        elif listed != _shown_parts(index.parts, kind):
            found.append(
                f"the parts of index {name} (information_schema: {_describe(listed)}; "
                f"SHOW CREATE TABLE: {_describe(index.parts)})"
            )
    return found


def _foreign_key_disagreements(shown: ShownTable, parts: Rows) -> list[str]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in parts["key_columns"]:
        grouped[_text(r["CONSTRAINT_NAME"])].append(r)
    if sorted(grouped) != sorted(shown.foreign_keys):
        return [
            f"the foreign keys (information_schema: {_names(sorted(grouped))}; "
            f"SHOW CREATE TABLE: {_names(sorted(shown.foreign_keys))})"
        ]
    found = []
    for name, rows in sorted(grouped.items()):
        columns = tuple(_text(r["COLUMN_NAME"]) for r in rows)
        ref_table = _text(rows[0]["REFERENCED_TABLE_NAME"])
        ref_columns = tuple(_text(r["REFERENCED_COLUMN_NAME"]) for r in rows)
        shown_columns, shown_table, shown_refs = shown.foreign_keys[name]
        # Table names compare without case: lower_case_table_names may fold one source's.
        if (columns, ref_table.lower(), ref_columns) != (
            shown_columns,
            shown_table.lower(),
            shown_refs,
        ):
            found.append(
                f"foreign key {name} (information_schema: ({', '.join(columns)}) references "
                f"{ref_table} ({', '.join(ref_columns)}); SHOW CREATE TABLE: "
                f"({', '.join(shown_columns)}) references {shown_table} "
                f"({', '.join(shown_refs)}))"
            )
    return found


def _bare(expression: str | None) -> str:
    """An expression without spaces and backticks, lower-cased: the two sources quote and
    space partitioning expressions differently on some versions."""
    return "".join((expression or "").split()).replace("`", "").lower()


def _partition_disagreements(shown: ShownTable, row: dict[str, Any]) -> list[str]:
    partitioned = "partitioned" in _text(row.get("CREATE_OPTIONS") or "").lower()
    clause = shown.partitioning
    if partitioned != (clause is not None):
        return [
            f"whether the table is partitioned (information_schema: "
            f"{'yes' if partitioned else 'no'}; SHOW CREATE TABLE: "
            f"{'yes' if clause is not None else 'no'})"
        ]
    rows = [r for r in row.get("PARTITION_ROWS") or [] if r.get("PARTITION_NAME") is not None]
    if clause is None or not rows:
        return []
    first = rows[0]
    found = []
    method = " ".join(_text(first["PARTITION_METHOD"] or "").upper().split())
    if method != clause.method:
        found.append(
            f"the partitioning method (information_schema: {method}; SHOW CREATE TABLE: "
            f"{clause.method})"
        )
    if clause.expression is not None and _bare(first.get("PARTITION_EXPRESSION")) != _bare(
        clause.expression
    ):
        found.append(
            f"the partitioning expression (information_schema: "
            f"{first.get('PARTITION_EXPRESSION')}; SHOW CREATE TABLE: {clause.expression})"
        )
    names = list(dict.fromkeys(_text(r["PARTITION_NAME"]) for r in rows))
    if clause.names and list(clause.names) != names:
        found.append(
            f"the partitions (information_schema: {_names(names)}; SHOW CREATE TABLE: "
            f"{_names(list(clause.names))})"
        )
    elif not clause.names and clause.count is not None and clause.count != len(names):
        found.append(
            f"the number of partitions (information_schema: {len(names)}; "
            f"SHOW CREATE TABLE: {clause.count})"
        )
    sub_method = " ".join(_text(first.get("SUBPARTITION_METHOD") or "").upper().split())
    if sub_method != (clause.sub_method or ""):
        found.append(
            f"the subpartitioning method (information_schema: {sub_method or 'none'}; "
            f"SHOW CREATE TABLE: {clause.sub_method or 'none'})"
        )
    elif clause.sub_expression is not None and _bare(first.get("SUBPARTITION_EXPRESSION")) != _bare(
        clause.sub_expression
    ):
        found.append(
            f"the subpartitioning expression (information_schema: "
            f"{first.get('SUBPARTITION_EXPRESSION')}; SHOW CREATE TABLE: "
            f"{clause.sub_expression})"
        )
    return found
