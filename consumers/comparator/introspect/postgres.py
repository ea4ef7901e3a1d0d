"""PostgreSQL introspection: a handful of bulk catalog queries per database (one per kind).

All queries run in one READ ONLY, REPEATABLE READ transaction so they see one snapshot, with
an empty ``search_path`` so that every name PostgreSQL renders (types, defaults, constraint and
index definitions) is schema-qualified and comparable across databases.

The catalog objects are built with ``CatalogModel.trusted`` (no validation): the rows come from
PostgreSQL's own catalogs with the models' types, and validating some 100,000 objects of a large
schema would cost more than the queries. A test checks that the result validates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal, Protocol

import asyncpg

from schemashift.consumers.common.gcpause import gc_paused
from schemashift.schemas.catalog import (
    Attribute,
    Catalog,
    CheckConstraint,
    Collation,
    Column,
    Comment,
    CompositeType,
    Constraint,
    Domain,
    DomainConstraint,
    EnumType,
    ExclusionConstraint,
    Extension,
    FkAction,
    FkMatch,
    ForeignKey,
    Function,
    Identity,
    Index,
    Key,
    OwnedBy,
    Policy,
    PrimaryKey,
    Privilege,
    RangeType,
    Sequence,
    Statistics,
    Table,
    Trigger,
    UniqueConstraint,
    View,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.reserved import HISTORY_SCHEMA

# Schemas that are never user schema; HISTORY_SCHEMA holds the executor's history in targets.
_USER_SCHEMA = """
    {n}.nspname NOT IN ('pg_catalog', 'information_schema', '{history}')
    AND {n}.nspname NOT LIKE 'pg\\_toast%' AND {n}.nspname NOT LIKE 'pg\\_temp\\_%'
"""


# Objects with smaller OIDs were made by initdb and do not change, except in the catalogs that
# are read whole below.
_FIRST_USER_OID = 16384
# The catalogs introspection reads, and which of their rows can describe user objects.
_STAMPED: dict[str, str | None] = {
    "pg_namespace": None,  # ``public`` was made by initdb, and it is a user schema
    "pg_extension": None,
    "pg_language": None,
    "pg_tablespace": None,
    "pg_class": "oid",
    "pg_attribute": "attrelid",
    "pg_attrdef": "oid",
    "pg_constraint": "oid",
    "pg_index": "indexrelid",
    "pg_inherits": None,
    "pg_type": "oid",
    "pg_enum": None,
    "pg_range": "rngtypid",
    "pg_collation": "oid",
    "pg_proc": "oid",
    "pg_aggregate": "aggfnoid",
    "pg_depend": "objid",  # (or refobjid, below)
    "pg_description": "objoid",  # (or a schema's, below)
    "pg_rewrite": "oid",
    "pg_trigger": None,
    "pg_policy": None,
    "pg_sequence": None,
    "pg_statistic_ext": None,
    "pg_operator": "oid",
    "pg_opclass": "oid",
    "pg_am": "oid",
}
_STAMP_WIDER = {
    "pg_depend": f"refobjid >= {_FIRST_USER_OID}",
    # Written so that both arms are ranges of the catalog's index: an OR with a condition on
    # classoid alone made it a scan of every comment of pg_catalog.
    "pg_description": "classoid = 'pg_catalog.pg_namespace'::regclass"
    " AND objoid = ANY(ARRAY(SELECT oid FROM pg_catalog.pg_namespace))",
}


def _stamp_part(catalog: str, oid: str | None) -> str:
    # (ctid, xmin) names one version of a row: DDL inserts, updates or deletes catalog rows,
    # and each of those changes the set. XOR of their hashes needs no sort.
    where = ""
    if oid is not None:
        where = f" WHERE {oid} >= {_FIRST_USER_OID}"
        if catalog in _STAMP_WIDER:
            where += f" OR {_STAMP_WIDER[catalog]}"
    return (
        "(SELECT count(*) || ':' || coalesce(bit_xor(hashtextextended("
        f"ctid::text || ':' || xmin::text, 0)), 0) FROM pg_catalog.{catalog}{where})"
    )


# One short query whose answer changes whenever the schema may have: the catalog rows above,
# role names (privileges name them), and which database and server answer (a database dropped
# and created again, or a new cluster on the same port, reuses transaction ids).
_STAMP = "md5(concat_ws(',', {parts}))".format(
    parts=", ".join(
        [
            "(SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())",
            "pg_postmaster_start_time()",
            *(_stamp_part(catalog, oid) for catalog, oid in _STAMPED.items()),
            "(SELECT count(*) || ':' || coalesce(bit_xor(hashtextextended("
            "oid::text || ':' || rolname, 0)), 0) FROM pg_catalog.pg_roles)",
        ]
    )
)
STAMP_SQL = f"SELECT {_STAMP}"
# What an introspection reads first, in one round trip: its settings for the transaction
# (an empty search_path makes PostgreSQL qualify every non-pg_catalog name it prints; work_mem
# is room to sort the large results in memory), the server's version and the stamp.
_OPENING_SQL = f"""
SELECT set_config('search_path', '', true),
       set_config('work_mem', '64MB', true),
       current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       {_STAMP} AS stamp
