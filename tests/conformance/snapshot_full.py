"""The independent catalog comparison of the conformance harness, covering every kind it meets.

Like :mod:`tests.support.schema_snapshot` (whose kinds it includes unchanged) it reads the
catalogs with its own plain queries, never the engine's introspection, and every kind is one
query returning a set of tuples, so that column order does not count. It adds sequences, views,
functions, triggers, domains, composite and range types, extensions, comments, partitions,
inheritance, row-level security, collations, rules, extended statistics and (on request)
privileges.

Objects that belong to an extension are left out: the ``extensions`` kind covers them. Names
are compared, never OIDs, and PostgreSQL renders every expression (``pg_get_*``), so that two
databases built from the same DDL give equal snapshots.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from schemashift.schemas.reserved import HISTORY_SCHEMA
from tests.support.schema_snapshot import _QUERIES as _BASE_QUERIES

_EXCLUDED = f"('pg_catalog', 'information_schema', '{HISTORY_SCHEMA}')"


def _user(n: str) -> str:
    """SQL condition: the namespace alias ``n`` is a user schema."""
    return (
        f"{n}.nspname NOT IN {_EXCLUDED} AND {n}.nspname NOT LIKE 'pg\\_toast%'"
        f" AND {n}.nspname NOT LIKE 'pg\\_temp\\_%'"
    )


def _own(catalog: str, oid: str) -> str:
    """SQL condition: the object is not a member of an extension."""
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '{catalog}'::regclass"
        f" AND x.objid = {oid} AND x.deptype = 'e')"
    )


_QUERIES: dict[str, str] = {
    **_BASE_QUERIES,
    "schemas": f"""
        SELECT n.nspname FROM pg_namespace n
        WHERE {_user("n")} AND {_own("pg_namespace", "n.oid")}
    """,
    "relation_options": f"""
        SELECT n.nspname, c.relname, c.relkind, c.reloptions, c.relreplident
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'm', 'f') AND {_user("n")}
          AND {_own("pg_class", "c.oid")}
          AND (c.reloptions IS NOT NULL OR c.relreplident NOT IN ('d', 'n'))
    """,
    "column_collations": f"""
        SELECT n.nspname, c.relname, a.attname, co.collname
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        JOIN pg_collation co ON co.oid = a.attcollation
        WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attcollation <> t.typcollation
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND {_user("n")}
    """,
    "sequences": f"""
        SELECT n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               s.seqmax, s.seqmin, s.seqcache, s.seqcycle,
               (SELECT tn.nspname || '.' || t.relname || '.' || a.attname || ':' || d.deptype::text
                FROM pg_depend d
                JOIN pg_class t ON t.oid = d.refobjid
                JOIN pg_namespace tn ON tn.oid = t.relnamespace
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_user("n")} AND {_own("pg_class", "c.oid")}
    """,
    "views": f"""
        SELECT n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid), c.reloptions
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_user("n")} AND {_own("pg_class", "c.oid")}
    """,
    "functions": f"""
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
               CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
               (SELECT ROW(g.aggkind, g.aggtransfn::regproc, g.aggfinalfn::regproc,
                           g.aggcombinefn::regproc, format_type(g.aggtranstype, NULL),
                           g.agginitval, g.aggsortop::regoperator)::text
                FROM pg_aggregate g WHERE g.aggfnoid = p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {_user("n")} AND {_own("pg_proc", "p.oid")}
    """,
    "triggers": f"""
        SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND {_user("n")}
    """,
    "event_triggers": f"""
        SELECT e.evtname, e.evtevent, e.evtfoid::regproc::text, e.evtenabled, e.evttags
        FROM pg_event_trigger e WHERE {_own("pg_event_trigger", "e.oid")}
    """,
    "domains": f"""
        SELECT n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod), t.typnotnull,
               t.typdefault,
               (SELECT co.collname FROM pg_collation co
                WHERE co.oid = t.typcollation AND t.typcollation <> b.typcollation),
               array(SELECT k.conname || ': ' || pg_get_constraintdef(k.oid)
                     FROM pg_constraint k WHERE k.contypid = t.oid ORDER BY 1)
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_type b ON b.oid = t.typbasetype
        WHERE t.typtype = 'd' AND {_user("n")} AND {_own("pg_type", "t.oid")}
    """,
    "composite_types": f"""
        SELECT n.nspname, t.typname,
               array(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                     FROM pg_attribute a
                     WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
                     ORDER BY a.attnum)
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_class c ON c.oid = t.typrelid
        WHERE t.typtype = 'c' AND c.relkind = 'c' AND {_user("n")} AND {_own("pg_type", "t.oid")}
    """,
    "range_types": f"""
        SELECT n.nspname, t.typname, format_type(r.rngsubtype, NULL), r.rngsubopc::regclass::text,
               r.rngcanonical::regproc::text, r.rngsubdiff::regproc::text,
               (SELECT co.collname FROM pg_collation co WHERE co.oid = r.rngcollation)
        FROM pg_range r
        JOIN pg_type t ON t.oid = r.rngtypid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE {_user("n")} AND {_own("pg_type", "t.oid")}
    """,
    "extensions": """
        SELECT e.extname, n.nspname, e.extversion
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    """,
    "comments": f"""
        SELECT o.type, o.schema, o.identity, d.description
        FROM pg_description d,
             LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o
        WHERE (o.schema IS NULL OR o.schema NOT IN {_EXCLUDED})
          AND NOT (d.classoid = 'pg_namespace'::regclass AND o.identity IN {_EXCLUDED})
          AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = d.classoid
                          AND x.objid = d.objoid AND x.deptype = 'e')
          AND d.objoid >= 16384  -- FirstNormalObjectId: built-in objects' own comments out
    """,
    "partition_keys": f"""
        SELECT n.nspname, c.relname, pg_get_partkeydef(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'p' AND {_user("n")}
    """,
    "partitions": f"""
        SELECT n.nspname, c.relname, pn.nspname, p.relname, pg_get_expr(c.relpartbound, c.oid)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_inherits i ON i.inhrelid = c.oid
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace
        WHERE c.relispartition AND {_user("n")}
    """,
    "inheritance": f"""
        SELECT n.nspname, c.relname, pn.nspname, p.relname, i.inhseqno
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace pn ON pn.oid = p.relnamespace
        WHERE NOT c.relispartition AND c.relkind IN ('r', 'p', 'f') AND {_user("n")}
    """,
    "row_security": f"""
        SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (c.relrowsecurity OR c.relforcerowsecurity) AND {_user("n")}
    """,
    "policies": f"""
        SELECT schemaname, tablename, policyname, permissive,
               array(SELECT r FROM unnest(roles) r ORDER BY r), cmd, qual, with_check
        FROM pg_policies WHERE schemaname NOT IN {_EXCLUDED}
    """,
    "collations": f"""
        SELECT n.nspname, c.collname, c.collprovider, c.collisdeterministic, c.collcollate,
               c.collctype,
               -- colliculocale (15, 16), colllocale (17+), neither before 15
               coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale')
        FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
        WHERE {_user("n")} AND {_own("pg_collation", "c.oid")}
    """,
    "rules": f"""
        SELECT schemaname, tablename, rulename, definition
        FROM pg_rules WHERE schemaname NOT IN {_EXCLUDED}
    """,
    "statistics": f"""
        SELECT n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid)
        FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
        WHERE {_user("n")}
    """,
}

# ACLs, with NULL (the built-in default) expanded so that "never granted" equals "granted and
# revoked back to the default"; grantors are left out.
_ACL = """
    SELECT {kind}, {schema}, {name}, coalesce(g.rolname, 'PUBLIC'), a.privilege_type,
           a.is_grantable
    FROM {source}, LATERAL aclexplode(coalesce({acl}, acldefault({code}, {owner}))) a
    LEFT JOIN pg_roles g ON g.oid = a.grantee
    WHERE {where}
