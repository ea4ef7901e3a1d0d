"""Functions and procedures.

A changed body or attribute is a CREATE OR REPLACE (an ALTER operation); a changed result type
or kind cannot be replaced, so the function is dropped and created again, and the comparators
that run later rebuild what uses it (views, triggers). So is a function whose signature uses an
enum the migration swaps (the old type can only be dropped once nothing uses it); when only
the reverse script swaps it, only that script rebuilds the function.

SQL-language bodies are checked when created, so a SQL function that reads tables or views must
be created after them; the operation says which relations its body names (``references``),
found by matching the body's words against the catalog's relation names. Functions without such
references are created before the tables, whose defaults, checks and indexes may call them.
"""

from __future__ import annotations

import re
from typing import Any

from schemashift.schemas.catalog import Catalog, Function, Key
from schemashift.schemas.operations import Hints, ObjectType, Operation

from .common import Context, alter, by_key, pair
from .types import swapped_types

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_MODES = {"in", "out", "inout", "variadic"}


def _parameter_names(identity_args: str) -> set[str]:
    """Names of the parameters in ``pg_get_function_identity_arguments()`` text."""
    names = set()
    for arg in identity_args.split(","):
        words = arg.split()
        if words and words[0].lower() in _MODES:
            words = words[1:]
        if len(words) > 1:
            names.add(words[0].strip('"').lower())
    return names


def compare_functions(ctx: Context) -> list[Operation]:
    """CREATE / CREATE OR REPLACE / DROP FUNCTION (or PROCEDURE)."""
    src = by_key(ctx.source.functions, lambda f: f.key)
    tgt = by_key(ctx.target.functions, lambda f: f.key)
    src_names, tgt_names = _relation_names(ctx.source), _relation_names(ctx.target)
    forward_swaps, reverse_swaps = swapped_types(ctx.source, ctx.target)
    ops: list[Operation] = []
    for key in sorted(src.keys() | tgt.keys()):
        s, t = src.get(key), tgt.get(key)
        swapped = s is not None and t is not None and _uses(t, forward_swaps)
        undo_swapped = s is not None and t is not None and _uses(s, reverse_swaps)
        if s == t and not swapped and not undo_swapped:
            continue
        swaps = forward_swaps | reverse_swaps
        where: dict[str, Any] = {
            "schema_name": key[0],
            "table": None,
            "old_hints": None if t is None else _hints(t, tgt_names, swaps),
            "new_hints": None if s is None else _hints(s, src_names, swaps),
        }
        name = f"{key[1]}({key[2]})"
        replaceable = s is not None and t is not None and (s.kind, s.result) == (t.kind, t.result)
        if replaceable and not swapped:
            assert s is not None and t is not None
            if undo_swapped:
                # The reverse swaps the enum: it drops the migrated function before the swap
                # and creates the target's after it, instead of replacing it.
                ctx.reverse_rebuilt_functions.add(key)
                rebuild: dict[str, Any] = {
                    "reason": "enum type swap of the reverse script",
                    "direction": "reverse",
                    "dependent": s == t,
                }
                ops += pair(ObjectType.FUNCTION, t, s, name, **rebuild, **where)
                if s != t:
                    ops.append(alter(ObjectType.FUNCTION, t, s, name, **where, direction="forward"))
            else:
                ops.append(alter(ObjectType.FUNCTION, t, s, name, **where))
            continue
        if s is not None and t is not None:
            ctx.rebuilt_functions.add(key)
        reason = None
        if s is not None and t is not None:
            reason = "enum type swap" if swapped else "result type changes"
        dependent = swapped and s == t  # rebuilt, unchanged, around the swap of a type it uses
        ops += pair(ObjectType.FUNCTION, t, s, name, reason=reason, dependent=dependent, **where)
    return ops


def _uses(function: Function, types: set[Key]) -> bool:
    return bool(types) and any(tuple(t) in types for t in function.types)


def _relation_names(catalog: Catalog) -> dict[str, list[Key]]:
    names: dict[str, list[Key]] = {}
    for key in [*catalog.tables_by_key, *(v.key for v in catalog.views)]:
        names.setdefault(key[1].lower(), []).append(key)
    return names


def _hints(function: Function, relations: dict[str, list[Key]], swapped: set[Key]) -> Hints:
    # A type its signature uses is swapped (an enum losing values, a domain over it): the
    # function is created after the swap, dropped before it.
    uses = swapped & {tuple(t) for t in function.types}
    # A row type of a table or view in the signature: the relation must exist first.
    refs: set[Key] = {
        k for t in function.types for k in relations.get(t[1].lower(), []) if k == tuple(t)
    }
    if function.language == "sql":
        body = _body(function.definition)
        # Words followed by "(" are calls, parameter names are not relations.
        calls = {m.group(1).lower() for m in _CALL.finditer(body)}
        skip = calls | _parameter_names(function.identity_args)
        for word in {w.lower() for w in _WORD.findall(body)} - skip:
            refs.update(relations.get(word, []))
    return Hints(
        references=[list(k) for k in sorted(refs)],
        swapped_types=[list(k) for k in sorted(uses)],
    )


def _body(definition: str) -> str:
    """The text after the header (``AS $function$...`` or ``BEGIN ATOMIC ...``)."""
    for marker in ("\nAS ", "\nBEGIN ATOMIC"):
        at = definition.find(marker)
        if at >= 0:
            return definition[at:]
    return definition
