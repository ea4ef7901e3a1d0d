"""Render ordered operations as MySQL/MariaDB statements, each annotated with its hazards.

A table's in-place changes (options, columns, keys, checks, indexes; :mod:`..mysql_order` puts
them in one phase) become one ``ALTER TABLE`` whose clauses run in dependency order: the server
checks the table once, after all of them (an AUTO_INCREMENT column with the key it needs). Foreign
keys are dropped in a statement before those changes and added in one after every table is
complete. Names are written unqualified: the script runs in the target database. Where the
target's server can run an ALTER TABLE in place, it ends with ``ALGORITHM=INSTANT`` or
``ALGORITHM=INPLACE, LOCK=NONE`` (:mod:`.online`), and its hazards are those of that algorithm.

Every MySQL DDL statement commits on its own: each statement is ``not_transactional`` and runs
outside any transaction (the executor records how many are applied). Routines are rendered by
:mod:`.routines`, events by :mod:`.events`; the printed script puts compound statements between
``DELIMITER`` lines (:mod:`.script`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from schemashift.consumers.generator import mysql_order
from schemashift.consumers.generator.mysql_order import triggers_in_order
from schemashift.consumers.generator.render.base import Renderer, table_of, table_runs
from schemashift.schemas.catalog import (
    Column,
    Index,
    PrimaryKey,
    Table,
    TableConstraint,
    Trigger,
    View,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import ObjectType, Operation, OpKind, Statement

from . import online
from .events import event_sql
from .routines import routine_sql
from .script import script_text
from .tables import (
    H,
    add_column_hazards,
    alter_options,
    column_definition,
    constraint_definition,
    constraint_hazards,
    drop_column_hazards,
    drop_constraint,
    index_definition,
    index_hazards,
    is_partitioning,
    modify_column_hazards,
    q,
    table_options,
)

__all__ = ["RENDERER", "MysqlRenderer", "column_definition"]


@dataclass
class RenderContext:
    """Nothing about the rest of the script is needed yet: each unit stands alone."""


# The order of the clauses of one ALTER TABLE.
_CLAUSE_RANK: dict[tuple[ObjectType, OpKind], int] = {
    (ObjectType.FOREIGN_KEY, OpKind.DROP): 0,
    (ObjectType.INDEX, OpKind.DROP): 1,
    (ObjectType.CONSTRAINT, OpKind.DROP): 1,
    (ObjectType.COLUMN, OpKind.DROP): 2,
    (ObjectType.TABLE, OpKind.ALTER): 3,
    (ObjectType.COLUMN, OpKind.CREATE): 4,
    (ObjectType.COLUMN, OpKind.ALTER): 5,
    (ObjectType.CONSTRAINT, OpKind.CREATE): 6,
    (ObjectType.INDEX, OpKind.CREATE): 7,
    (ObjectType.FOREIGN_KEY, OpKind.CREATE): 8,
}


def _merged(op: Operation) -> bool:
    """Whether ``op`` is a clause of an ALTER TABLE (CREATE and DROP TABLE are statements)."""
    return table_of(op) is not None and not (
        op.object_type is ObjectType.TABLE and op.kind is not OpKind.ALTER
    )


def _by_table(ops: list[Operation]) -> list[Operation]:
    """``ops`` with each block of neighbouring mergeable operations (one phase: no order among
    them but their table's) regrouped so that one table's operations are neighbours."""
    out: list[Operation] = []
    block: dict[object, list[Operation]] = {}

    def flush() -> None:
        for group in block.values():
            out.extend(group)
        block.clear()

    for op in ops:
        if _merged(op) and op.object_type is not ObjectType.FOREIGN_KEY:
            block.setdefault(table_of(op), []).append(op)
            continue
        flush()
        out.append(op)
    flush()
    return out


def _segment(op: Operation) -> int:
    if op.object_type is not ObjectType.FOREIGN_KEY:
        return 1
    return 0 if op.kind is OpKind.DROP else 2


class MysqlRenderer(Renderer[RenderContext]):
    """MySQL's statements: one ALTER TABLE per table and phase."""

    dialect = Dialect.MYSQL
    order_rules = mysql_order.RULES

    def context(self, ops: list[Operation], *, concurrent_indexes: bool) -> RenderContext:
        return RenderContext()

    def units(self, ops: list[Operation]) -> Iterator[Sequence[Operation]]:
        yield from table_runs(_by_table(triggers_in_order(ops)))

    def script_text(self, statements: list[Statement]) -> str:
        """The script as ``mariadb db < script.sql`` runs it: compound statements between
        DELIMITER lines."""
        return script_text(statements)

    def render_unit(self, unit: Sequence[Operation], context: RenderContext) -> list[Statement]:
        out: list[Statement] = []
        clauses: list[Operation] = []
        for op in unit:
            if _merged(op):
                # Foreign keys dropped, the table's own changes, foreign keys added: three
                # statements (a foreign key cannot be dropped and added again in one).
                if clauses and _segment(clauses[-1]) != _segment(op):
                    out += _alter_table(clauses)
                    clauses = []
                clauses.append(op)
                continue
            if clauses:
                out += _alter_table(clauses)
                clauses = []
            out += _OTHERS.get(op.object_type, _unsupported)(op)
        if clauses:
            out += _alter_table(clauses)
        return out


RENDERER = MysqlRenderer()


def _unsupported(op: Operation) -> list[Statement]:
    raise ValueError(f"no MySQL statement for {op.label} {op.qualified_name}")


def _statement(sql: str, kind: str, obj: str, hazards: list[Hazard], dependent: bool) -> Statement:
    hazards = [*hazards, H.NOT_TRANSACTIONAL]
    if dependent:
        hazards.append(H.DEPENDENT_REBUILD)
    return Statement(
        sql=sql + ";",
        kind=kind,
        object=obj,
        hazards=list(dict.fromkeys(hazards)),
        transactional=False,
    )


def _view_statement(op: Operation) -> list[Statement]:
    """CREATE VIEW (with its algorithm, security and check option) or DROP VIEW."""
    view = op.obj_as(View)
    if op.kind is OpKind.DROP:
        return [
            _statement(f"DROP VIEW {q(op.name)}", op.label, op.qualified_name, [], op.dependent)
        ]
    options = dict(o.split("=", 1) for o in view.options)
    head = "CREATE"
    if "ALGORITHM" in options:
        head += f" ALGORITHM={options['ALGORITHM']}"
    if "SQL SECURITY" in options:
        head += f" SQL SECURITY {options['SQL SECURITY']}"
    sql = f"{head} VIEW {q(op.name)} AS {view.definition}"
    if "CHECK OPTION" in options:
        sql += f" WITH {options['CHECK OPTION']} CHECK OPTION"
    return [_statement(sql, op.label, op.qualified_name, [], op.dependent)]


def _trigger_statement(op: Operation) -> list[Statement]:
    """CREATE TRIGGER or DROP TRIGGER."""
    trigger = op.obj_as(Trigger)
    if op.kind is OpKind.DROP:
        sql = f"DROP TRIGGER {q(op.name)}"
    elif op.kind is OpKind.CREATE:
        sql = f"CREATE TRIGGER {q(op.name)} {trigger.definition}"
    else:
        return []  # enabled state: MySQL triggers have none
    return [_statement(sql, op.label, op.qualified_name, [], op.dependent)]


def _routine_statement(op: Operation) -> list[Statement]:
    """CREATE, CREATE OR REPLACE or DROP of a function or procedure."""
    return [_statement(routine_sql(op), op.label, op.qualified_name, [], op.dependent)]


def _event_statement(op: Operation) -> list[Statement]:
    """CREATE, ALTER or DROP EVENT."""
    sql = event_sql(op)
    if sql is None:
        return []
    return [_statement(sql, op.label, op.qualified_name, [], op.dependent)]


def _table_statement(op: Operation) -> list[Statement]:
    """CREATE TABLE (columns, keys, checks, indexes, options) or DROP TABLE."""
    table = op.obj_as(Table)
    if op.kind is OpKind.DROP:
        hazards = [H.DATA_LOSS, H.IRREVERSIBLE]
        return [_statement(f"DROP TABLE {q(op.name)}", op.label, op.qualified_name, hazards, False)]
    lines = [column_definition(c) for c in table.columns]
    lines += [constraint_definition(c) for c in table.constraints if not _is_check(c)]
    lines += [index_definition(i) for i in table.indexes]
    lines += [constraint_definition(c) for c in table.constraints if _is_check(c)]
    body = ",\n    ".join(lines)
    options = table_options(table)
    sql = f"CREATE TABLE {q(op.name)} (\n    {body}\n)" + (f" {options}" if options else "")
    return [_statement(sql, op.label, op.qualified_name, [], op.dependent)]


def _is_check(constraint: TableConstraint) -> bool:
    return constraint.definition.startswith("CHECK")


def _clause(op: Operation) -> tuple[list[str], list[Hazard]]:
    """The ALTER TABLE clauses of one operation and their hazards."""
    match op.object_type:
        case ObjectType.TABLE:
            return alter_options(op.old_as(Table), op.new_as(Table))
        case ObjectType.COLUMN:
            if op.kind is OpKind.CREATE:
                col = op.obj_as(Column)
                return [f"ADD COLUMN {column_definition(col)}"], add_column_hazards(col)
            if op.kind is OpKind.DROP:
                col = op.obj_as(Column)
                return [f"DROP COLUMN {q(col.name)}"], drop_column_hazards(col)
            old, new = op.old_as(Column), op.new_as(Column)
            return [f"MODIFY COLUMN {column_definition(new)}"], modify_column_hazards(old, new)
        case ObjectType.INDEX:
            index = op.obj_as(Index)
            if op.kind is OpKind.DROP:
                return [f"DROP INDEX {q(index.name)}"], []
            return [f"ADD {index_definition(index)}"], index_hazards(index)
        case ObjectType.CONSTRAINT | ObjectType.FOREIGN_KEY:
            constraint = op.obj
            assert isinstance(constraint, TableConstraint)
            if op.kind is OpKind.DROP:
                # InnoDB rebuilds a table whose primary key goes (its rows are clustered on it).
                rebuilt = isinstance(constraint, PrimaryKey)
                return [drop_constraint(constraint)], [
                    H.TABLE_REWRITE,
                    H.LONG_LOCK,
                ] if rebuilt else []
            if op.kind is OpKind.ALTER:  # validity: MySQL has no NOT VALID
                return [], []
            return [f"ADD {constraint_definition(constraint)}"], constraint_hazards(constraint)
    raise ValueError(f"no MySQL clause for {op.label}")


_VISIBILITY = {
    " IGNORED": ("IGNORED", "NOT IGNORED"),  # MariaDB 10.6
    " INVISIBLE": ("INVISIBLE", "VISIBLE"),  # MySQL 8
}


def _visibility_changes(ops: list[Operation]) -> dict[str, str]:
    """Indexes dropped and added again that differ only in being ignored (invisible): name →
    the ``ALTER INDEX`` keyword that changes that in place (the server would take a drop and
    an add of the same keys as no change at all)."""
    dropped = {
        o.name: o.obj_as(Index).definition
        for o in ops
        if o.object_type is ObjectType.INDEX and o.kind is OpKind.DROP
    }
    found = {}
    for o in ops:
        if o.object_type is not ObjectType.INDEX or o.kind is not OpKind.CREATE:
            continue
        old, new = dropped.get(o.name), o.obj_as(Index).definition
        for suffix, (on, off) in _VISIBILITY.items():
            if old is not None and new == old + suffix:
                found[o.name] = on
            elif old is not None and old == new + suffix:
                found[o.name] = off
    return found


def _alter_table(ops: list[Operation]) -> list[Statement]:
    """One ALTER TABLE for neighbouring changes of one table, clauses in dependency order."""
    ordered = sorted(
        ops, key=lambda o: _CLAUSE_RANK.get((o.object_type, o.kind), 5)
    )  # stable: added columns keep their order
    clauses: list[str] = []
    risks: list[tuple[Operation, list[Hazard]]] = []
    toggled = _visibility_changes(ordered)
    for op in ordered:
        if op.object_type is ObjectType.INDEX and op.name in toggled:
            if op.kind is OpKind.CREATE:
                clauses.append(f"ALTER INDEX {q(op.name)} {toggled[op.name]}")
                risks.append((op, []))
            continue
        more, hazards_of_op = _clause(op)
        if more:
            clauses += more
            risks.append((op, hazards_of_op))
    if not clauses:
        return []
    # The algorithm the server can run the statement with, held by a clause of its own.
    planned = online.plan([o for o, _ in risks], set(toggled))
    hazards = [h for o, found in risks for h in (planned.hazards(o, found) if planned else found)]
    if planned is not None:
        hazards = planned.statement_hazards(hazards, [o for o, _ in risks])
        if planned.clause:
            clauses.append(planned.clause)
    # Partitioning comes after the other clauses, without a comma.
    tail = [c for c in clauses if is_partitioning(c)]
    clauses = [c for c in clauses if not is_partitioning(c)]
    first = ops[0]
    table = first.name if first.object_type is ObjectType.TABLE else first.table or ""
    kind = first.label if len(ops) == 1 else "alter_table"
    obj = (
        first.qualified_name
        if len(ops) == 1
        else ".".join(p for p in (first.schema_name, table) if p)
    )
    sql = f"ALTER TABLE {q(table)}\n    " + "\n    ".join([",\n    ".join(clauses), *tail]).strip()
    dependent = any(o.dependent for o in ops)
    return [_statement(sql, kind, obj, hazards, dependent)]


# The statements of the operations that are no ALTER TABLE clause.
_OTHERS = {
    ObjectType.TABLE: _table_statement,
    ObjectType.VIEW: _view_statement,
    ObjectType.TRIGGER: _trigger_statement,
    ObjectType.FUNCTION: _routine_statement,
    ObjectType.EVENT: _event_statement,
}
