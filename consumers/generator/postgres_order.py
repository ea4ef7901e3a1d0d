"""PostgreSQL's own ordering rules, on top of the shared ones of :mod:`.order`."""

from __future__ import annotations

from schemashift.schemas.catalog import labels_only_added
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
            case ObjectType.TABLE if "replica_identity" in op.obj:
                return Phase.CREATE_INHERITANCE  # REPLICA IDENTITY USING INDEX: once it exists
            case ObjectType.ENUM if not labels_only_added(
                (op.old or {}).get("labels", []), op.obj.get("labels", [])
            ):
                # A type swap converts columns: after the views over them and the columns and
                # tables the script drops are gone, before columns of the new type are added.
                return Phase.ALTER_TABLE
        return None


RULES = PostgresOrderRules()
