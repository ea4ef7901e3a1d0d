"""Introspection time of a large MySQL/MariaDB database: ``introspect_connection`` on N tables.

Creates a throwaway database ``ss_bench_<hex>`` on the server of ``SCHEMASHIFT_MARIADB_URL``
with ``--tables`` tables of a realistic shape (a dozen columns, a primary key, secondary and
unique indexes, a foreign key on every third table, a generated column on every tenth, a
FULLTEXT index on every twentieth, partitioning on every fiftieth), then reads its schema
``--repeat`` times over one warm connection and prints the time of the first read (nothing
cached in the process yet) and the median, minimum and maximum wall time of the others. The
database is dropped at the end (``--keep`` keeps it, and ``--database NAME`` reads a kept one
again, so that two versions of the code are timed on the same tables).

Usage (from the repository root)::

    .venv/bin/python bench/mysql_introspect.py [--tables 1000] [--repeat 5] [--keep]
        [--database NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemashift.consumers.common.drivers.mysql import DRIVER  # noqa: E402
from schemashift.consumers.comparator.introspect.mysql import introspect_connection  # noqa: E402
from tests.support.infra import infra_env, with_database  # noqa: E402


def table_ddl(i: int) -> str:
    """The CREATE TABLE of the ``i``-th table."""
    lines = [
        "id bigint unsigned NOT NULL AUTO_INCREMENT",
        "name varchar(100) NOT NULL",
        "code char(8) CHARACTER SET ascii NOT NULL DEFAULT 'x'",
        "note text",
        "amount decimal(12,2) NOT NULL DEFAULT 0.00 COMMENT 'in cents, it''s `exact`'",
        "status enum('new','paid','gone') NOT NULL DEFAULT 'new'",
        "flags set('a','b','c')",
        "created timestamp NOT NULL DEFAULT current_timestamp()",
        "updated datetime(3) NULL ON UPDATE current_timestamp(3)",
        "ref_id bigint unsigned NULL",
        "doc json",
    ]
    if i % 10 == 0:
        lines.append("name_len int AS (char_length(name)) VIRTUAL")
    keys = ["KEY k_name (name)", "UNIQUE KEY u_code (code, id)", "KEY k_created (created DESC)"]
    partitioned = i % 50 == 0
    if partitioned:
        keys[0] = "PRIMARY KEY (id, created)"
        keys[1] = "KEY u_code (code, id)"
    else:
        keys.insert(0, "PRIMARY KEY (id)")
    if i % 20 == 0 and not partitioned:
        keys.append("FULLTEXT KEY ft_note (note)")
    if i % 3 == 0 and i > 0 and not partitioned and (i - 1) % 50 != 0:
        keys.append(f"CONSTRAINT fk_{i} FOREIGN KEY (ref_id) REFERENCES t{i - 1:04d} (id)")
    body = ",\n  ".join(lines + keys)
    ddl = f"CREATE TABLE t{i:04d} (\n  {body}\n) ENGINE=InnoDB COMMENT='table {i}'"
    if partitioned:
        ddl += " PARTITION BY RANGE (unix_timestamp(created)) (PARTITION p0 VALUES LESS THAN "
        ddl += "(1700000000), PARTITION pmax VALUES LESS THAN MAXVALUE)"
    return ddl


async def run(tables: int, repeat: int, keep: bool, database: str | None) -> None:
    server = infra_env()["SCHEMASHIFT_MARIADB_URL"]
    name = database or f"ss_bench_{uuid.uuid4().hex[:10]}"
    if database is None:
        async with DRIVER.connect(server, timeout=10) as admin, admin.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}`")
    try:
        async with DRIVER.connect(with_database(server, name), timeout=30) as conn:
            if database is None:
                async with conn.cursor() as cur:
                    for i in range(tables):
                        await cur.execute(table_ddl(i))
            started = time.perf_counter()
            await introspect_connection(conn)  # the first read of the process: nothing cached
            first = time.perf_counter() - started
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                catalog = await introspect_connection(conn)
                times.append(time.perf_counter() - started)
        print(
            f"{len(catalog.tables)} tables: first read {first:.3f} s; then median "
            f"{statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
            f"({repeat} runs, database {name})"
        )
    finally:
        if not keep and database is None:
            async with DRIVER.connect(server, timeout=10) as admin, admin.cursor() as cur:
                await cur.execute(f"DROP DATABASE `{name}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--database", help="a database kept by an earlier run")
    args = parser.parse_args()
    asyncio.run(run(args.tables, args.repeat, args.keep, args.database))


if __name__ == "__main__":
    main()
