"""Hazards: what can go wrong (or hurt) when a generated statement runs on a live database.

Statements carry these so that a migration applies only when the requester accepted every
hazard in it (``ComparisonRequested.allow_hazards``).
"""

from __future__ import annotations

from enum import StrEnum


class Hazard(StrEnum):
    """One risk of running a statement against a database that holds data."""

    DATA_LOSS = "data_loss"
    """Rows or values may be lost: dropping a table/column, narrowing a type."""

    TABLE_REWRITE = "table_rewrite"
    """PostgreSQL rewrites the whole table (and its indexes) under an exclusive lock."""

    LONG_LOCK = "long_lock"
    """An ACCESS EXCLUSIVE lock is held while the table is scanned (e.g. SET NOT NULL)."""

    INDEX_BUILD = "index_build"
    """An index is built; writes to the table block until it finishes (non-concurrent)."""

    NEEDS_VALIDATION = "needs_validation"
    """Existing rows are checked against a new constraint; the statement fails if any violate."""

    NOT_TRANSACTIONAL = "not_transactional"
    """The statement cannot run inside a transaction block, so it cannot be rolled back."""

    IRREVERSIBLE = "irreversible"
    """The reverse script cannot restore the previous state exactly: a dropped table or
    (non-generated) column comes back empty, a dropped sequence or identity starts again, a
    restarted sequence loses its position, a narrowing type change its cut values, an enum
    type swap the values it removes."""

    DEPENDENT_REBUILD = "dependent_rebuild"
    """An object the diff leaves unchanged (a view, a foreign key, an index...) is dropped and
    created again around a change to something it depends on; on both statements."""
