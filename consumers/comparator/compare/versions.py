"""Never emit a statement the target's server rejects: syntax that needs a newer PostgreSQL
than the target's is refused with a clear error instead."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from schemas.catalog import Catalog
from schemas.operations import ObjectType, Operation, OpKind


class UnsupportedByTarget(ValueError):
    """The migration would need a feature the target's PostgreSQL version does not have."""


# (minimum major version, feature, pattern in SQL text the engine would run verbatim)
_FEATURES: list[tuple[int, str, re.Pattern[str]]] = [
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


def check_versions(ops: list[Operation], target: Catalog) -> None:
    """Raise :class:`UnsupportedByTarget` if an operation (or its reverse) would run syntax the
    target's server version does not accept. Unknown versions are not checked."""
    major = target.server_major()
    missing = [f for f in _FEATURES if major is not None and major < f[0]]
    if not missing:
        return
    for o in ops:
        if o.kind is OpKind.DROP and o.object_type is not ObjectType.COLUMN:
            continue  # drops run no definition text
        texts = list(_texts(o.new))
        if o.object_type is ObjectType.COLUMN and o.new and o.new.get("generated"):
            texts.append("GENERATED ALWAYS AS (")
        for minimum, feature, pattern in missing:
            if any(pattern.search(t) for t in texts):
                raise UnsupportedByTarget(
                    f"{o.label} {o.qualified_name} needs {feature}, which PostgreSQL {major} "
                    f"(the target's version) does not support; PostgreSQL {minimum} or later "
                    "is required"
                )