"""


async def read_stamp(conn: asyncpg.Connection) -> str:
    """The catalog stamp of the database behind ``conn``: equal stamps of one URL mean that the
    schema did not change between the two reads (a changed stamp may also come from changes
    that introspection does not see, such as a temporary table of another session)."""
    stamp: str = await conn.fetchval(STAMP_SQL)
    return stamp


class Row(Protocol):
    """One result row, by column name: an ``asyncpg.Record`` (asyncpg has no type information)."""

    def __getitem__(self, column: str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...


def _user_schema(alias: str) -> str:
    return _USER_SCHEMA.format(n=alias, history=HISTORY_SCHEMA)


def _user_made(oid: str) -> str:
    """``oid`` is not initdb's: redundant with the schema conditions (every object of a user
    schema was made after initdb), but an index range on the catalog's oid, where the schema
    condition only filters after a scan of every system row (thousands of functions, types and
    comments of pg_catalog)."""
    return f"{oid} >= {_FIRST_USER_OID}"


# Objects that belong to an extension are the extension's business, not ours.
def _not_extension_member(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass"
        f" AND e.objid = {oid} AND e.deptype = 'e')"
    )


def _type_deps(depender: str, itself: str = "0") -> str:
    """[schema, name] of the user types (arrays count as their element type) that the objects
    matched by ``depender`` (a condition on pg_depend ``d``) depend on, ``itself`` excluded."""
    return f"""ARRAY(SELECT DISTINCT ARRAY[tn.nspname::text, et.typname::text]
             FROM pg_depend d
             JOIN pg_type dt ON dt.oid = d.refobjid
             JOIN pg_type et ON et.oid = CASE WHEN dt.typcategory = 'A' AND dt.typelem <> 0
                                              THEN dt.typelem ELSE dt.oid END
             JOIN pg_namespace tn ON tn.oid = et.typnamespace
             WHERE ({depender}) AND d.refclassid = 'pg_type'::regclass AND d.deptype = 'n'
               AND et.oid <> {itself} AND {_user_schema("tn")})"""


def _function_deps(depender: str) -> str:
    """[schema, name, identity args] of the user functions that the objects matched by
    ``depender`` (a condition on pg_depend ``d``) depend on."""
    return f"""ARRAY(SELECT DISTINCT ARRAY[pn.nspname::text, p.proname::text,
                                   pg_get_function_identity_arguments(p.oid)]
             FROM pg_depend d
             JOIN pg_proc p ON p.oid = d.refobjid
             JOIN pg_namespace pn ON pn.oid = p.pronamespace
             WHERE ({depender}) AND d.refclassid = 'pg_proc'::regclass AND d.deptype = 'n'
               AND {_user_schema("pn")})"""


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

# Partitions are tables too; what they inherit from their parent is left out further down.
TABLES_SQL = f"""
SELECT c.oid::int8 AS oid, n.nspname AS schema_name, c.relname AS name,
       c.relpersistence = 'u' AS unlogged,
       c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
       c.relispartition AS is_partition,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_by,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       ARRAY(SELECT ARRAY[pn.nspname, pc.relname] FROM pg_inherits i
             JOIN pg_class pc ON pc.oid = i.inhparent
             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS parents,
       coalesce(c.reloptions, '{{}}')
         || ARRAY(SELECT 'toast.' || x FROM pg_class tc, unnest(tc.reloptions) x
                  WHERE tc.oid = c.reltoastrelid) AS options,
       CASE c.relreplident WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
            WHEN 'i' THEN coalesce((SELECT 'index ' || quote_ident(ic.relname)
                                    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                                    WHERE i.indrelid = c.oid AND i.indisreplident), 'nothing')
            ELSE 'default' END AS replica_identity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND {_user_made("c.oid")}
  AND {_user_schema("n")} AND {_not_extension_member("pg_class", "c.oid")}
"""

# A grantee in aclexplode() output ``x``.
_GRANTEE = "CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END"

# From PostgreSQL 18 a NOT NULL is a named constraint; a name other than the default one is
# kept with the column (inherited ones are the parent's).
_NOT_NULL_NAME_JOIN = """
LEFT JOIN pg_constraint nn ON nn.conrelid = a.attrelid AND nn.contype = 'n'
     AND nn.conkey[1] = a.attnum AND nn.conislocal AND nn.coninhcount = 0
     AND nn.conname <> c.relname || '_' || a.attname || '_not_null'"""

_COLUMNS_SQL = """
SELECT a.attrelid AS table_oid, a.attnum, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, {not_null_name} AS not_null_name,
       -- Defaults cannot refer to columns: deparsed without the (costly) table context.
       pg_get_expr(d.adbin, CASE WHEN a.attgenerated = '' THEN 0 ELSE d.adrelid END) AS expr,
       a.attgenerated::text AS generated, a.attidentity::text AS identity,
       CASE WHEN a.attcollation <> t.typcollation THEN
           CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation,
       s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
       CASE WHEN a.attacl IS NOT NULL THEN
           ARRAY(SELECT ARRAY[{grantee}, x.privilege_type, x.is_grantable::text]
                 FROM aclexplode(a.attacl) x WHERE x.grantee <> c.relowner)
       END AS acl
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN (SELECT dep.refobjid, dep.refobjsubid, s.*
           FROM pg_sequence s
           JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = s.seqrelid
                AND dep.refclassid = 'pg_class'::regclass AND dep.deptype = 'i') s
     ON a.attidentity <> '' AND s.refobjid = a.attrelid AND s.refobjsubid = a.attnum{not_null_join}
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND {user_made} AND {user_schema}
ORDER BY a.attrelid, a.attnum
"""
COLUMNS_SQL = _COLUMNS_SQL.format(
    not_null_name="NULL::name",
    not_null_join="",
    user_schema=_user_schema("n"),
    grantee=_GRANTEE,
    user_made=_user_made("a.attrelid"),
)
COLUMNS_SQL_18 = _COLUMNS_SQL.format(
    not_null_name="nn.conname",
    not_null_join=_NOT_NULL_NAME_JOIN,
    user_schema=_user_schema("n"),
    grantee=_GRANTEE,
    user_made=_user_made("a.attrelid"),
)

# Key columns come as attribute numbers (named from the columns query, which is cheaper than a
# lookup per constraint). conislocal/coninhcount/conparentid: constraints inherited from a
# parent (or cloned onto a partition) are the parent's, also when the table declares them too
# (INHERIT merges them into a constraint that is both: the schema means the same).
CONSTRAINTS_SQL = f"""
SELECT k.conrelid AS table_oid, k.conname AS name, k.contype::text AS type,
       pg_get_constraintdef(k.oid) AS definition,
       k.condeferrable AS deferrable, k.condeferred AS initially_deferred,
       k.connoinherit AS no_inherit, k.conkey::int[] AS columns,
       fn.nspname AS ref_schema, fc.relname AS ref_table, k.confrelid AS ref_oid,
       k.confkey::int[] AS ref_columns,
       k.confupdtype::text AS on_update, k.confdeltype::text AS on_delete,
       k.confmatchtype::text AS match, k.convalidated AS valid
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = k.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE k.contype IN ('p', 'u', 'c', 'f', 'x') AND k.conislocal AND k.coninhcount = 0
  AND k.conparentid = 0 AND {_user_made("k.conrelid")}
  AND c.relkind IN ('r', 'p') AND {_user_schema("n")}
ORDER BY k.conrelid, k.conname
"""

ATTNAMES_SQL = """
SELECT attrelid, attnum::int, attname::text FROM pg_attribute
WHERE attrelid = ANY($1::oid[]) AND attnum > 0
"""

# Indexes that implement a constraint are rendered by the constraint, so they are left out, and
# so are partitions' indexes attached to a parent index (the parent's index creates them).
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
WHERE c.relkind IN ('r', 'p', 'm') AND NOT ic.relispartition AND {_user_made("i.indrelid")}
  AND {_user_schema("n")}
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

# The ICU locale column is colliculocale up to PostgreSQL 16 and colllocale from 17.
COLLATIONS_SQL = f"""
SELECT n.nspname AS schema_name, c.collname AS name, c.collprovider::text AS provider,
       c.collisdeterministic AS deterministic, c.collcollate AS lc_collate,
       c.collctype AS lc_ctype,
       coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale') AS locale
FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
WHERE {_user_made("c.oid")} AND {_user_schema("n")}
  AND {_not_extension_member("pg_collation", "c.oid")}
ORDER BY 1, 2
"""

ENUMS_SQL = f"""
SELECT n.nspname AS schema_name, t.typname AS name,
       ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
             ORDER BY e.enumsortorder)::text[] AS labels
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND {_user_made("t.oid")} AND {_user_schema("n")}
  AND {_not_extension_member("pg_type", "t.oid")}
