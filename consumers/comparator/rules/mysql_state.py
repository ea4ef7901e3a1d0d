"""The facts an ALTER TABLE's ALGORITHM and LOCK depend on, put on the operations that the
renderer merges into one: the target's server, and each side's table (its engine and row
format, FULLTEXT indexes, indexed virtual columns, key and indexed columns).

The old side holds the table as the migration finds it, the new side the table as it leaves
it: the forward script alters the first, the reverse script (whose operations swap the sides)
the second. Both run on the target's server.
"""

from __future__ import annotations

from schemashift.schemas.catalog import Catalog, PrimaryKey, Table
from schemashift.schemas.operations import NO_HINTS, ObjectType, Operation, OpKind, TableState

_TABLE_PARTS = frozenset(
    {ObjectType.COLUMN, ObjectType.CONSTRAINT, ObjectType.FOREIGN_KEY, ObjectType.INDEX}
)


def table_state(table: Table, server: str | None) -> TableState:
    """``table``'s facts that decide how ``server`` can alter it in place."""
    options = dict(o.split("=", 1) for o in table.options if "=" in o)
    key_columns = next((c.columns for c in table.constraints if isinstance(c, PrimaryKey)), [])
    indexed = {c for i in table.indexes for c in i.columns} | set(key_columns)
    virtual = {c.name for c in table.columns if c.generated is not None and c.virtual}
    return TableState(
        server=server,
        engine=options.get("ENGINE"),
        row_format=options.get("ROW_FORMAT"),
        charset=options.get("DEFAULT CHARSET"),
        # InnoDB's hidden FTS_DOC_ID column comes with FULLTEXT indexes, a visible one by name.
        fulltext=any(i.method == "fulltext" for i in table.indexes)
        or any(c.name.upper() == "FTS_DOC_ID" for c in table.columns),
        indexed_virtual=bool(virtual & indexed),
        key_columns=list(key_columns),
        indexed_columns=sorted(indexed),
    )


def _table_name(op: Operation) -> str | None:
    if op.object_type is ObjectType.TABLE:
        return op.name if op.kind is OpKind.ALTER else None
    return op.table if op.object_type in _TABLE_PARTS else None


def with_table_states(ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
    """``ops`` with the state of their table on both sides (:attr:`Hints.table_state`)."""
    server = target.server_version
    sources = {t.name: t for t in source.tables}
    targets = {t.name: t for t in target.tables}
    states: dict[tuple[str, str], TableState] = {}

    def state(name: str, side: str) -> TableState | None:
        first, other = (targets, sources) if side == "old" else (sources, targets)
        table = first.get(name) or other.get(name)
        if table is None:
            return None
        if (name, side) not in states:
            states[(name, side)] = table_state(table, server)
        return states[(name, side)]

    out = []
    for o in ops:
        name = _table_name(o)
        if name is not None:
            old, new = state(name, "old"), state(name, "new")
            o = o.model_copy(
                update={
                    "old_hints": (o.old_hints or NO_HINTS).model_copy(update={"table_state": old}),
                    "new_hints": (o.new_hints or NO_HINTS).model_copy(update={"table_state": new}),
                }
            )
        out.append(o)
    return out
