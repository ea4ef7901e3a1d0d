"""Dependency ordering of diff operations: a sequence that always applies.

Operations are put into phases (see ``_phase``) that follow SQL's dependency rules: whatever
depends on an object is dropped before it and created after it; a dialect adds its own rules
(:class:`OrderRules`, e.g. :mod:`.postgres_order`). Foreign keys are always
separate operations added after every table and key exists, which also breaks FK cycles. Within
a phase the order is deterministic (by name); where objects of one phase depend on each other,
they are sorted topologically: views and the SQL functions that read relations (created
together), tables under their partition or INHERITS parents, and types and functions (a domain
after the functions its CHECK calls and the type it is based on, a function after the types of
its signature, a composite type after its attributes' types; dependencies from pg_depend).

Functions come early, with the types (before the tables whose defaults, checks and indexes may
call them) unless their body reads relations, their signature uses a relation's row type or
they are recreated: those are created with the views. Triggers and policies are created last
and dropped first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from enum import IntEnum, auto
from typing import Protocol

from schemashift.schemas.catalog import Function, Sequence, Table, View
from schemashift.schemas.operations import ObjectType, Operation, OpKind


class Phase(IntEnum):
    """The phases in the order they run: a new one goes where it belongs, numbers follow."""

    CREATE_SCHEMA = auto()
    CREATE_EXTENSION = auto()
    CREATE_COLLATION = auto()
    CREATE_SEQUENCE = auto()
    # Enums, domains, composite types (created; enums and composites altered) and the functions
    # that read no relation (created or replaced), in dependency order: a domain's CHECK may
    # call a function, a function's signature may use a type.
    CREATE_TYPE = auto()
    ALTER_SEQUENCE = auto()  # options, and OWNED BY NONE before an owner column goes away
    DROP_COMMENT = auto()  # while the commented object still exists
    REVOKE = auto()
    DROP_TRIGGER = auto()
    DROP_POLICY = auto()
    DROP_VIEW = auto()  # and functions that read relations
    # DETACH PARTITION / NO INHERIT: before a parent is dropped, and before a parent's
    # constraints are, so that what the table got from it goes with the link (a check it
    # declared too stays its own once the parent's is gone).
    DROP_INHERITANCE = auto()
    DROP_FOREIGN_KEY = auto()
    DROP_CONSTRAINT = auto()
    DROP_INDEX = auto()
    DROP_TABLE = auto()
    DROP_COLUMN = auto()
    DROP_REBUILT_FUNCTION = auto()  # its dependents are gone, it is created again with the views
    ALTER_TABLE = auto()
    ADD_COLUMN = auto()
    ALTER_COLUMN = auto()
    CREATE_TABLE = auto()
    DROP_SEQUENCE = auto()  # after the columns whose defaults used them are gone
    ADD_CONSTRAINT = auto()
    CREATE_INDEX = auto()
    CREATE_INHERITANCE = auto()  # ATTACH PARTITION / INHERIT, once both tables are complete
    ADD_FOREIGN_KEY = auto()  # every referenced key exists by now
    OWN_SEQUENCE = auto()  # OWNED BY needs the owner column
    CREATE_VIEW = auto()  # views, and functions that read relations
    CREATE_VIEW_INDEX = auto()
    CREATE_TRIGGER = auto()
    CREATE_POLICY = auto()
    DROP_TYPE = auto()  # types and functions, in reverse dependency order
    DROP_COLLATION = auto()  # after the columns, domains and types using them
    ALTER_EXTENSION = auto()
    DROP_EXTENSION = auto()
    DROP_SCHEMA = auto()
    GRANT = auto()  # and revokes of defaults on objects the script creates
    COMMENT = auto()


_CREATE_DROP: dict[ObjectType, tuple[Phase, Phase]] = {
    ObjectType.SCHEMA: (Phase.CREATE_SCHEMA, Phase.DROP_SCHEMA),
    ObjectType.EXTENSION: (Phase.CREATE_EXTENSION, Phase.DROP_EXTENSION),
    ObjectType.COLLATION: (Phase.CREATE_COLLATION, Phase.DROP_COLLATION),
    ObjectType.ENUM: (Phase.CREATE_TYPE, Phase.DROP_TYPE),
    ObjectType.DOMAIN: (Phase.CREATE_TYPE, Phase.DROP_TYPE),
    ObjectType.COMPOSITE_TYPE: (Phase.CREATE_TYPE, Phase.DROP_TYPE),
    ObjectType.RANGE_TYPE: (Phase.CREATE_TYPE, Phase.DROP_TYPE),
    ObjectType.SEQUENCE: (Phase.CREATE_SEQUENCE, Phase.DROP_SEQUENCE),
    ObjectType.TABLE: (Phase.CREATE_TABLE, Phase.DROP_TABLE),
    ObjectType.INHERITANCE: (Phase.CREATE_INHERITANCE, Phase.DROP_INHERITANCE),
    ObjectType.COLUMN: (Phase.ADD_COLUMN, Phase.DROP_COLUMN),
    ObjectType.CONSTRAINT: (Phase.ADD_CONSTRAINT, Phase.DROP_CONSTRAINT),
    ObjectType.FOREIGN_KEY: (Phase.ADD_FOREIGN_KEY, Phase.DROP_FOREIGN_KEY),
    ObjectType.INDEX: (Phase.CREATE_INDEX, Phase.DROP_INDEX),
    ObjectType.VIEW: (Phase.CREATE_VIEW, Phase.DROP_VIEW),
    ObjectType.MATERIALIZED_VIEW: (Phase.CREATE_VIEW, Phase.DROP_VIEW),
    ObjectType.TRIGGER: (Phase.CREATE_TRIGGER, Phase.DROP_TRIGGER),
    ObjectType.POLICY: (Phase.CREATE_POLICY, Phase.DROP_POLICY),
    ObjectType.STATISTICS: (Phase.CREATE_INDEX, Phase.DROP_INDEX),
    ObjectType.COMMENT: (Phase.COMMENT, Phase.DROP_COMMENT),
}

_ALTER: dict[ObjectType, Phase] = {
    ObjectType.EXTENSION: Phase.ALTER_EXTENSION,
    ObjectType.ENUM: Phase.CREATE_TYPE,
    ObjectType.DOMAIN: Phase.CREATE_TYPE,
    ObjectType.COMPOSITE_TYPE: Phase.CREATE_TYPE,
    ObjectType.TABLE: Phase.ALTER_TABLE,
    ObjectType.COLUMN: Phase.ALTER_COLUMN,
    ObjectType.CONSTRAINT: Phase.ADD_CONSTRAINT,  # VALIDATE (or back to NOT VALID)
    ObjectType.FOREIGN_KEY: Phase.ADD_FOREIGN_KEY,
    ObjectType.TRIGGER: Phase.CREATE_TRIGGER,
    ObjectType.POLICY: Phase.CREATE_POLICY,
    ObjectType.STATISTICS: Phase.CREATE_INDEX,
    ObjectType.COMMENT: Phase.COMMENT,
}

# Within the type phases, before the dependency sort: enums, functions, domains, composite
# types (created in this order, dropped in the reverse one).
_TYPE_RANK = {
    ObjectType.COLLATION: 1,  # a recreated one: dropped (-1) before it is created (1)
    ObjectType.ENUM: 0,
    ObjectType.FUNCTION: 1,
    ObjectType.DOMAIN: 2,
    ObjectType.COMPOSITE_TYPE: 3,
    ObjectType.RANGE_TYPE: 3,
}


class OrderRules(Protocol):
    """Where a dialect's dependency rules differ from the shared ones."""

    def phase(self, op: Operation) -> Phase | None:
        """The phase of ``op`` under the dialect's own rules; None where the shared ones hold."""
        ...