ORDER BY 1, 2
"""

VIEWS_SQL = f"""
SELECT c.oid, n.nspname AS schema_name, c.relname AS name, c.relkind = 'm' AS materialized,
       pg_get_viewdef(c.oid) AS definition, coalesce(c.reloptions, '{{}}') AS options,
       ARRAY(SELECT DISTINCT ARRAY[dn.nspname, dc.relname, coalesce(da.attname, '')]
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid
             JOIN pg_class dc ON dc.oid = d.refobjid
             JOIN pg_namespace dn ON dn.oid = dc.relnamespace
             LEFT JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
                  AND d.refobjsubid > 0
             WHERE r.ev_class = c.oid) AS depends_on,
       ARRAY(SELECT DISTINCT ARRAY[pn.nspname::text, p.proname::text,
                                   pg_get_function_identity_arguments(p.oid)]
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_proc'::regclass
             JOIN pg_proc p ON p.oid = d.refobjid
             JOIN pg_namespace pn ON pn.oid = p.pronamespace
             WHERE r.ev_class = c.oid AND {_user_schema("pn")}) AS functions
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {_user_schema("n")}
  AND {_not_extension_member("pg_class", "c.oid")}
ORDER BY 2, 3
"""

# Comments on everything the catalog models. Indexes backing constraints are the constraint's,
# indexes attached to a parent index the parent's.
COMMENTS_SQL = f"""
SELECT 'schema' AS object_type, ARRAY[n.nspname::text] AS target, d.description AS text
FROM pg_description d JOIN pg_namespace n ON d.classoid = 'pg_namespace'::regclass
     AND d.objoid = n.oid
WHERE {_user_schema("n")} AND {_not_extension_member("pg_namespace", "n.oid")}
UNION ALL
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' ELSE 'table' END,
       CASE WHEN d.objsubid = 0 THEN ARRAY[n.nspname, c.relname]
            ELSE ARRAY[n.nspname, c.relname, a.attname] END,
       d.description
