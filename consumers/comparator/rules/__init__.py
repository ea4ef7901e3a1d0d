"""Each dialect's version rules, applied by :func:`schemashift.consumers.comparator.diff.diff`.

Servers of one dialect differ by version in what they record and how they print it, and in the
syntax they accept. A dialect's rules make two catalogs comparable before the diff and refuse,
after it, an operation the target's server could not run. Register one instance per dialect.
"""

from __future__ import annotations

from typing import Protocol

from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Operation

from . import mysql, postgres, sqlite


class VersionRules(Protocol):
    """What the differ asks of a dialect about its server versions."""

    dialect: Dialect

    def comparable(self, source: Catalog, target: Catalog) -> tuple[Catalog, Catalog]:
        """``source`` and ``target`` as the differ should compare them."""
        ...

    def operations(self, ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
        """``ops`` as the dialect carries them out (the shared comparators' operations
        regrouped where it changes objects otherwise, e.g. SQLite's table rebuilds)."""
        ...

    def check_versions(self, ops: list[Operation], target: Catalog) -> None:
        """Raise ``UnsupportedByTarget`` for an operation the target's server cannot run."""
        ...


RULES: dict[Dialect, VersionRules] = {
    Dialect.POSTGRESQL: postgres.RULES,
    Dialect.SQLITE: sqlite.RULES,
    Dialect.MYSQL: mysql.RULES,
}


def rules_for(dialect: Dialect) -> VersionRules:
    """The version rules of ``dialect``."""
    return RULES[dialect]