class SharedRules:
    """No rules of a dialect's own: every operation goes where the shared rules put it."""

    def phase(self, op: Operation) -> Phase | None:
        return None


def _phase(op: Operation, rules: OrderRules) -> Phase:
    if (own := rules.phase(op)) is not None:
        return own
    match op.object_type:
        case ObjectType.SEQUENCE if op.kind is OpKind.ALTER:
            new_owner = op.new_as(Sequence).owned_by
            gains_owner = new_owner is not None and new_owner != op.old_as(Sequence).owned_by
            return Phase.OWN_SEQUENCE if gains_owner else Phase.ALTER_SEQUENCE
        case ObjectType.FUNCTION:
            late = op.reason or op.hints.references or op.hints.swapped_types
            if op.kind is OpKind.DROP:
                if op.reason:
                    return Phase.DROP_REBUILT_FUNCTION
                # One that reads relations (or takes a row type), or whose signature uses a
                # swapped type, goes before them.
                return Phase.DROP_VIEW if late else Phase.DROP_TYPE
            return Phase.CREATE_VIEW if late else Phase.CREATE_TYPE
        case ObjectType.COLLATION if op.kind is OpKind.DROP and op.reason:
            return Phase.CREATE_COLLATION  # recreated: dropped right before it is created
        case ObjectType.PRIVILEGE:
            fresh = op.hints.fresh
            return Phase.REVOKE if op.kind is OpKind.DROP and not fresh else Phase.GRANT
        case ObjectType.INDEX if op.kind is OpKind.CREATE and op.hints.on_view:
            return Phase.CREATE_VIEW_INDEX
    if op.kind is OpKind.ALTER:
        return _ALTER[op.object_type]
    create, drop = _CREATE_DROP[op.object_type]
    return create if op.kind is OpKind.CREATE else drop


