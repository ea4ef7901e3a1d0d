"""PostgreSQL's own ordering rules, on top of the shared ones of :mod:`.order`."""

from __future__ import annotations

from schemashift.schemas.catalog import EnumType, Table, labels_only_added
from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .order import Phase


class PostgresOrderRules:
    """Where PostgreSQL needs an operation in another phase than the shared rules give it."""

    def phase(self, op: Operation) -> Phase | None:
        if op.kind is not OpKind.ALTER:
            return None
        match op.object_type:
            case ObjectType.DOMAIN:
                # New domain constraints are refused while an array of the domain is a column:
                # the domain changes after columns are dropped and before they are added.
                return Phase.ALTER_TABLE
            case ObjectType.TABLE if _replica_identity_changes(op):
                return Phase.CREATE_INHERITANCE  # REPLICA IDENTITY USING INDEX: once it exists
            case ObjectType.ENUM if not labels_only_added(
                op.old_as(EnumType).labels, op.new_as(EnumType).labels
            ):
                # A type swap converts columns: after the views over them and the columns and
                # tables the script drops are gone, before columns of the new type are added.
                return Phase.ALTER_TABLE
        return None


def _replica_identity_changes(op: Operation) -> bool:
    # The differ changes the replica identity in an ALTER of its own (see compare_tables).
    return op.old_as(Table).replica_identity != op.new_as(Table).replica_identity


RULES = PostgresOrderRules()
