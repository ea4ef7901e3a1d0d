"""Per-kind comparators, Alembic-style: each module compares one kind of object.

:func:`schemashift.consumers.comparator.diff.diff` runs them in dependency order; the later ones
read what the earlier ones recorded in the shared :class:`~.common.Context` (which columns change
type, which tables or functions are rebuilt, ...) to rebuild the dependents a change would break.
"""
