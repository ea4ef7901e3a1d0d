"""Alembic autogenerate as a command that compares two live databases, for the benchmark.

``python bench/alembic_diff.py SOURCE_URL TARGET_URL`` reflects the source's tables into a
SQLAlchemy ``MetaData``, lets Alembic's autogenerate compare that metadata with the target
(types and server defaults included, as ``compare_type`` and ``compare_server_default`` ask)
and prints the upgrade as SQL (Alembic's offline mode); with ``--apply`` it runs the upgrade
on the target instead. On SQLite both go in batch mode (:func:`run_ops`). URLs are Schemashift's
(``mariadb://``, ``mysql://``, ``sqlite:///abs/path``).

It is what a user of Alembic can do without models: autogenerate compares tables, columns,
indexes, unique constraints, foreign keys and comments; it has no views, and CHECK
constraints are not compared.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations.ops import AlterColumnOp, MigrateOperation, ModifyTableOps

COMPARE = {"compare_type": True, "compare_server_default": True}


def sqlalchemy_url(url: str) -> str:
    """The SQLAlchemy URL of a Schemashift URL (PyMySQL for MySQL and MariaDB)."""
    scheme, _, rest = url.partition("://")
    if scheme in ("mysql", "mariadb"):
        return f"mysql+pymysql://{rest}{'&' if '?' in rest else '?'}charset=utf8mb4"
    if scheme == "sqlite":
        return "sqlite:////" + rest.lstrip("/")  # four slashes: an absolute path
    raise SystemExit(f"unsupported URL scheme: {scheme}")


def flatten(ops: list[Any]) -> Iterator[MigrateOperation]:
    """The operations of an upgrade, those grouped by table one by one."""
    for op in ops:
        if isinstance(op, ModifyTableOps):
            yield from flatten(op.ops)
        else:
            yield op


def upgrade_ops(source: sa.Engine, target: sa.Connection) -> list[MigrateOperation]:
    """What makes ``target`` match the tables of ``source``, as Alembic's operations (those
    of one table grouped in a ``ModifyTableOps``)."""
    metadata = sa.MetaData()
    metadata.reflect(bind=source)
    context = MigrationContext.configure(target, opts=COMPARE)
    upgrade = produce_migrations(context, metadata).upgrade_ops
    return list(upgrade.ops) if upgrade is not None else []


def as_written(op: MigrateOperation) -> MigrateOperation:
    """``op`` as a migration file written by autogenerate has it: a changed server default
    as its SQL text (``sa.text(...)``), not the reflected ``DefaultClause``, which batch mode
    cannot take."""
    if isinstance(op, AlterColumnOp) and isinstance(op.modify_server_default, sa.DefaultClause):
        op.modify_server_default = op.modify_server_default.arg
    return op


def run_ops(runner: Operations, conn: sa.Connection, ops: list[MigrateOperation]) -> None:
    """Invoke ``ops`` with ``runner``. On SQLite a table's changes go in batch mode, as Alembic
    runs SQLite migrations (SQLite alters no column in place): the table is rebuilt, copied
    from its definition in ``conn`` when ``runner`` only prints."""
    # A table this migration creates needs no batch (nor can it be copied from the target).
    batched = set(sa.inspect(conn).get_table_names()) if conn.dialect.name == "sqlite" else set()
    offline = runner.migration_context.as_sql
    for op in ops:
        if isinstance(op, ModifyTableOps) and op.table_name in batched:
            copy_from = (
                sa.Table(op.table_name, sa.MetaData(), autoload_with=conn, resolve_fks=False)
                if offline
                else None
            )
            with runner.batch_alter_table(
                op.table_name, schema=op.schema, copy_from=copy_from
            ) as table:
                for change in op.ops:
                    table.invoke(as_written(change))
        else:
            for change in flatten([op]):
                runner.invoke(as_written(change))


def apply(conn: sa.Connection, ops: list[MigrateOperation]) -> None:
    """Run ``ops`` on ``conn``, then commit."""
    run_ops(Operations(MigrationContext.configure(conn)), conn, ops)
    conn.commit()


def print_sql(conn: sa.Connection, ops: list[MigrateOperation]) -> None:
    """Print ``ops`` as SQL (Alembic's offline mode) for the target behind ``conn``."""
    offline = MigrationContext.configure(
        dialect_name=conn.dialect.name,
        opts={"as_sql": True, "output_buffer": sys.stdout, "literal_binds": True},
    )
    run_ops(Operations(offline), conn, ops)


def main(argv: list[str] | None = None) -> int:
    """Print (or with ``--apply`` run) the upgrade of TARGET to SOURCE."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("source_url")
    p.add_argument("target_url")
    p.add_argument("--apply", action="store_true", help="run the upgrade on the target")
    args = p.parse_args(argv)
    source = sa.create_engine(sqlalchemy_url(args.source_url))
    target = sa.create_engine(sqlalchemy_url(args.target_url))
    with target.connect() as conn:
        ops = upgrade_ops(source, conn)
        if args.apply:
            apply(conn, ops)
        else:
            print_sql(conn, ops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
