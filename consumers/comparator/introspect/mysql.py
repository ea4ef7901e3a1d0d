"""MySQL and MariaDB introspection: the connected database as a :class:`Catalog`.

A MySQL database is one schema: every object's ``schema_name`` is the database's name (the
version rules map the source's name onto the target's before the diff). The schema is read in
a few bulk queries of ``information_schema`` (tables, collations, columns, index parts, table
constraints, key columns, referential constraints, checks), ``SELECT *`` where the two flavours
differ in columns, so that one code path reads both.

Normalised facts, so that equal schemas compare equal on either flavour:

- defaults: MariaDB quotes string literals in ``COLUMN_DEFAULT`` and writes expressions as
  ``current_timestamp()``; MySQL 8 leaves literals bare and marks expressions
  ``DEFAULT_GENERATED`` in ``EXTRA``. Both become MariaDB's form (a quoted literal, a bare
  number or an expression); a nullable column's ``DEFAULT NULL`` is no default.
- a column's character set and collation are always read; the version rules leave them out
  where they are the table's default on both sides (:mod:`..rules.mysql`).
- MariaDB's JSON is LONGTEXT with an automatic ``CHECK (json_valid(col))``: the column is
  ``json`` and the check is not listed (it comes back with the type).
- ``NO ACTION`` and ``RESTRICT`` are the same referential action (``no action``).
- index and key definitions are text in one normal form, the comparison basis and the SQL after
  the name: ``UNIQUE KEY (`a`(10),`b` DESC) COMMENT 'x'``.

Every table's ``SHOW CREATE TABLE`` is read too, in batches of statements (one round trip
each): it gives the partitioning clause whole and the live ``AUTO_INCREMENT`` counter (MySQL
8 caches information_schema's), and it is checked against what information_schema says
(:mod:`.mysql_crosscheck`): a table on which the two disagree is refused, never guessed.

Views (their definitions without the database's name), triggers (with their order), stored
routines (:mod:`.mysql_routines`) and events (:mod:`.mysql_events`) are read too. The
executor's history table (:data:`MYSQL_HISTORY_TABLE`) is left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import aiomysql

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.common.drivers.mysql import DRIVER, literal
from schemashift.schemas.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Constraint,
    FkAction,
    ForeignKey,
    Index,
    PrimaryKey,
    Table,
    Trigger,
    View,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.reserved import MYSQL_HISTORY_TABLE

from . import mysql_events, mysql_routines
from .mysql_crosscheck import cross_checked

# Names in definitions are always backticked, as the servers print them in checks.
q = DRIVER.sql_dialect.identifier_preparer.quote_identifier

_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT,
AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s
"""
_COLLATIONS = """
SELECT COLLATION_NAME, CHARACTER_SET_NAME, IS_DEFAULT FROM information_schema.COLLATIONS
"""
_COLUMNS = (
    "SELECT * FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
    "ORDER BY TABLE_NAME, ORDINAL_POSITION"
)
_STATISTICS = (
    "SELECT * FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
    "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
)
_CONSTRAINTS = "SELECT * FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = %s"
_KEY_COLUMNS = (
    "SELECT * FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s "
    "AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
)
_REFERENTIAL = (
    "SELECT * FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s"
)
_CHECKS = "SELECT * FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s"
_VIEWS = "SELECT * FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s"
_PARTITIONS = (
    "SELECT TABLE_NAME, PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, "
    "SUBPARTITION_METHOD, SUBPARTITION_EXPRESSION FROM information_schema.PARTITIONS "
    "WHERE TABLE_SCHEMA = %s AND PARTITION_NAME IS NOT NULL "
    "ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION"
)
# SHOW CREATE TABLE statements sent in one round trip (measured on 1,000 tables: a statement
# each takes four times as long as batches of this size; larger ones gain nothing).
SHOW_CREATE_BATCH = 100
_TRIGGERS = (
    "SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_ORDER, "
    "ACTION_STATEMENT, ACTION_TIMING FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
    "ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"
)

