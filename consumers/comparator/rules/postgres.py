"""PostgreSQL's version rules: what differs between servers of two major versions.

Catalogs of servers that record or print things differently are made comparable first, and a
statement the target's server would reject (syntax of a newer PostgreSQL than the target's) is
refused with a clear error instead of being emitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from schemashift.consumers.comparator.compare.common import UnsupportedByTarget
from schemashift.schemas.catalog import Catalog, Column, Table
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import ObjectType, Operation, OpKind

from .postgres_viewtext import differs_by_version, same_query

# The first major version whose NOT NULL constraints are named pg_constraint rows.
NAMED_NOT_NULL = 18


def comparable(source: Catalog, target: Catalog) -> tuple[Catalog, Catalog]:
    """``source`` and ``target`` as the differ should see them when their servers' versions
    differ in what they record or how they print it.

    NOT NULL constraint names exist from PostgreSQL 18: between an older and a newer server
    they are not compared (the older one accepts a name and forgets it). A view that is the
    target's query printed by another version's server (:mod:`.postgres_viewtext`) takes the
    target's text, so that it is not rebuilt for nothing.
    """
    majors = source.server_major(), target.server_major()
    named = [(m or 0) >= NAMED_NOT_NULL for m in majors]
    if named[0] and not named[1]:
        source = _without_not_null_names(source)
    elif named[1] and not named[0]:
        target = _without_not_null_names(target)
    if differs_by_version(*majors):
        source = _with_view_texts_of(target, source)
    return source, target


def _replaced(catalog: Catalog, **fields: Any) -> Catalog:
    """``catalog`` with some fields replaced (a new object: cached lookups are not copied)."""
    values = {name: getattr(catalog, name) for name in Catalog.model_fields}
    return Catalog.trusted_dict({**values, **fields})


def _without_not_null_names(catalog: Catalog) -> Catalog:
    def table(t: Table) -> Table:
        if all(c.not_null_name is None for c in t.columns):
            return t
        columns = [c.model_copy(update={"not_null_name": None}) for c in t.columns]
        return t.model_copy(update={"columns": columns})

    return _replaced(catalog, tables=[table(t) for t in catalog.tables])


def _with_view_texts_of(target: Catalog, source: Catalog) -> Catalog:
    theirs = {v.key: v.definition for v in target.views}
    views, changed = [], False
    for view in source.views:
        text = theirs.get(view.key)
        if text is not None and text != view.definition and same_query(view.definition, text):
            view, changed = view.model_copy(update={"definition": text}), True
        views.append(view)
    return _replaced(source, views=views) if changed else source


# (minimum major version, feature, pattern in SQL text the engine would run verbatim). Each
# entry is checked against real servers of the versions around its minimum by
# tests/engine/postgres/test_versions.py.
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
    elif isinstance(value, BaseModel):
        for v in value.__dict__.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def _columns(o: Operation) -> list[Column]:
    if isinstance(o.new, Column):
        return [o.new]
    if isinstance(o.new, Table):
        return o.new.columns
    return []


def _generation(column: Column) -> str:
    """The generation clause as the renderer writes it (stored and virtual differ in syntax
    only there, not in the column's recorded expression)."""
    kind = "VIRTUAL" if column.virtual else "STORED"
    return f"GENERATED ALWAYS AS ({column.generated}) {kind}"


def check_versions(ops: list[Operation], target: Catalog) -> None:
    """Raise :class:`UnsupportedByTarget` if an operation (or its reverse) would run syntax the
    target's server version does not accept. Unknown versions are not checked."""
    major = target.server_major()
    missing = [f for f in FEATURES if major is not None and major < f[0]]
    if not missing:
        return
    # One pass over each text finds the few that need a closer look.
    screen = re.compile("|".join(f"(?:{p.pattern})" for _, _, p in missing), re.I | re.S)
    for o in ops:
        if o.kind is OpKind.DROP and o.object_type is not ObjectType.COLUMN:
            continue  # drops run no definition text
        texts = list(_texts(o.new))
        texts += [_generation(c) for c in _columns(o) if c.generated]
        if not any(screen.search(t) for t in texts):
            continue
        for minimum, feature, pattern in missing:
            if any(pattern.search(t) for t in texts):
                raise UnsupportedByTarget(
                    f"{o.label} {o.qualified_name} needs {feature}, which PostgreSQL {major} "
                    f"(the target's version) does not support; PostgreSQL {minimum} or later "
                    "is required"
                )


class PostgresRules:
    """The version rules of :class:`Dialect.POSTGRESQL` (see the module's functions)."""

    dialect = Dialect.POSTGRESQL
    comparable = staticmethod(comparable)
    check_versions = staticmethod(check_versions)

    @staticmethod
    def operations(ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
        """The shared comparators' operations are PostgreSQL's own."""
        return ops


RULES = PostgresRules()