"""

_PRIVILEGES = " UNION ALL ".join(
    _ACL.format(**parts)
    for parts in (
        {
            "kind": "'relation'",
            "schema": "n.nspname",
            "name": "c.relname",
            "source": "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace",
            "acl": "c.relacl",
            "code": "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\"",
            "owner": "c.relowner",
            "where": f"c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_user('n')}",
        },
        {
            "kind": "'column'",
            "schema": "n.nspname",
            "name": "c.relname || '.' || t.attname",
            "source": "pg_attribute t JOIN pg_class c ON c.oid = t.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace",
            "acl": "t.attacl",
            "code": "'c'::\"char\"",
            "owner": "c.relowner",
            "where": f"t.attnum > 0 AND NOT t.attisdropped AND t.attacl IS NOT NULL"
            f" AND {_user('n')}",
        },
        {
            "kind": "'schema'",
            "schema": "n.nspname",
            "name": "n.nspname",
            "source": "pg_namespace n",
            "acl": "n.nspacl",
            "code": "'n'::\"char\"",
            "owner": "n.nspowner",
            "where": _user("n"),
        },
        {
            "kind": "'function'",
            "schema": "n.nspname",
            "name": "p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'",
            "source": "pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace",
            "acl": "p.proacl",
            "code": "'f'::\"char\"",
            "owner": "p.proowner",
            "where": f"{_user('n')} AND {_own('pg_proc', 'p.oid')}",
        },
        {
            "kind": "'type'",
            "schema": "n.nspname",
            "name": "y.typname",
            "source": "pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace",
            "acl": "y.typacl",
            "code": "'T'::\"char\"",
            "owner": "y.typowner",
            "where": f"y.typtype IN ('e', 'd', 'r', 'c', 'b') AND y.typelem = 0 AND {_user('n')}"
            f" AND {_own('pg_type', 'y.oid')}",
        },
    )
)

KINDS: tuple[str, ...] = tuple(_QUERIES)
"""Every kind compared by default (privileges only on request)."""

Snapshot = dict[str, set[tuple[Any, ...]]]
Differences = dict[str, tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]]


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, bytes):  # "char" columns (relkind, attidentity, ...)
        return value.decode("latin-1")
    return value


async def snapshot_connection(conn: asyncpg.Connection, *, privileges: bool = False) -> Snapshot:
    """Every kind of :data:`KINDS` (plus ``privileges`` if asked) of ``conn``'s database.

    All queries see one snapshot (a REPEATABLE READ, READ ONLY transaction).
    """
    queries = dict(_QUERIES)
    if privileges:
        queries["privileges"] = _PRIVILEGES
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return {
            kind: {_hashable(tuple(row)) for row in await conn.fetch(query)}
            for kind, query in queries.items()
        }


async def snapshot_full(url: str, *, privileges: bool = False) -> Snapshot:
    """:func:`snapshot_connection` of the database at ``url`` (on a connection of its own)."""
    conn = await asyncpg.connect(url)
    try:
        return await snapshot_connection(conn, privileges=privileges)
    finally:
        await conn.close()


def compare(source: Snapshot, target: Snapshot) -> Differences:
    """Per differing kind: (rows only in ``source`` = missing, rows only in ``target`` = extra)."""
    result: Differences = {}
    for kind in source.keys() | target.keys():
        s, t = source.get(kind, set()), target.get(kind, set())
        if s != t:
            result[kind] = (s - t, t - s)
    return dict(sorted(result.items()))


async def schema_differences(
    source_url: str, target_url: str, *, privileges: bool = False
) -> Differences:
    """What still differs between the two databases (empty when they converged)."""
    source = await snapshot_full(source_url, privileges=privileges)
    target = await snapshot_full(target_url, privileges=privileges)
    return compare(source, target)


def format_differences(differences: Differences, *, limit: int = 6) -> str:
    """The differences as readable lines, at most ``limit`` rows per side and kind."""

    def rows(items: set[tuple[Any, ...]]) -> str:
        shown = sorted(map(str, items))
        more = f" ... (+{len(shown) - limit})" if len(shown) > limit else ""
        return "; ".join(shown[:limit]) + more

    lines = []
    for kind, (missing, extra) in differences.items():
        if missing:
            lines.append(f"{kind}: missing {rows(missing)}")
        if extra:
            lines.append(f"{kind}: extra {rows(extra)}")
    return "\n".join(lines)


async def assert_same_schema_full(
    source_url: str, target_url: str, *, privileges: bool = False
) -> None:
    """Fail with the differences when the two databases' schemas are not equal."""
    differences = await schema_differences(source_url, target_url, privileges=privileges)
    assert not differences, "schemas differ:\n" + format_differences(differences)
