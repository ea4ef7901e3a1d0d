"""Never emit a statement the target's server rejects: syntax that needs a newer PostgreSQL
than the target's is refused with a clear error instead."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from schemas.catalog import Catalog, Table
from schemas.operations import ObjectType, Operation, OpKind

from .common import Unsupported

# The first major version whose NOT NULL constraints are named pg_constraint rows.
NAMED_NOT_NULL = 18


def comparable(source: Catalog, target: Catalog) -> tuple[Catalog, Catalog]:
    """``source`` and ``target`` with what only one of the two servers records left out.

    NOT NULL constraint names exist from PostgreSQL 18: between an older and a newer server
    they are not compared (the older one accepts a name and forgets it)."""
    named = [(c.server_major() or 0) >= NAMED_NOT_NULL for c in (source, target)]
    if named[0] == named[1]:
        return source, target
    if named[0]:
        return _without_not_null_names(source), target
    return source, _without_not_null_names(target)


def _without_not_null_names(catalog: Catalog) -> Catalog:
    def table(t: Table) -> Table:
        if all(c.not_null_name is None for c in t.columns):
            return t
        columns = [c.model_copy(update={"not_null_name": None}) for c in t.columns]
        return t.model_copy(update={"columns": columns})

    fields = {name: getattr(catalog, name) for name in Catalog.model_fields}
    return Catalog.trusted_dict({**fields, "tables": [table(t) for t in catalog.tables]})


class UnsupportedByTarget(Unsupported):
    """The migration would need a feature the target's PostgreSQL version does not have."""


# (minimum major version, feature, pattern in SQL text the engine would run verbatim). Each
# entry is checked against real servers of the versions around its minimum by
# tests/integration/test_engine_versions.py.
FEATURES: list[tuple[int, str, re.Pattern[str]]] = [
    (18, "virtual generated columns", re.compile(r"\bGENERATED ALWAYS AS \(.*\) VIRTUAL$", re.S)),
    (18, "NOT ENFORCED constraints", re.compile(r"\bNOT ENFORCED\b", re.I)),
    (18, "temporal keys (WITHOUT OVERLAPS, PERIOD)", re.compile(r"\bWITHOUT OVERLAPS\b", re.I)),
    (18, "uuidv7() and uuidv4()", re.compile(r"\buuidv[47]\(", re.I)),
    (
        17,
        "SQL/JSON query functions (JSON_TABLE, JSON_QUERY, JSON_VALUE, JSON_EXISTS)",
        re.compile(r"\bJSON_(TABLE|QUERY|VALUE|EXISTS)\s*\(", re.I),
    ),
    (
        16,
        "SQL/JSON constructors and IS JSON",
        re.compile(r"\bJSON_(ARRAY|OBJECT|ARRAYAGG|OBJECTAGG)\s*\(|\bIS\s+(NOT\s+)?JSON\b", re.I),
    ),
    (16, "any_value()", re.compile(r"\bany_value\(", re.I)),
    (15, "UNIQUE NULLS NOT DISTINCT", re.compile(r"\bNULLS NOT DISTINCT\b", re.I)),
    (15, "MERGE statements", re.compile(r"\bMERGE\s+INTO\b", re.I)),
    (15, "security_invoker views", re.compile(r"\bsecurity_invoker\b", re.I)),
    (14, "SQL-standard function bodies (BEGIN ATOMIC)", re.compile(r"\bBEGIN ATOMIC\b", re.I)),
    (14, "multirange types", re.compile(r"\w+multirange\b", re.I)),
    (12, "generated columns", re.compile(r"\bGENERATED ALWAYS AS \(", re.I)),
]


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def _columns(o: Operation) -> list[dict[str, Any]]:
    if not o.new:
        return []
    if o.object_type is ObjectType.COLUMN:
        return [o.new]
    if o.object_type is ObjectType.TABLE:
        return list(o.new.get("columns", ()))
    return []


def _generation(column: dict[str, Any]) -> str:
    """The generation clause as the renderer writes it (stored and virtual differ in syntax
    only there, not in the column's recorded expression)."""
    kind = "VIRTUAL" if column.get("virtual") else "STORED"
    return f"GENERATED ALWAYS AS ({column['generated']}) {kind}"


def check_versions(ops: list[Operation], target: Catalog) -> None:
    """Raise :class:`UnsupportedByTarget` if an operation (or its reverse) would run syntax the
    target's server version does not accept. Unknown versions are not checked."""
    major = target.server_major()
    missing = [f for f in FEATURES if major is not None and major < f[0]]
    if not missing:
        return
    for o in ops:
        if o.kind is OpKind.DROP and o.object_type is not ObjectType.COLUMN:
            continue  # drops run no definition text
        texts = list(_texts(o.new))
        texts += [_generation(c) for c in _columns(o) if c.get("generated")]
        for minimum, feature, pattern in missing:
            if any(pattern.search(t) for t in texts):
                raise UnsupportedByTarget(
                    f"{o.label} {o.qualified_name} needs {feature}, which PostgreSQL {major} "
                    f"(the target's version) does not support; PostgreSQL {minimum} or later "
                    "is required"
                )
