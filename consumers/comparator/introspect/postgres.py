"""PostgreSQL introspection: a handful of bulk catalog queries per database.

All queries run in one READ ONLY, REPEATABLE READ transaction so they see one snapshot, with
an empty ``search_path`` so that every name PostgreSQL renders (types, defaults, constraint and
index definitions) is schema-qualified and comparable across databases.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from schemas.catalog import (
    Catalog,
    CheckConstraint,
    Column,
    Comment,
    Constraint,
    EnumType,
    ExclusionConstraint,
    Extension,
    FkAction,
    FkMatch,
    ForeignKey,
    Identity,
    Index,
    OwnedBy,
    PrimaryKey,
    Sequence,
    Table,
    UniqueConstraint,
    View,
)

# Schemas that are never user schema; `schemashift` holds the executor's history in targets.
_USER_SCHEMA = """
    {n}.nspname NOT IN ('pg_catalog', 'information_schema', 'schemashift')
    AND {n}.nspname NOT LIKE 'pg\\_toast%' AND {n}.nspname NOT LIKE 'pg\\_temp\\_%'
"""


def _user_schema(alias: str) -> str:
    return _USER_SCHEMA.format(n=alias)


# Objects that belong to an extension are the extension's business, not ours.
def _not_extension_member(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass"
        f" AND e.objid = {oid} AND e.deptype = 'e')"
    )


SCHEMAS_SQL = f"""
SELECT n.nspname AS name
FROM pg_namespace n
WHERE {_user_schema("n")} AND {_not_extension_member("pg_namespace", "n.oid")}
ORDER BY 1
"""

EXTENSIONS_SQL = """
SELECT x.extname AS name, n.nspname AS schema_name, x.extversion AS version
FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace
WHERE x.extname <> 'plpgsql'
ORDER BY 1
"""

TABLES_SQL = f"""
SELECT c.oid, n.nspname AS schema_name, c.relname AS name, c.relpersistence = 'u' AS unlogged
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND {_user_schema("n")} AND {_not_extension_member("pg_class", "c.oid")}
"""

COLUMNS_SQL = f"""
SELECT a.attrelid AS table_oid, a.attnum, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS expr,
       a.attgenerated::text AS generated, a.attidentity::text AS identity,
       CASE WHEN a.attcollation <> t.typcollation THEN
           CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation,
       s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_depend dep ON a.attidentity <> '' AND dep.refclassid = 'pg_class'::regclass
     AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
     AND dep.classid = 'pg_class'::regclass
LEFT JOIN pg_sequence s ON s.seqrelid = dep.objid
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
  AND {_user_schema("n")}
ORDER BY a.attrelid, a.attnum
"""

# conislocal: constraints inherited from a parent are the parent's.
CONSTRAINTS_SQL = f"""
SELECT k.conrelid AS table_oid, k.conname AS name, k.contype::text AS type,
       pg_get_constraintdef(k.oid) AS definition,
       k.condeferrable AS deferrable, k.condeferred AS initially_deferred,
       k.connoinherit AS no_inherit,
       ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(num, i)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.num
             ORDER BY u.i)::text[] AS columns,
       fn.nspname AS ref_schema, fc.relname AS ref_table,
       ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(num, i)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.num
             ORDER BY u.i)::text[] AS ref_columns,
       k.confupdtype::text AS on_update, k.confdeltype::text AS on_delete,
       k.confmatchtype::text AS match,
       CASE WHEN k.contype = 'c' THEN pg_get_expr(k.conbin, k.conrelid) END AS expression
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = k.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE k.contype IN ('p', 'u', 'c', 'f', 'x') AND k.conislocal
  AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND {_user_schema("n")}
ORDER BY k.conrelid, k.conname
"""

# Indexes that implement a constraint are rendered by the constraint, so they are left out.
INDEXES_SQL = f"""
SELECT i.indrelid AS table_oid, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS unique, am.amname AS method,
       ARRAY(SELECT DISTINCT a.attname FROM pg_depend d
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
               AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
             ORDER BY 1)::text[] AS columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {_user_schema("n")}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                    AND k.contype IN ('p', 'u', 'x'))