def _rank(op: Operation) -> int:
    rank = _TYPE_RANK.get(op.object_type, 0)
    return -rank if op.kind is OpKind.DROP else rank


def plan(ops: list[Operation], rules: OrderRules | None = None) -> list[Operation]:
    """``ops`` in an order in which each one's dependencies exist when it runs, by the shared
    rules and the dialect's own (``rules``)."""
    rules = rules or SharedRules()
    phases = [_phase(op, rules) for op in ops]

    def sort_key(position: int) -> tuple[int, int, str, str, str, int]:
        op = ops[position]
        # Added columns keep the differ's (source) order; everything else goes by name.
        name = "" if op.object_type is ObjectType.COLUMN and op.kind is OpKind.CREATE else op.name
        return (phases[position], _rank(op), op.schema_name or "", op.table or "", name, position)

    order = sorted(range(len(ops)), key=sort_key)
    ordered = [ops[i] for i in order]
    ordered_phases = [phases[i] for i in order]
    for phase, reverse, deps in (
        (Phase.CREATE_VIEW, False, _view_deps),
        (Phase.DROP_VIEW, True, _view_deps),
        (Phase.CREATE_TABLE, False, _table_deps),
        (Phase.DROP_TABLE, True, _table_deps),
        (Phase.CREATE_TYPE, False, _type_deps),
        (Phase.DROP_TYPE, True, _type_deps),
    ):
        ordered = _sort_phase(ordered, ordered_phases, phase, reverse, deps)
    return ordered


Node = Hashable


def _view_deps(op: Operation) -> tuple[Node, list[Node]]:
    """A view (or a function created with the views) and what it needs first."""
    if op.object_type is ObjectType.FUNCTION:
        function = op.obj_as(Function)
        node: Node = ("fn", op.schema_name, function.name, function.identity_args)
        return node, [("rel", r[0], r[1]) for r in op.hints.references]
    view = op.obj_as(View)
    needs: list[Node] = [("rel", d[0], d[1]) for d in view.depends_on]
    needs += [("fn", *f) for f in view.functions]
    return ("rel", op.schema_name, op.name), needs


def _type_deps(op: Operation) -> tuple[Node, list[Node]]:
    """A type or function and the types and functions it needs first."""
    obj = op.obj
    # Enums have neither, collations neither: the other type kinds and functions have both.
    needs: list[Node] = [("type", *t) for t in getattr(obj, "types", ())]
    needs += [("fn", *f) for f in getattr(obj, "functions", ())]
    if isinstance(obj, Function):
        return ("fn", op.schema_name, obj.name, obj.identity_args), needs
    return ("type", op.schema_name, op.name), needs


def _table_deps(op: Operation) -> tuple[Node, list[Node]]:
    """A table and its partition / INHERITS parents."""
    table = op.obj_as(Table)
    parents: list[Node] = [tuple(p) for p in table.inherits]
    if table.partition_of:
        parents.append(tuple(table.partition_of))
    return (op.schema_name, op.name), parents


def _sort_phase(
    ops: list[Operation],
    phases: list[Phase],
    phase: Phase,
    reverse: bool,
    deps: Callable[[Operation], tuple[Node, list[Node]]],
) -> list[Operation]:
    """Sort the operations of ``phase`` (``phases[i]`` is the phase of ``ops[i]``) so that each
    comes after what it needs (before, if ``reverse``), keeping the others where they are."""
    result = list(ops)
    slots = [i for i, p in enumerate(phases) if p is phase]
    if len(slots) < 2:
        return result
    members = [result[i] for i in slots]
    needs: dict[Node, list[Node]] = {}
    by_node: dict[Node, list[Operation]] = {}
    for op in members:
        node, wanted = deps(op)
        by_node.setdefault(node, []).append(op)
        needs.setdefault(node, []).extend(wanted)
    out: list[Operation] = []
    seen: set[Node] = set()

    def visit(node: Node) -> None:
        # Iterative depth-first search: dependency chains may be long.
        stack = [(node, iter(sorted(set(needs[node]), key=repr)))]
        seen.add(node)
        while stack:
            current, pending = stack[-1]
            for dep in pending:
                if dep in by_node and dep not in seen:
                    seen.add(dep)  # PostgreSQL allows no cycles among these
                    stack.append((dep, iter(sorted(set(needs[dep]), key=repr))))
                    break
            else:
                stack.pop()
                out.extend(by_node[current])

    for op in members:
        node = deps(op)[0]
        if node not in seen:
            visit(node)
    for i, op in zip(slots, out[::-1] if reverse else out, strict=True):
        result[i] = op
    return result