# Types whose defaults are string literals (MySQL 8 prints them bare).
_QUOTED_TYPES = re.compile(
    r"^(var)?char|^(var)?binary|^(tiny|medium|long)?(text|blob)$|^enum|^set|^date|^time|^year"
    r"|^datetime|^timestamp|^bit|^json",
    re.I,
)
_ACTIONS: dict[str, FkAction] = {
    "NO ACTION": "no action",
    "RESTRICT": "no action",  # the same in InnoDB: checked at once
    "CASCADE": "cascade",
    "SET NULL": "set null",
    "SET DEFAULT": "set default",
}
# CREATE_OPTIONS entries that are no table option of ours.
_NOT_OPTIONS = {"partitioned", "transactional"}


def flavour(version: str) -> tuple[str, tuple[int, ...]]:
    """("mariadb" or "mysql", (major, minor, patch)) of a ``SELECT VERSION()`` text."""
    kind = "mariadb" if "mariadb" in version.lower() else "mysql"
    numbers = re.match(r"(\d+)\.(\d+)\.?(\d*)", version)
    if numbers is None:
        return kind, ()
    return kind, tuple(int(n) for n in numbers.groups() if n)


async def _rows(conn: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with conn.cursor(aiomysql.DictCursor) as cur:
        await cur.execute(sql, args or None)
        rows: list[dict[str, Any]] = list(await cur.fetchall())
        return rows


async def introspect_connection(conn: Any) -> Catalog:
    """Read the schema of the database ``conn`` is connected to."""
    head = await _rows(conn, "SELECT VERSION() AS v, DATABASE() AS db")
    version, database = head[0]["v"], head[0]["db"]
    if not database:
        raise IntrospectionError("cannot read the schema: the connection names no database")
    kind, _ = flavour(version)
    # A read-only transaction: reading a schema can change nothing.
    await _rows(conn, "START TRANSACTION READ ONLY")
    try:
        tables = await _rows(conn, _TABLES, database)
        collations = await _rows(conn, _COLLATIONS)
        columns = await _rows(conn, _COLUMNS, database)
        statistics = await _rows(conn, _STATISTICS, database)
        constraints = await _rows(conn, _CONSTRAINTS, database)
        key_columns = await _rows(conn, _KEY_COLUMNS, database)
        referential = await _rows(conn, _REFERENTIAL, database)
        checks = await _rows(conn, _CHECKS, database)
        views = await _rows(conn, _VIEWS, database)
        triggers = await _rows(conn, _TRIGGERS, database)
        routines = await _rows(conn, mysql_routines.ROUTINES, database)
        parameters = await _rows(conn, mysql_routines.PARAMETERS, database)
        events = await _rows(conn, mysql_events.EVENTS, database)
        aggregates: set[str] = set()
        for name in mysql_routines.aggregate_candidates(routines):
            shown = await _rows(conn, f"SHOW CREATE FUNCTION {q(name)}")
            if mysql_routines.is_aggregate(_text(shown[0]["Create Function"] or "")):
                aggregates.add(name)
        sql_mode = await _show_create_tables(conn, database, tables)
    finally:
        await _rows(conn, "ROLLBACK")
    catalog = build_catalog(
        version=version,
        database=database,
        mariadb=kind == "mariadb",
        tables=tables,
        collations=collations,
        columns=columns,
        statistics=statistics,
        constraints=constraints,
        key_columns=key_columns,
        referential=referential,
        checks=checks,
        sql_mode=sql_mode,
    )
    relations = {t.name for t in catalog.tables} | {_text(v["TABLE_NAME"]) for v in views}
    return catalog.model_copy(
        update={
            "views": [_view(database, v, relations) for v in views],
            "triggers": _triggers(database, triggers),
            "functions": mysql_routines.build_routines(
                database, routines, parameters, collations, aggregates
            ),
            "scheduled_events": mysql_events.build_events(database, events),
        }
    )


async def _show_create_tables(conn: Any, database: str, tables: list[dict[str, Any]]) -> str:
    """Put each base table's SHOW CREATE TABLE text in its row (``CREATE_TABLE``), and the
    partitions of a partitioned one (``PARTITION_ROWS``); return the session's ``sql_mode``
    (which decides how the texts quote). The statements go in batches, one round trip each."""
    wanted = [
        r
        for r in tables
        if r["TABLE_TYPE"] == "BASE TABLE" and r["TABLE_NAME"] != MYSQL_HISTORY_TABLE
    ]
    sql_mode = ""
    async with conn.cursor() as cur:
        for start in range(0, max(len(wanted), 1), SHOW_CREATE_BATCH):
            batch = wanted[start : start + SHOW_CREATE_BATCH]
            statements = [f"SHOW CREATE TABLE {q(r['TABLE_NAME'])}" for r in batch]
            if start == 0:
                statements.insert(0, "SELECT @@SESSION.sql_mode")
                await cur.execute(";".join(statements))
                sql_mode = _text((await cur.fetchone())[0])
                if batch:
                    await cur.nextset()
            else:
                await cur.execute(";".join(statements))
            for i, row in enumerate(batch):
                if i:
                    await cur.nextset()
                row["CREATE_TABLE"] = _text((await cur.fetchone())[1])
    partitioned = {
        r["TABLE_NAME"]: r for r in wanted if "partitioned" in (r["CREATE_OPTIONS"] or "").lower()
    }
    if partitioned:
        for part in await _rows(conn, _PARTITIONS, database):
            if part["TABLE_NAME"] in partitioned:
                partitioned[part["TABLE_NAME"]].setdefault("PARTITION_ROWS", []).append(part)
    return sql_mode


def _unqualified(text: str, database: str) -> str:
    """``text`` without the database's name before the names in it (the servers write
    `` `db`.`t` ``; the script runs in the target database, whose name differs)."""
    return text.replace(f"{q(database)}.", "")


def _view(database: str, row: dict[str, Any], relations: set[str]) -> View:
    """A view: its definition as the server prints it, without the database's name, and the
    options that are not the defaults (``ALGORITHM=MERGE``, ``SQL SECURITY=INVOKER``, ``CHECK
    OPTION=CASCADED``). The definer is not compared (it names who created it)."""
    definition = _text(row["VIEW_DEFINITION"])
    prefix = re.escape(q(database)) + r"\."
    depends: set[tuple[str, str, str]] = set()
    for match in re.finditer(prefix + r"`((?:[^`]|``)+)`(?!\.)", definition):
        depends.add((database, match.group(1).replace("``", "`"), ""))
    definition = _unqualified(definition, database)
    for match in re.finditer(r"`((?:[^`]|``)+)`\.`((?:[^`]|``)+)`", definition):
        relation = match.group(1).replace("``", "`")
        if relation in relations:
            depends.add((database, relation, match.group(2).replace("``", "`")))
    options = []
    if (row.get("ALGORITHM") or "UNDEFINED") != "UNDEFINED":
        options.append(f"ALGORITHM={row['ALGORITHM']}")
    if (row.get("SECURITY_TYPE") or "DEFINER") != "DEFINER":
        options.append(f"SQL SECURITY={row['SECURITY_TYPE']}")
    if (row.get("CHECK_OPTION") or "NONE") != "NONE":
        options.append(f"CHECK OPTION={row['CHECK_OPTION']}")
    return View.trusted(
        schema_name=database,
        name=_text(row["TABLE_NAME"]),
        definition=definition,
        options=options,
        depends_on=[list(d) for d in sorted(depends)],
    )


def _triggers(database: str, rows: list[dict[str, Any]]) -> list[Trigger]:
    """The triggers of rows in ``ACTION_ORDER`` within each table, timing and event: each
    after the first of its group follows the one before it."""
    found: list[Trigger] = []
    previous: tuple[tuple[Any, ...], str] | None = None
    for row in rows:
        group = (row["EVENT_OBJECT_TABLE"], row["ACTION_TIMING"], row["EVENT_MANIPULATION"])
        follows = previous[1] if previous is not None and previous[0] == group else None
        found.append(_trigger(database, row, follows))
        previous = (group, _text(row["TRIGGER_NAME"]))
    return found


def _trigger(database: str, row: dict[str, Any], follows: str | None = None) -> Trigger:
    """A trigger; its definition is what follows ``CREATE TRIGGER name`` (the body as
    written), with ``FOLLOWS <trigger>`` when it is not the first of its table, timing and
    event (the order they run in is part of the schema; the servers keep it as ACTION_ORDER)."""
    table = _text(row["EVENT_OBJECT_TABLE"])
    order = f"FOLLOWS {q(follows)} " if follows is not None else ""
    definition = (
        f"{row['ACTION_TIMING']} {row['EVENT_MANIPULATION']} ON {q(table)} FOR EACH ROW "
        f"{order}{_text(row['ACTION_STATEMENT'])}"
    )
    return Trigger.trusted(
        schema_name=database,
        table=table,
        name=_text(row["TRIGGER_NAME"]),
        definition=definition,
        function=[],
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def build_catalog(
    *,
    version: str,
    database: str,
    mariadb: bool,
    tables: list[dict[str, Any]],
    collations: list[dict[str, Any]],
    columns: list[dict[str, Any]],
    statistics: list[dict[str, Any]],
    constraints: list[dict[str, Any]],
    key_columns: list[dict[str, Any]],
    referential: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    sql_mode: str = "",
) -> Catalog:
    """The catalog from the rows of the introspection queries. A table row that carries its
    ``SHOW CREATE TABLE`` text (``CREATE_TABLE``) is checked against the other rows, and
    refused with :class:`IntrospectionError` where they disagree (:mod:`.mysql_crosscheck`)."""
    charset_of = {r["COLLATION_NAME"]: r["CHARACTER_SET_NAME"] for r in collations}
    names = {
        r["TABLE_NAME"]
        for r in tables
        if r["TABLE_TYPE"] == "BASE TABLE" and r["TABLE_NAME"] != MYSQL_HISTORY_TABLE
    }
    by_table: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for kind, rows in (
        ("columns", columns),
        ("statistics", statistics),
        ("constraints", constraints),
        ("key_columns", key_columns),
        ("referential", referential),
    ):
        for row in rows:
            if row["TABLE_NAME"] in names:
                by_table[row["TABLE_NAME"]][kind].append(row)
    # MySQL 8's CHECK_CONSTRAINTS has no TABLE_NAME: its check names are unique per schema.
    check_table = {
        r["CONSTRAINT_NAME"]: r["TABLE_NAME"]
        for r in constraints
        if r["CONSTRAINT_TYPE"] == "CHECK"
    }
    for row in checks:
        table = row.get("TABLE_NAME") or check_table.get(row["CONSTRAINT_NAME"])
        if isinstance(table, str) and table in names:
            by_table[table]["checks"].append(row)
    built = []
    for row in sorted(tables, key=lambda r: r["TABLE_NAME"]):
        if row["TABLE_NAME"] not in names:
            continue
        parts = by_table[row["TABLE_NAME"]]
        built.append(_table(database, row, parts, charset_of, mariadb, sql_mode))
    return Catalog.trusted(dialect=Dialect.MYSQL, server_version=version, schemas=[], tables=built)


def _table(
    database: str,
    row: dict[str, Any],
    parts: dict[str, list[dict[str, Any]]],
    charset_of: dict[str, str],
    mariadb: bool,
    sql_mode: str = "",
) -> Table:
    name = row["TABLE_NAME"]
    collation = row["TABLE_COLLATION"]
    options = []
    if row["ENGINE"]:
        options.append(f"ENGINE={row['ENGINE']}")
    if collation:
        options.append(f"DEFAULT CHARSET={charset_of.get(collation, '')}")
        options.append(f"COLLATE={collation}")
    for option in (row["CREATE_OPTIONS"] or "").split():
        key, sep, value = option.partition("=")
        if sep and key.lower() not in _NOT_OPTIONS:
            options.append(f"{key.upper()}={value.upper() if key == 'row_format' else value}")
    if row["TABLE_COMMENT"]:
        options.append(f"COMMENT={literal(row['TABLE_COMMENT'])}")
    # JSON columns of MariaDB: LONGTEXT with the server's own json_valid check.
    json_checks = {
        c["CONSTRAINT_NAME"]
        for c in parts["checks"]
        if c.get("LEVEL", "Column") == "Column"
        and _text(c["CHECK_CLAUSE"]) == f"json_valid({q(c['CONSTRAINT_NAME'])})"
    }
    columns = [_column(c, json_checks, mariadb) for c in parts["columns"]]
    counters = [row.get("AUTO_INCREMENT")]
    if row.get("CREATE_TABLE") is not None:
        shown = cross_checked(row, parts, columns, sql_mode=sql_mode)
        # information_schema.PARTITIONS splits the clause apart: SHOW CREATE TABLE has it whole.
        if shown.partitioning is not None:
            options.append(f"PARTITION BY={shown.partitioning.clause}")
        counters.append(shown.auto_increment)
    # The larger of the two: MySQL 8's information_schema caches the counter (it may lag),
    # MariaDB's SHOW CREATE TABLE leaves it out on partitioned tables. 1 is no counter yet.
    auto_increment = max((int(c) for c in counters if c is not None), default=1)
    json_names = {c.name for c in columns if c.type == "json"}
    constraints: list[Constraint] = []
    indexes: list[Index] = []
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in parts["statistics"]:
        grouped[s["INDEX_NAME"]].append(s)
    for index_name, index_rows in grouped.items():
        if index_name == "PRIMARY":
            cols = [r["COLUMN_NAME"] for r in index_rows]
            definition = f"PRIMARY KEY {_key_parts(index_rows)}"
            if index_rows[0].get("INDEX_COMMENT"):
                definition += f" COMMENT {literal(index_rows[0]['INDEX_COMMENT'])}"
            constraints.append(
                PrimaryKey.trusted(name="PRIMARY", definition=definition, columns=cols)
            )
        else:
            indexes.append(_index(index_name, index_rows))
    constraints += _foreign_keys(database, parts)
    for c in parts["checks"]:
        if c["CONSTRAINT_NAME"] in json_names and c["CONSTRAINT_NAME"] in json_checks:
            continue
        clause = _text(c["CHECK_CLAUSE"])
        enforced = next(
            (
                t.get("ENFORCED", "YES")
                for t in parts["constraints"]
                if t["CONSTRAINT_NAME"] == c["CONSTRAINT_NAME"] and t["CONSTRAINT_TYPE"] == "CHECK"
            ),
            "YES",
        )
        suffix = " NOT ENFORCED" if enforced == "NO" else ""
        constraints.append(
            CheckConstraint.trusted(
                name=c["CONSTRAINT_NAME"],
                definition=f"CHECK ({clause}){suffix}",
                expression=clause,
                columns=[col.name for col in columns if q(col.name) in clause],
            )
        )
    return Table.trusted(
        schema_name=database,
        name=name,
        columns=columns,
        constraints=constraints,
        indexes=sorted(indexes, key=lambda i: i.name),
        options=sorted(options),
        auto_increment=auto_increment if auto_increment > 1 else None,
    )


def _column(row: dict[str, Any], json_checks: set[str], mariadb: bool) -> Column:
    name = row["COLUMN_NAME"]
    column_type = _text(row["COLUMN_TYPE"])
    extra = (row["EXTRA"] or "").lower()
    nullable = row["IS_NULLABLE"] == "YES"
    charset, collation = row["CHARACTER_SET_NAME"], row["COLLATION_NAME"]
    if mariadb and column_type == "longtext" and name in json_checks:
        column_type, charset, collation = "json", None, None
    elif column_type == "json":
        charset = collation = None  # MySQL's own JSON type: utf8mb4_bin, always
    generated = row.get("GENERATION_EXPRESSION") or None
    if generated is not None:
        generated = _text(generated)
    # MySQL 8 marks an expression default DEFAULT_GENERATED: that is no generated column.
    is_generated = (
        bool(re.search(r"\b(virtual|stored|persistent) generated\b", extra))
        or (row.get("IS_GENERATED") or "NEVER") != "NEVER"
    )
    default = None
    if not is_generated:
        default = _default(row["COLUMN_DEFAULT"], column_type, extra, nullable, mariadb)
    on_update = None
    # MariaDB lists EXTRA's facts with commas: "on update current_timestamp(), INVISIBLE".
    if match := re.search(r"on update ([^\s,]+)", extra):
        on_update = _expression(match.group(1))
    return Column.trusted(
        name=name,
        type=column_type,
        not_null=not nullable,
        default=default,
        collation=collation,
        charset=charset,
        generated=generated if is_generated else None,
        virtual=is_generated and "virtual" in extra,
        on_update=on_update,
        auto_increment="auto_increment" in extra,
        comment=row["COLUMN_COMMENT"] or None,
        invisible=re.search(r"\binvisible\b", extra) is not None,
    )


def _expression(text: str) -> str:
    """An expression default in one form: ``CURRENT_TIMESTAMP`` → ``current_timestamp()``."""
    lowered = text.lower()
    for name in ("current_timestamp", "localtimestamp", "localtime", "now"):
        if lowered == name:
            return "current_timestamp()" if name in ("current_timestamp", "now") else f"{name}()"
        if lowered.startswith(name + "("):
            head = "current_timestamp" if name == "now" else name
            return head + lowered[len(name) :]
    return text


def _default(value: Any, column_type: str, extra: str, nullable: bool, mariadb: bool) -> str | None:
    if value is None:
        return None
    text = _text(value)
    if mariadb:
        if text == "NULL":
            return None
        if text.startswith("'") or re.fullmatch(r"-?[\d.]+(e[-+]?\d+)?", text, re.I):
            return text
        return _expression(text)
    # MySQL 8: bare literals; expressions are DEFAULT_GENERATED.
    if "default_generated" in extra:
        return _expression(text)
    if _QUOTED_TYPES.match(column_type):
        return literal(text)
    return text


def _key_parts(rows: list[dict[str, Any]]) -> str:
    """``(`a`(10),`b` DESC)`` from an index's STATISTICS rows (a SPATIAL index's parts report a
    length of their own that is no prefix)."""
    parts = []
    spatial = (rows[0]["INDEX_TYPE"] or "").upper() == "SPATIAL"
    for r in rows:
        expression = r.get("EXPRESSION")
        if expression:
            part = f"({_text(expression)})"
        else:
            part = q(r["COLUMN_NAME"])
            if r["SUB_PART"] and not spatial:
                part += f"({r['SUB_PART']})"
        if r["COLLATION"] == "D":
            part += " DESC"
        parts.append(part)
    return "(" + ",".join(parts) + ")"


def _index(name: str, rows: list[dict[str, Any]]) -> Index:
    first = rows[0]
    method = (first["INDEX_TYPE"] or "BTREE").upper()
    unique = not int(first["NON_UNIQUE"])
    if method == "FULLTEXT":
        head = "FULLTEXT KEY"
    elif method == "SPATIAL":
        head = "SPATIAL KEY"
    else:
        head = "UNIQUE KEY" if unique else "KEY"
    definition = f"{head} {_key_parts(rows)}"
    if method not in ("BTREE", "FULLTEXT", "SPATIAL"):
        definition += f" USING {method}"
    if first.get("INDEX_COMMENT"):
        definition += f" COMMENT {literal(first['INDEX_COMMENT'])}"
    if first.get("IGNORED") == "YES":
        definition += " IGNORED"
    if first.get("IS_VISIBLE") == "NO":
        definition += " INVISIBLE"
    return Index.trusted(
        name=name,
        definition=definition,
        unique=unique,
        method=method.lower(),
        columns=[r["COLUMN_NAME"] for r in rows if r["COLUMN_NAME"]],
    )


def _foreign_keys(database: str, parts: dict[str, list[dict[str, Any]]]) -> list[ForeignKey]:
    rules = {r["CONSTRAINT_NAME"]: r for r in parts["referential"]}
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in parts["key_columns"]:
        grouped[row["CONSTRAINT_NAME"]].append(row)
    found = []
    for name, rows in sorted(grouped.items()):
        ref_schema = rows[0]["REFERENCED_TABLE_SCHEMA"]
        ref_table = rows[0]["REFERENCED_TABLE_NAME"]
        if ref_schema != database:
            raise IntrospectionError(
                f"the foreign key {name} of table {rows[0]['TABLE_NAME']} references "
                f"{ref_schema}.{ref_table}, in another database: objects that reference "
                "another database are not supported"
            )
        rule = rules.get(name, {})
        on_update = _ACTIONS.get(rule.get("UPDATE_RULE", "RESTRICT"), "no action")
        on_delete = _ACTIONS.get(rule.get("DELETE_RULE", "RESTRICT"), "no action")
        cols = [r["COLUMN_NAME"] for r in rows]
        ref_cols = [r["REFERENCED_COLUMN_NAME"] for r in rows]
        definition = (
            f"FOREIGN KEY ({','.join(q(c) for c in cols)}) REFERENCES {q(ref_table)} "
            f"({','.join(q(c) for c in ref_cols)})"
        )
        if on_delete != "no action":
            definition += f" ON DELETE {on_delete.upper()}"
        if on_update != "no action":
            definition += f" ON UPDATE {on_update.upper()}"
        found.append(
            ForeignKey.trusted(
                name=name,
                definition=definition,
                columns=cols,
                ref_schema=database,
                ref_table=ref_table,
                ref_columns=ref_cols,
                on_update=on_update,
                on_delete=on_delete,
            )
        )
    return found