ORDER BY i.indrelid, ic.relname
"""

# Identity sequences (deptype 'i') belong to their column.
SEQUENCES_SQL = f"""
SELECT n.nspname AS schema_name, c.relname AS name, format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start, s.seqincrement AS increment, s.seqmin AS min_value,
       s.seqmax AS max_value, s.seqcache AS cache, s.seqcycle AS cycle,
       tn.nspname AS owner_schema, tc.relname AS owner_table, ta.attname AS owner_column
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
     AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype = 'a'
LEFT JOIN pg_class tc ON tc.oid = d.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace
LEFT JOIN pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid
WHERE {_user_schema("n")} AND {_not_extension_member("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass
                  AND i.objid = c.oid AND i.deptype = 'i')
ORDER BY 1, 2
"""

ENUMS_SQL = f"""
SELECT n.nspname AS schema_name, t.typname AS name,
       ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
             ORDER BY e.enumsortorder)::text[] AS labels
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND {_user_schema("n")} AND {_not_extension_member("pg_type", "t.oid")}
ORDER BY 1, 2
"""

VIEWS_SQL = f"""
SELECT c.oid, n.nspname AS schema_name, c.relname AS name, c.relkind = 'm' AS materialized,
       pg_get_viewdef(c.oid) AS definition,
       ARRAY(SELECT DISTINCT ARRAY[dn.nspname, dc.relname, coalesce(da.attname, '')]
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid
             JOIN pg_class dc ON dc.oid = d.refobjid
             JOIN pg_namespace dn ON dn.oid = dc.relnamespace
             LEFT JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
                  AND d.refobjsubid > 0
             WHERE r.ev_class = c.oid) AS depends_on
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {_user_schema("n")}
  AND {_not_extension_member("pg_class", "c.oid")}
ORDER BY 2, 3
"""

# Comments on schemas, relations and columns. Indexes backing constraints are the constraint's.
COMMENTS_SQL = f"""
SELECT 'schema' AS object_type, ARRAY[n.nspname] AS target, d.description AS text
FROM pg_description d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass
     AND d.objoid = n.oid
WHERE {_user_schema("n")} AND {_not_extension_member("pg_namespace", "n.oid")}
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'i' THEN 'index' ELSE 'table' END,
       CASE WHEN d.objsubid = 0 THEN ARRAY[n.nspname, c.relname]
            ELSE ARRAY[n.nspname, c.relname, a.attname] END,
       d.description
