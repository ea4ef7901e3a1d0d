"""The executor adapter of each dialect that Schemashift can change targets of."""

from __future__ import annotations

from schemashift.consumers.executor import mysql, postgres, sqlite
from schemashift.consumers.executor.adapters import ExecutorAdapter
from schemashift.schemas.dialects import Dialect

ADAPTERS: dict[Dialect, ExecutorAdapter] = {
    Dialect.POSTGRESQL: postgres.ADAPTER,
    Dialect.SQLITE: sqlite.ADAPTER,
    Dialect.MYSQL: mysql.ADAPTER,
}


def adapter_for(dialect: Dialect | str) -> ExecutorAdapter | None:
    """The adapter of ``dialect``; None if targets of that dialect cannot be changed yet."""
    try:
        return ADAPTERS.get(Dialect(dialect))
    except ValueError:
        return None
