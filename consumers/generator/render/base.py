"""What the generator asks of a dialect's renderer, and the per-table pass it may take.

The generator orders the operations (the shared rules of :mod:`..order` plus the dialect's
:attr:`Renderer.order_rules`) and hands them to :meth:`Renderer.render`, which renders them
*unit* by unit. A unit is one operation unless the dialect groups more: a dialect that must
handle a table's changes together (MySQL merges them into one ``ALTER TABLE``) overrides
:meth:`Renderer.units`, usually with :func:`table_runs`. (SQLite's rebuild of a table, which
needs the whole table, arrives as one operation from its comparator rules.)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import ClassVar, Generic, TypeVar

from schemashift.consumers.generator.order import OrderRules
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import ObjectType, Operation, Statement

# Kinds of operation that change a table in place: the ones a per-table pass may merge.
TABLE_PARTS = frozenset(
    {
        ObjectType.TABLE,
        ObjectType.COLUMN,
        ObjectType.CONSTRAINT,
        ObjectType.FOREIGN_KEY,
        ObjectType.INDEX,
    }
)

ContextT = TypeVar("ContextT")
"""What a dialect's renderer knows about the whole script while rendering one unit."""


class Renderer(ABC, Generic[ContextT]):
    """One dialect's SQL for ordered operations; register an instance in :mod:`.render`."""

    dialect: ClassVar[Dialect]
    order_rules: ClassVar[OrderRules]

    def render(self, ops: list[Operation], *, concurrent_indexes: bool = False) -> list[Statement]:
        """Statements for already-ordered ``ops``."""
        context = self.context(ops, concurrent_indexes=concurrent_indexes)
        statements: list[Statement] = []
        for unit in self.units(ops):
            statements += self.render_unit(unit, context)
        return statements

    def units(self, ops: list[Operation]) -> Iterator[Sequence[Operation]]:
        """``ops`` in the groups that are rendered together: one operation each by default."""
        for op in ops:
            yield (op,)

    def script_text(self, statements: list[Statement]) -> str:
        """``statements`` as one script to print: each after comment lines naming its hazards
        (a dialect whose printed script must hold its own transaction adds it here)."""
        return "\n\n".join(s.annotated() for s in statements)

    @abstractmethod
    def context(self, ops: list[Operation], *, concurrent_indexes: bool) -> ContextT:
        """What rendering one unit may need to know about the whole script."""

    @abstractmethod
    def render_unit(self, unit: Sequence[Operation], context: ContextT) -> list[Statement]:
        """The statements of one unit (see :meth:`units`)."""


def table_of(op: Operation) -> tuple[str | None, str] | None:
    """The table that ``op`` changes in place, or None for an operation on another object."""
    if op.object_type not in TABLE_PARTS:
        return None
    if op.object_type is ObjectType.TABLE:
        return (op.schema_name, op.name)
    return (op.schema_name, op.table) if op.table is not None else None


def table_runs(ops: list[Operation]) -> Iterator[Sequence[Operation]]:
    """Consecutive operations on one table as one unit; every other operation alone.

    Only neighbours are grouped, so the units keep the order the generator chose: whatever
    must run between two changes of a table still does.
    """
    run: list[Operation] = []
    for op in ops:
        table = table_of(op)
        if run and (table is None or table != table_of(run[0])):
            yield tuple(run)
            run = []
        if table is None:
            yield (op,)
        else:
            run.append(op)
    if run:
        yield tuple(run)
