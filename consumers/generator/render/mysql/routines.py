"""MySQL's statements for stored functions and procedures.

A routine's catalog definition is its runnable ``CREATE FUNCTION|PROCEDURE`` text (without
DEFINER: the routine belongs to whoever runs the script). A change is ``CREATE OR REPLACE``,
which MariaDB has; for a MySQL target the comparator's rules already made it a drop and a
create (:func:`...comparator.rules.mysql.routine_changes`). ``identity_args`` holds the
routine's type, which names the statement (``DROP FUNCTION`` or ``DROP PROCEDURE``).
"""

from __future__ import annotations

from schemashift.schemas.catalog import Function
from schemashift.schemas.operations import Operation, OpKind

from .tables import q


def routine_sql(op: Operation) -> str:
    """The CREATE, CREATE OR REPLACE or DROP statement of a routine operation (no ``;``)."""
    routine = op.obj_as(Function)
    if op.kind is OpKind.DROP:
        return f"DROP {routine.identity_args.upper()} {q(routine.name)}"
    if op.kind is OpKind.CREATE:
        return routine.definition
    head, sep, rest = routine.definition.partition(" ")
    if head.upper() != "CREATE" or not sep:
        raise ValueError(f"not a CREATE statement: the definition of {op.qualified_name}")
    return f"CREATE OR REPLACE {rest}"
