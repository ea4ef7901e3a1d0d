"""An independent view of a PostgreSQL schema, to check convergence without our engine.

It reads the catalogs with its own plain queries (not the engine's introspection), as sets, so
that column order does not count, and leaves out the executor's own `schemashift` schema.
"""

from __future__ import annotations

import asyncpg

from schemashift.schemas.reserved import HISTORY_SCHEMA

_EXCLUDED = f"('pg_catalog', 'information_schema', '{HISTORY_SCHEMA}')"

_QUERIES = {
    "columns": f"""
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN {_EXCLUDED} AND n.nspname NOT LIKE 'pg_toast%'
    """,
    "constraints": f"""
        SELECT n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN {_EXCLUDED}
    """,
    "indexes": f"""
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname NOT IN {_EXCLUDED}
    """,
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind, c.relpersistence
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND n.nspname NOT IN {_EXCLUDED} AND n.nspname NOT LIKE 'pg_toast%'
    """,
    "types": f"""
        SELECT n.nspname, t.typname, t.typtype,
               array(SELECT enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                     ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype IN ('e', 'd') AND n.nspname NOT IN {_EXCLUDED}
    """,
}


def _hashable(row: asyncpg.Record) -> tuple[object, ...]:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


async def snapshot(url: str) -> dict[str, set[tuple[object, ...]]]:
    """Every column, constraint, index, relation and enum/domain of the database at ``url``."""
    conn = await asyncpg.connect(url)
    try:
        return {
            name: {_hashable(row) for row in await conn.fetch(query)}
            for name, query in _QUERIES.items()
        }
    finally:
        await conn.close()


async def assert_same_schema(source_url: str, target_url: str) -> None:
    """Fail with the differences when the two databases' schemas are not equal."""
    source, target = await snapshot(source_url), await snapshot(target_url)
    problems = []
    for kind in _QUERIES:
        missing, extra = source[kind] - target[kind], target[kind] - source[kind]
        if missing or extra:
            problems.append(
                f"{kind}: missing {sorted(map(str, missing))}, extra {sorted(map(str, extra))}"
            )
    assert not problems, "schemas differ:\n" + "\n".join(problems)