FROM pg_description d
JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid
     AND {_user_made("d.objoid")}
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'i', 'I', 'S')
  AND NOT (c.relkind IN ('i', 'I') AND c.relispartition)
  AND NOT (c.relkind = 'S' AND d.objsubid > 0)
  AND {_user_schema("n")} AND {_not_extension_member("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid
                  AND c.relkind IN ('i', 'I') AND k.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, ARRAY[n.nspname, t.typname],
       d.description
FROM pg_description d
JOIN pg_type t ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid AND d.objsubid = 0
     AND {_user_made("d.objoid")}
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd', 'c', 'r') AND {_user_schema("n")}
  AND {_not_extension_member("pg_type", "t.oid")}
UNION ALL
SELECT 'function',
       ARRAY[n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid)],
       d.description
FROM pg_description d
JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid
     AND {_user_made("d.objoid")}
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p', 'w', 'a') AND {_user_schema("n")}
  AND {_not_extension_member("pg_proc", "p.oid")}
UNION ALL
SELECT 'constraint', ARRAY[n.nspname, c.relname, k.conname], d.description
FROM pg_description d
JOIN pg_constraint k ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid
     AND {_user_made("d.objoid")}
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.conislocal AND k.coninhcount = 0 AND k.conparentid = 0 AND {_user_schema("n")}
UNION ALL
SELECT 'trigger', ARRAY[n.nspname, c.relname, t.tgname], d.description
FROM pg_description d
JOIN pg_trigger t ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid
     AND {_user_made("d.objoid")}
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {_user_schema("n")}
UNION ALL
SELECT 'policy', ARRAY[n.nspname, c.relname, p.polname], d.description
FROM pg_description d
JOIN pg_policy p ON d.classoid = 'pg_policy'::regclass AND d.objoid = p.oid
     AND {_user_made("d.objoid")}
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_user_schema("n")}
"""

# pg_get_functiondef() cannot render an aggregate: its CREATE OR REPLACE AGGREGATE is built from
# pg_aggregate, every option spelled out but those at their defaults.
_AGGREGATE_DEFINITION = """'CREATE OR REPLACE AGGREGATE ' || quote_ident(n.nspname) || '.'
  || quote_ident(p.proname) || '(' || pg_get_function_arguments(p.oid) || ') (' || concat_ws(
  ', ', 'SFUNC = ' || a.aggtransfn::regproc, 'STYPE = ' || format_type(a.aggtranstype, NULL),
  'SSPACE = ' || nullif(a.aggtransspace, 0),
  'FINALFUNC = ' || nullif(a.aggfinalfn, 0)::regproc,
  CASE WHEN a.aggfinalextra THEN 'FINALFUNC_EXTRA' END,
  CASE WHEN a.aggfinalfn <> 0 THEN 'FINALFUNC_MODIFY = '
       || CASE a.aggfinalmodify WHEN 'r' THEN 'READ_ONLY' WHEN 's' THEN 'SHAREABLE'
          ELSE 'READ_WRITE' END END,
  'COMBINEFUNC = ' || nullif(a.aggcombinefn, 0)::regproc,
  'SERIALFUNC = ' || nullif(a.aggserialfn, 0)::regproc,
  'DESERIALFUNC = ' || nullif(a.aggdeserialfn, 0)::regproc,
  'INITCOND = ' || quote_literal(a.agginitval),
  'MSFUNC = ' || nullif(a.aggmtransfn, 0)::regproc,
  'MINVFUNC = ' || nullif(a.aggminvtransfn, 0)::regproc,
  'MSTYPE = ' || format_type(nullif(a.aggmtranstype, 0), NULL),
  'MSSPACE = ' || nullif(a.aggmtransspace, 0),
  'MFINALFUNC = ' || nullif(a.aggmfinalfn, 0)::regproc,
  CASE WHEN a.aggmfinalextra THEN 'MFINALFUNC_EXTRA' END,
  'MINITCOND = ' || quote_literal(a.aggminitval),
  (SELECT 'SORTOP = OPERATOR(' || quote_ident(son.nspname) || '.' || so.oprname || ')'
   FROM pg_operator so JOIN pg_namespace son ON son.oid = so.oprnamespace
   WHERE so.oid = a.aggsortop),
  CASE p.proparallel WHEN 's' THEN 'PARALLEL = SAFE' WHEN 'r' THEN 'PARALLEL = RESTRICTED' END,
  CASE WHEN a.aggkind = 'h' THEN 'HYPOTHETICAL' END) || ')'"""

FUNCTIONS_SQL = f"""
SELECT n.nspname AS schema_name, p.proname AS name,
       pg_get_function_identity_arguments(p.oid) AS identity_args, p.prokind::text AS kind,
       CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) END AS result,
       l.lanname AS language,
       CASE WHEN p.prokind = 'a' THEN {_AGGREGATE_DEFINITION}
            ELSE pg_get_functiondef(p.oid) END AS definition,
       {_type_deps("d.classid = 'pg_proc'::regclass AND d.objid = p.oid")} AS types,
       {_function_deps("d.classid = 'pg_proc'::regclass AND d.objid = p.oid")} AS functions
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
WHERE p.prokind IN ('f', 'p', 'w', 'a') AND {_user_made("p.oid")} AND {_user_schema("n")}
  AND {_not_extension_member("pg_proc", "p.oid")}
  -- A range type's constructors are part of the type.
  AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass
                  AND i.objid = p.oid AND i.deptype = 'i')
