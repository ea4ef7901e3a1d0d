"""MySQL's ordering rule, on top of the shared ones of :mod:`.order`.

Every in-place change of a table (its options, columns, keys, checks and indexes) goes into one
phase, so that the renderer can merge a table's changes into one ``ALTER TABLE``: MySQL checks
the table only once all of its clauses are applied (an AUTO_INCREMENT column and the key it
needs, a primary key moved to other columns). Foreign keys keep their own phases: they are
dropped before, and added after, every table's changes.
"""

from __future__ import annotations

from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .order import Phase

_IN_PLACE = frozenset({ObjectType.COLUMN, ObjectType.CONSTRAINT, ObjectType.INDEX})


class MysqlOrderRules:
    """A table's in-place changes share :attr:`Phase.ALTER_COLUMN`."""

    def phase(self, op: Operation) -> Phase | None:
        if op.object_type in _IN_PLACE or (
            op.object_type is ObjectType.TABLE and op.kind is OpKind.ALTER
        ):
            return Phase.ALTER_COLUMN
        return None


RULES = MysqlOrderRules()