FROM pg_description d
JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'i') AND NOT c.relispartition
  AND {_user_schema("n")} AND {_not_extension_member("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid AND c.relkind = 'i')
  AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indrelid
                  WHERE i.indexrelid = c.oid AND ic.relispartition)
"""

_FK_ACTIONS: dict[str, FkAction] = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}
_FK_MATCH: dict[str, FkMatch] = {"s": "simple", "f": "full", "p": "partial"}


async def introspect_connection(conn: asyncpg.Connection) -> Catalog:
    """Read the whole user schema of the database ``conn`` is connected to."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        # Empty search_path: PostgreSQL then qualifies every non-pg_catalog name it prints.
        await conn.execute("SELECT set_config('search_path', '', true)")
        version = await conn.fetchval("SELECT current_setting('server_version')")
        schemas = [r["name"] for r in await conn.fetch(SCHEMAS_SQL)]
        extensions = [Extension(**dict(r)) for r in await conn.fetch(EXTENSIONS_SQL)]
        table_rows = await conn.fetch(TABLES_SQL)
        column_rows = await conn.fetch(COLUMNS_SQL)
        constraint_rows = await conn.fetch(CONSTRAINTS_SQL)
        index_rows = await conn.fetch(INDEXES_SQL)
        sequence_rows = await conn.fetch(SEQUENCES_SQL)
        enum_rows = await conn.fetch(ENUMS_SQL)
        view_rows = await conn.fetch(VIEWS_SQL)
        comment_rows = await conn.fetch(COMMENTS_SQL)

    columns: dict[int, list[Column]] = {}
    for r in column_rows:
        columns.setdefault(r["table_oid"], []).append(_column(r))
    constraints: dict[int, list[Constraint]] = {}
    for r in constraint_rows:
        constraints.setdefault(r["table_oid"], []).append(_constraint(r))
    indexes: dict[int, list[Index]] = {}
    for r in index_rows:
        indexes.setdefault(r["table_oid"], []).append(
            Index(
                name=r["name"],
                definition=r["definition"],
                unique=r["unique"],
                method=r["method"],
                columns=list(r["columns"]),
            )
        )
    tables = [
        Table(
            schema_name=r["schema_name"],
            name=r["name"],
            unlogged=r["unlogged"],
            columns=columns.get(r["oid"], []),
            constraints=constraints.get(r["oid"], []),
            indexes=indexes.get(r["oid"], []),
        )
        for r in table_rows
    ]
    tables.sort(key=lambda t: t.key)
    return Catalog(
        dialect="postgresql",
        server_version=version,
        schemas=schemas,
        extensions=extensions,
        enums=[EnumType(**dict(r)) for r in enum_rows],
        sequences=[_sequence(r) for r in sequence_rows],
        tables=tables,
        views=[
            View(
                schema_name=r["schema_name"],
                name=r["name"],
                definition=r["definition"],
                materialized=r["materialized"],
                depends_on=sorted([list(d) for d in r["depends_on"]]),
            )
            for r in view_rows
        ],
        comments=sorted(
            (
                Comment(
                    object_type="column" if len(r["target"]) == 3 else r["object_type"],
                    target=list(r["target"]),
                    text=r["text"],
                )
                for r in comment_rows
            ),
            key=lambda c: c.key,
        ),
    )


def _column(r: Any) -> Column:
    identity = None
    if r["identity"]:
        identity = Identity(
            generation="always" if r["identity"] == "a" else "by default",
            start=r["seqstart"],
            increment=r["seqincrement"],
            min_value=r["seqmin"],
            max_value=r["seqmax"],
            cache=r["seqcache"],
            cycle=r["seqcycle"],
        )
    generated = r["expr"] if r["generated"] == "s" else None
    return Column(
        name=r["name"],
        type=r["type"],
        not_null=r["not_null"],
        default=None if generated else r["expr"],
        collation=r["collation"],
        identity=identity,
        generated=generated,
    )


def _constraint(r: Any) -> Constraint:
    common: dict[str, Any] = {
        "name": r["name"],
        # NOT VALID is a state of the rows, not of the schema.
        "definition": r["definition"].removesuffix(" NOT VALID"),
        "columns": list(r["columns"]),
        "deferrable": r["deferrable"],
        "initially_deferred": r["initially_deferred"],
    }
    match r["type"]:
        case "p":
            return PrimaryKey(**common)
        case "u":
            return UniqueConstraint(**common)
        case "c":
            return CheckConstraint(**common, expression=r["expression"], no_inherit=r["no_inherit"])
        case "x":
            return ExclusionConstraint(**common)
        case _:
            return ForeignKey(
                **common,
                ref_schema=r["ref_schema"],
                ref_table=r["ref_table"],
                ref_columns=list(r["ref_columns"]),
                on_update=_FK_ACTIONS[r["on_update"]],
                on_delete=_FK_ACTIONS[r["on_delete"]],
                match=_FK_MATCH[r["match"]],
            )


def _sequence(r: Any) -> Sequence:
    owned_by = None
    if r["owner_table"] is not None:
        owned_by = OwnedBy(
            schema_name=r["owner_schema"], table=r["owner_table"], column=r["owner_column"]
        )
    return Sequence(
        schema_name=r["schema_name"],
        name=r["name"],
        data_type=r["data_type"],
        start=r["start"],
        increment=r["increment"],
        min_value=r["min_value"],
        max_value=r["max_value"],
        cache=r["cache"],
        cycle=r["cycle"],
        owned_by=owned_by,
    )