ORDER BY 1, 2, 3
"""

# tgparentid: triggers cloned onto partitions are the parent's.
TRIGGERS_SQL = f"""
SELECT n.nspname AS schema_name, c.relname AS table_name, t.tgname AS name,
       pg_get_triggerdef(t.oid) AS definition, t.tgenabled::text AS enabled,
       ARRAY[fn.nspname::text, p.proname::text,
             pg_get_function_identity_arguments(p.oid)] AS function
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace fn ON fn.oid = p.pronamespace
WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND {_user_schema("n")}
  AND {_not_extension_member("pg_class", "c.oid")}
ORDER BY 1, 2, 3
"""

_COLLATION = """
CASE WHEN {coll} <> {default} THEN
    (SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                 ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
     FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
     WHERE co.oid = {coll})
END"""

# A domain and its constraints, as dependers in pg_depend.
_DOMAIN_PARTS = """(d.classid = 'pg_type'::regclass AND d.objid = t.oid)
                OR (d.classid = 'pg_constraint'::regclass AND d.objid IN
                    (SELECT k.oid FROM pg_constraint k WHERE k.contypid = t.oid))"""

DOMAINS_SQL = f"""
SELECT n.nspname AS schema_name, t.typname AS name,
       format_type(t.typbasetype, t.typtypmod) AS base_type,
       pg_get_expr(t.typdefaultbin, 0) AS default, t.typnotnull AS not_null,
       {_COLLATION.format(coll="t.typcollation", default="bt.typcollation")} AS collation,
       ARRAY(SELECT ARRAY[k.conname::text, pg_get_constraintdef(k.oid), k.convalidated::text]
             FROM pg_constraint k
             WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.conname) AS constraints,
       {_function_deps(_DOMAIN_PARTS)} AS functions,
       {_type_deps(_DOMAIN_PARTS, "t.oid")} AS types
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE t.typtype = 'd' AND {_user_made("t.oid")} AND {_user_schema("n")}
  AND {_not_extension_member("pg_type", "t.oid")}
ORDER BY 1, 2
"""

COMPOSITES_SQL = f"""
SELECT n.nspname AS schema_name, t.typname AS name,
       ARRAY(SELECT ARRAY[a.attname::text, format_type(a.atttypid, a.atttypmod),
                          {_COLLATION.format(coll="a.attcollation", default="at.typcollation")}]
             FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS attributes,
       {_type_deps("d.classid = 'pg_class'::regclass AND d.objid = t.typrelid", "t.oid")} AS types
FROM pg_type t
JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'c' AND {_user_made("t.oid")} AND {_user_schema("n")}
  AND {_not_extension_member("pg_type", "t.oid")}
ORDER BY 1, 2
"""

# Options are NULL when they are the default (operator class, collation, multirange name).
RANGES_SQL = f"""
SELECT n.nspname AS schema_name, t.typname AS name, format_type(r.rngsubtype, NULL) AS subtype,
       CASE WHEN NOT opc.opcdefault
            THEN quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) END AS subtype_opclass,
       CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END AS canonical,
       CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END AS subtype_diff,
       mt.typname AS multirange,
       {_type_deps("d.classid = 'pg_type'::regclass AND d.objid = t.oid", "t.oid")} AS types,
       {_function_deps("d.classid = 'pg_type'::regclass AND d.objid = t.oid")} AS functions
FROM pg_range r
JOIN pg_type t ON t.oid = r.rngtypid
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_type st ON st.oid = r.rngsubtype
JOIN pg_opclass opc ON opc.oid = r.rngsubopc
JOIN pg_namespace opn ON opn.oid = opc.opcnamespace
LEFT JOIN pg_collation co ON co.oid = r.rngcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_type mt ON mt.oid = r.rngmultitypid
WHERE {_user_made("r.rngtypid")} AND {_user_schema("n")}
  AND {_not_extension_member("pg_type", "t.oid")}
ORDER BY 1, 2
"""

# stxstattarget: -1 (up to 16) or NULL (from 17) for the default.
STATISTICS_SQL = f"""
SELECT n.nspname AS schema_name, s.stxname AS name, tn.nspname AS table_schema,
       c.relname AS table_name, pg_get_statisticsobjdef(s.oid) AS definition,
       nullif(s.stxstattarget, -1)::int AS target
FROM pg_statistic_ext s
JOIN pg_namespace n ON n.oid = s.stxnamespace
JOIN pg_class c ON c.oid = s.stxrelid
JOIN pg_namespace tn ON tn.oid = c.relnamespace
WHERE {_user_schema("n")} AND {_not_extension_member("pg_statistic_ext", "s.oid")}
ORDER BY 1, 2
"""

POLICIES_SQL = f"""
SELECT n.nspname AS schema_name, c.relname AS table_name, p.polname AS name,
       p.polpermissive AS permissive, p.polcmd::text AS command,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE pg_get_userbyid(r.oid) END
             FROM unnest(p.polroles) AS r(oid) ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using,
       pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_user_schema("n")}
ORDER BY 1, 2, 3
"""

# Effective ACLs (a NULL ACL means the type's defaults); the owner's own rows are left out, so
# that databases built by different roles compare equal.
PRIVILEGES_SQL = f"""
SELECT 'schema' AS object_type, ARRAY[n.nspname::text] AS target, {_GRANTEE} AS grantee,
       x.privilege_type AS privilege, x.is_grantable AS grantable
FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) x
WHERE x.grantee <> n.nspowner
  AND {_user_schema("n")} AND {_not_extension_member("pg_namespace", "n.oid")}
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END,
       ARRAY[n.nspname, c.relname], {_GRANTEE}, x.privilege_type, x.is_grantable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     aclexplode(coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char",
                                              c.relowner))) x
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND x.grantee <> c.relowner
  AND {_user_made("c.oid")} AND {_user_schema("n")} AND {_not_extension_member("pg_class", "c.oid")}
UNION ALL
SELECT 'function',
       ARRAY[n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid)],
       {_GRANTEE}, x.privilege_type, x.is_grantable
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
     aclexplode(coalesce(p.proacl, acldefault('f'::"char", p.proowner))) x
WHERE p.prokind IN ('f', 'p', 'w', 'a') AND x.grantee <> p.proowner
  AND {_user_made("p.oid")} AND {_user_schema("n")} AND {_not_extension_member("pg_proc", "p.oid")}
"""

_FK_ACTIONS: dict[str, FkAction] = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}
_FK_MATCH: dict[str, FkMatch] = {"s": "simple", "f": "full", "p": "partial"}


# The small results, read after the three large ones (columns, constraints, indexes).
SMALL_QUERIES = {
    "schemas": SCHEMAS_SQL,
    "extensions": EXTENSIONS_SQL,
    "tables": TABLES_SQL,
    "sequences": SEQUENCES_SQL,
    "collations": COLLATIONS_SQL,
    "enums": ENUMS_SQL,
    "domains": DOMAINS_SQL,
    "composites": COMPOSITES_SQL,
    "ranges": RANGES_SQL,
    "statistics": STATISTICS_SQL,
    "functions": FUNCTIONS_SQL,
    "triggers": TRIGGERS_SQL,
    "policies": POLICIES_SQL,
    "privileges": PRIVILEGES_SQL,
    "comments": COMMENTS_SQL,
}

# ... in one round trip: each query's rows as one JSON array (a row as an object by column
# name, arrays as lists), which is what the rows are read as. A round trip costs both processes
# more than most of these queries cost the server.
_SMALL_SQL = "SELECT " + ",\n       ".join(
    f"(SELECT coalesce(json_agg(q), '[]') FROM ({sql}) q) AS {name}"
    for name, sql in SMALL_QUERIES.items()
)

_COLLATION_PROVIDERS: dict[str, Literal["libc", "icu", "default"]] = {
    "c": "libc",
    "i": "icu",
    "d": "default",
}
_FUNCTION_KINDS: dict[str, Literal["function", "procedure", "window", "aggregate"]] = {
    "f": "function",
    "p": "procedure",
    "w": "window",
    "a": "aggregate",
}
_POLICY_COMMANDS: dict[str, Literal["ALL", "SELECT", "INSERT", "UPDATE", "DELETE"]] = {
    "*": "ALL",
    "r": "SELECT",
    "a": "INSERT",
    "w": "UPDATE",
    "d": "DELETE",
}


async def fetch_without_keeping_locks(conn: asyncpg.Connection, sql: str) -> list[Row]:
    """The rows of ``sql``, read in a savepoint that is rolled back afterwards.

    pg_get_viewdef() locks every relation a view reads until the end of the (sub)transaction:
    thousands of views would hold as many locks for the whole introspection, blocking DDL on
    them and filling the server's shared lock table. Rolling back the savepoint releases them.
    """
    await conn.execute("SAVEPOINT schemashift_read")
    try:
        rows: list[Row] = await conn.fetch(sql)
        return rows
    finally:
        await conn.execute("ROLLBACK TO SAVEPOINT schemashift_read")


async def introspect_connection(conn: asyncpg.Connection) -> Catalog:
    """Read the whole user schema of the database ``conn`` is connected to."""
    with gc_paused():
        return await _introspect(conn)


async def _introspect(conn: asyncpg.Connection) -> Catalog:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        opening = await conn.fetchrow(_OPENING_SQL)
        version, version_num, stamp = opening["version"], opening["version_num"], opening["stamp"]
        # The large results are turned into objects as soon as they arrive: when source and
        # target are read concurrently, one's objects are built while the other's server
        # works, and no more than one large result is held at a time.
        columns: dict[int, list[Column]] = {}
        column_acls: list[tuple[int, str, list[Any]]] = []
        attnames: dict[tuple[int, int], str] = {}
        for r in await conn.fetch(COLUMNS_SQL_18 if version_num >= 180000 else COLUMNS_SQL):
            columns.setdefault(r["table_oid"], []).append(_column(r))
            attnames[(r["table_oid"], r["attnum"])] = r["name"]
            if r["acl"]:
                column_acls.append((r["table_oid"], r["name"], r["acl"]))
        constraint_rows = await conn.fetch(CONSTRAINTS_SQL)
        # Keys may refer to tables the columns query leaves out (e.g. in other schemas).
        missing = {
            oid
            for r in constraint_rows
            for oid, nums in ((r["table_oid"], r["columns"]), (r["ref_oid"], r["ref_columns"]))
            for num in nums or ()
            if num > 0 and (oid, num) not in attnames
        }
        if missing:
            for r in await conn.fetch(ATTNAMES_SQL, list(missing)):
                attnames[(r["attrelid"], r["attnum"])] = r["attname"]
        constraints: dict[int, list[Constraint]] = {}
        for r in constraint_rows:
            constraints.setdefault(r["table_oid"], []).append(_constraint(r, attnames))
        del constraint_rows
        indexes: dict[int, list[Index]] = {}
        for r in await conn.fetch(INDEXES_SQL):
            indexes.setdefault(r["table_oid"], []).append(
                Index.trusted(
                    # A partitioned table's index is "ON ONLY" the parent; run as such it would
                    # not cover the partitions.
                    name=r["name"],
                    definition=r["definition"].replace(" ON ONLY ", " ON ", 1),
                    unique=r["unique"],
                    method=r["method"],
                    columns=list(r["columns"]),
                )
            )
        small = await conn.fetchrow(_SMALL_SQL)
        rows: dict[str, list[Row]] = {name: json.loads(small[name]) for name in SMALL_QUERIES}
        rows["views"] = await fetch_without_keeping_locks(conn, VIEWS_SQL)

    schemas = [r["name"] for r in rows["schemas"]]
    extensions = [Extension.trusted(**dict(r)) for r in rows["extensions"]]
    tables = sorted((_table(r, columns, constraints, indexes) for r in rows["tables"]), key=_key)
    table_keys = {r["oid"]: (r["schema_name"], r["name"]) for r in rows["tables"]}
    column_privileges = [
        Privilege.trusted(
            object_type="column",
            target=[*table_keys[oid], column],
            grantee=grantee,
            privilege=privilege,
            grantable=grantable == "true",
        )
        for oid, column, acl in column_acls
        if oid in table_keys
        for grantee, privilege, grantable in acl
    ]
    return Catalog.trusted(
        dialect=Dialect.POSTGRESQL,
        server_version=version,
        stamp=stamp,
        schemas=schemas,
        extensions=extensions,
        collations=[
            Collation.trusted(
                schema_name=r["schema_name"],
                name=r["name"],
                provider=_COLLATION_PROVIDERS[r["provider"]],
                deterministic=r["deterministic"],
                # ICU collations keep libc settings PostgreSQL sets itself (none before 15).
                lc_collate=r["lc_collate"] if r["provider"] == "c" else None,
                lc_ctype=r["lc_ctype"] if r["provider"] == "c" else None,
                locale=r["locale"] if r["provider"] == "i" else None,
            )
            for r in rows["collations"]
        ],
        enums=[EnumType.trusted(**dict(r)) for r in rows["enums"]],
        domains=[_domain(r) for r in rows["domains"]],
        composite_types=[
            CompositeType.trusted(
                schema_name=r["schema_name"],
                name=r["name"],
                attributes=[
                    Attribute.trusted(name=a, type=t, collation=c) for a, t, c in r["attributes"]
                ],
                types=sorted(list(t) for t in r["types"]),
            )
            for r in rows["composites"]
        ],
        range_types=[_range_type(r) for r in rows["ranges"]],
        statistics=[
            Statistics.trusted(
                schema_name=r["schema_name"],
                name=r["name"],
                table=[r["table_schema"], r["table_name"]],
                definition=r["definition"],
                target=r["target"],
            )
            for r in rows["statistics"]
        ],
        sequences=[_sequence(r) for r in rows["sequences"]],
        functions=[
            Function.trusted(
                schema_name=r["schema_name"],
                name=r["name"],
                identity_args=r["identity_args"],
                kind=_FUNCTION_KINDS[r["kind"]],
                result=r["result"],
                language=r["language"],
                definition=r["definition"],
                types=sorted(list(t) for t in r["types"]),
                functions=sorted(list(f) for f in r["functions"]),
            )
            for r in rows["functions"]
        ],
        tables=tables,
        views=[
            View.trusted(
                schema_name=r["schema_name"],
                name=r["name"],
                definition=r["definition"],
                materialized=r["materialized"],
                options=sorted(r["options"]),
                depends_on=sorted([list(d) for d in r["depends_on"]]),
                functions=sorted([list(f) for f in r["functions"]]),
                indexes=indexes.get(r["oid"], []),
            )
            for r in rows["views"]
        ],
        triggers=[
            Trigger.trusted(
                schema_name=r["schema_name"],
                table=r["table_name"],
                name=r["name"],
                definition=r["definition"],
                enabled=r["enabled"],
                function=list(r["function"]),
            )
            for r in rows["triggers"]
        ],
        policies=[
            Policy.trusted(
                schema_name=r["schema_name"],
                table=r["table_name"],
                name=r["name"],
                permissive=r["permissive"],
                command=_POLICY_COMMANDS[r["command"]],
                roles=list(r["roles"]),
                using=r["using"],
                with_check=r["with_check"],
            )
            for r in rows["policies"]
        ],
        privileges=sorted(
            [
                *(
                    Privilege.trusted(
                        object_type=r["object_type"],
                        target=list(r["target"]),
                        grantee=r["grantee"],
                        privilege=r["privilege"],
                        grantable=r["grantable"],
                    )
                    for r in rows["privileges"]
                ),
                *column_privileges,
            ],
            key=_key,
        ),
        comments=sorted(
            (
                Comment.trusted(
                    object_type=(
                        "column"
                        if len(r["target"]) == 3 and r["object_type"] in _RELATION_COMMENTS
                        else r["object_type"]
                    ),
                    target=list(r["target"]),
                    text=r["text"],
                )
                for r in rows["comments"]
            ),
            key=_key,
        ),
    )


_RELATION_COMMENTS = {"table", "view", "materialized view"}


def _key(obj: Table | Privilege | Comment) -> Key:
    return obj.key


def _table(
    r: Row,
    columns: dict[int, list[Column]],
    constraints: dict[int, list[Constraint]],
    indexes: dict[int, list[Index]],
) -> Table:
    parents = [list(p) for p in r["parents"]]
    return Table.trusted(
        schema_name=r["schema_name"],
        name=r["name"],
        unlogged=r["unlogged"],
        columns=columns.get(r["oid"], []),
        constraints=constraints.get(r["oid"], []),
        indexes=indexes.get(r["oid"], []),
        partition_by=r["partition_by"],
        partition_of=parents[0] if r["is_partition"] else None,
        partition_bound=r["partition_bound"],
        # INHERITS order only decides column order, which is no difference either.
        inherits=[] if r["is_partition"] else sorted(parents),
        rls_enabled=r["rls_enabled"],
        rls_forced=r["rls_forced"],
        options=sorted(r["options"]),
        replica_identity=r["replica_identity"],
    )


def _range_type(r: Row) -> RangeType:
    # PostgreSQL names the multirange after the range: "range" becomes "multirange", or
    # "_multirange" is appended.
    name = r["name"]
    default = name.replace("range", "multirange", 1) if "range" in name else f"{name}_multirange"
    return RangeType.trusted(
        schema_name=r["schema_name"],
        name=name,
        subtype=r["subtype"],
        subtype_opclass=r["subtype_opclass"],
        collation=r["collation"],
        canonical=r["canonical"],
        subtype_diff=r["subtype_diff"],
        multirange=None if r["multirange"] in (None, default) else r["multirange"],
        types=sorted(list(t) for t in r["types"]),
        functions=sorted(list(f) for f in r["functions"]),
    )


def _domain(r: Row) -> Domain:
    return Domain.trusted(
        schema_name=r["schema_name"],
        name=r["name"],
        base_type=r["base_type"],
        default=r["default"],
        not_null=r["not_null"],
        collation=r["collation"],
        constraints=[
            DomainConstraint.trusted(
                name=n, definition=d.removesuffix(" NOT VALID"), valid=v == "true"
            )
            for n, d, v in r["constraints"]
        ],
        functions=sorted(list(f) for f in r["functions"]),
        types=sorted(list(t) for t in r["types"]),
    )


def _column(r: Row) -> Column:
    identity = None
    if r["identity"]:
        identity = Identity.trusted(
            generation="always" if r["identity"] == "a" else "by default",
            start=r["seqstart"],
            increment=r["seqincrement"],
            min_value=r["seqmin"],
            max_value=r["seqmax"],
            cache=r["seqcache"],
            cycle=r["seqcycle"],
        )
    expr = r["expr"]
    generated = expr if r["generated"] in ("s", "v") else None
    return Column.trusted_dict(
        {
            "name": r["name"],
            "type": r["type"],
            "not_null": r["not_null"],
            "default": None if generated else expr,
            "collation": r["collation"],
            "identity": identity,
            "generated": generated,
            "virtual": r["generated"] == "v",
            "not_null_name": r["not_null_name"],
        }
    )


def _names(attnames: dict[tuple[int, int], str], oid: int, nums: list[int] | None) -> list[str]:
    """Names of the attributes ``nums`` of relation ``oid`` (0, an expression, has none)."""
    return [attnames[(oid, n)] for n in nums or () if n > 0 and (oid, n) in attnames]


_CONSTRAINT_CLASSES: dict[str, type[Constraint]] = {
    "p": PrimaryKey,
    "u": UniqueConstraint,
    "c": CheckConstraint,
    "x": ExclusionConstraint,
    "f": ForeignKey,
}
_CONSTRAINT_KINDS = {
    code: cls.model_fields["kind"].default for code, cls in _CONSTRAINT_CLASSES.items()
}


def _constraint(r: Row, attnames: dict[tuple[int, int], str]) -> Constraint:
    # NOT VALID is kept apart (``valid``): the definition is the same either way.
    definition = r["definition"].removesuffix(" NOT VALID")
    code = r["type"]
    values: dict[str, Any] = {
        "name": r["name"],
        "definition": definition,
        "valid": r["valid"],
        "columns": _names(attnames, r["table_oid"], r["columns"]),
        "deferrable": r["deferrable"],
        "initially_deferred": r["initially_deferred"],
        "kind": _CONSTRAINT_KINDS[code],
    }
    if code == "c":
        # pg_get_constraintdef() is "CHECK (" + pg_get_expr(conbin) + ")" [NO INHERIT].
        values["expression"] = definition.removesuffix(" NO INHERIT").removeprefix("CHECK (")[:-1]
        values["no_inherit"] = r["no_inherit"]
    elif code == "f":
        values["ref_schema"] = r["ref_schema"]
        values["ref_table"] = r["ref_table"]
        values["ref_columns"] = _names(attnames, r["ref_oid"], r["ref_columns"])
        values["on_update"] = _FK_ACTIONS[r["on_update"]]
        values["on_delete"] = _FK_ACTIONS[r["on_delete"]]
        values["match"] = _FK_MATCH[r["match"]]
    return _CONSTRAINT_CLASSES[code].trusted_dict(values)


def _sequence(r: Row) -> Sequence:
    owned_by = None
    if r["owner_table"] is not None:
        owned_by = OwnedBy.trusted(
            schema_name=r["owner_schema"], table=r["owner_table"], column=r["owner_column"]
        )
    return Sequence.trusted(
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
