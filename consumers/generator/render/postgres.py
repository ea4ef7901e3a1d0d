"""Render ordered operations as PostgreSQL statements, each annotated with its hazards.

Identifiers are quoted by SQLAlchemy's PostgreSQL identifier preparer; SQL text that came from
the catalog (types, defaults, constraint/index/view definitions) is PostgreSQL's own rendering
and is used verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects import postgresql

from schemas.hazards import Hazard
from schemas.operations import ObjectType, Operation, OpKind, Statement

_PREPARER = postgresql.dialect().identifier_preparer

H = Hazard


def q(name: str) -> str:
    """Quote one identifier (only when PostgreSQL needs it)."""
    return _PREPARER.quote(name)


def qn(schema: str | None, name: str) -> str:
    """Quote a schema-qualified name."""
    return f"{q(schema)}.{q(name)}" if schema else q(name)


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass
class RenderContext:
    """What a statement may need to know about the rest of the script."""

    created_tables: set[tuple[str | None, str]] = field(default_factory=set)

    @classmethod
    def of(cls, ops: list[Operation]) -> RenderContext:
        return cls(
            created_tables={
                (op.schema_name, op.name)
                for op in ops
                if op.object_type is ObjectType.TABLE and op.kind is OpKind.CREATE
            }
        )


def render(ops: list[Operation]) -> list[Statement]:
    """Statements for already-ordered ``ops``."""
    ctx = RenderContext.of(ops)
    statements: list[Statement] = []
    for op in ops:
        statements += render_operation(op, ctx)
    return statements


def render_operation(op: Operation, ctx: RenderContext) -> list[Statement]:
    """The statements of one operation."""
    renderer = _RENDERERS[op.object_type]
    out: list[Statement] = []

    def emit(sql: str, *hazards: Hazard, transactional: bool = True) -> None:
        out.append(
            Statement(
                sql=sql + ";",
                kind=op.label,
                object=op.qualified_name,
                hazards=list(dict.fromkeys(hazards)),
                transactional=transactional,
            )
        )

    renderer(op, ctx, emit)
    return out


Emit = Callable[..., None]

# --- schemas, extensions, enums, sequences -------------------------------------------------


def _schema(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    if op.kind is OpKind.CREATE:
        emit(f"CREATE SCHEMA {q(op.name)}")
    else:
        emit(f"DROP SCHEMA {q(op.name)}", H.DATA_LOSS)


def _extension(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    ext = op.obj
    if op.kind is OpKind.CREATE:
        version = f" VERSION {literal(ext['version'])}" if ext.get("version") else ""
        emit(
            f"CREATE EXTENSION IF NOT EXISTS {q(op.name)} "
            f"WITH SCHEMA {q(ext['schema_name'])}{version}"
        )
    elif op.kind is OpKind.DROP:
        emit(f"DROP EXTENSION {q(op.name)}", H.DATA_LOSS)
    else:
        emit(f"ALTER EXTENSION {q(op.name)} UPDATE TO {literal(ext['version'])}")


def _enum(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.CREATE:
        labels = ", ".join(literal(v) for v in op.obj["labels"])
        emit(f"CREATE TYPE {name} AS ENUM ({labels})")
    elif op.kind is OpKind.DROP:
        emit(f"DROP TYPE {name}", H.DATA_LOSS)
    else:
        assert op.old is not None and op.new is not None
        old, new = list(op.old["labels"]), list(op.new["labels"])
        if not _is_subsequence(old, new):
            _swap_enum(op, emit)
            return
        present = set(old)
        for i, label in enumerate(new):
            if label in present:
                continue
            # Anchor on the next existing label, else after the previous one.
            after_ = next((x for x in new[i + 1 :] if x in present), None)
            where = f" BEFORE {literal(after_)}" if after_ else f" AFTER {literal(new[i - 1])}"
            # Inside a transaction block the new value cannot be used until commit, so the
            # executor must run (and commit) it on its own.
            emit(
                f"ALTER TYPE {name} ADD VALUE {literal(label)}{where if i or after_ else ''}",
                H.NOT_TRANSACTIONAL,
                transactional=False,
            )
            present.add(label)


def _swap_enum(op: Operation, emit: Emit) -> None:
    """Remove or reorder enum values: rename the old type, create the new one, convert the
    columns that use it (through text) and drop the old type."""
    assert op.old is not None and op.new is not None
    name = qn(op.schema_name, op.name)
    old_name = op.name + "__old"
    labels = ", ".join(literal(v) for v in op.new["labels"])
    emit(f"ALTER TYPE {name} RENAME TO {q(old_name)}")
    emit(f"CREATE TYPE {name} AS ENUM ({labels})")
    # Defaults are re-set as the desired state has them: an old default may use a removed value.
    wanted = {
        (u["schema_name"], u["table"], u["column"]): u.get("default")
        for u in op.new.get("used_by", [])
    }
    for use in op.old.get("used_by", []):
        default = wanted.get((use["schema_name"], use["table"], use["column"]))
        table = f"ALTER TABLE {qn(use['schema_name'], use['table'])}"
        alter = f"{table} ALTER COLUMN {q(use['column'])}"
        array = "[]" if use["type"].endswith("[]") else ""
        if use.get("default") is not None:
            emit(f"{alter} DROP DEFAULT")
        emit(
            f"{alter} TYPE {name}{array} USING {q(use['column'])}::text{array}::{name}{array}",
            H.TABLE_REWRITE,
            H.NEEDS_VALIDATION,
            H.DATA_LOSS,
        )
        if default is not None:
            emit(f"{alter} SET DEFAULT {default}")
    emit(f"DROP TYPE {qn(op.schema_name, old_name)}")


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    it = iter(long)
    return all(x in it for x in short)


_TYPE_MAX = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}


def _sequence_options(seq: dict[str, Any], data_type: str, *, explicit: bool = False) -> list[str]:
    """Sequence options that differ from PostgreSQL's defaults (all known ones if ``explicit``).

    ``None`` bounds mean "the default for the type and direction".
    """
    ascending = seq["increment"] > 0
    type_max = _TYPE_MAX.get(data_type, _TYPE_MAX["bigint"])
    default_min = 1 if ascending else -type_max - 1
    default_max = type_max if ascending else -1
    min_value = default_min if seq.get("min_value") is None else seq["min_value"]
    max_value = default_max if seq.get("max_value") is None else seq["max_value"]
    default_start = min_value if ascending else max_value
    parts = []
    if explicit or seq["increment"] != 1:
        parts.append(f"INCREMENT BY {seq['increment']}")
    if explicit or min_value != default_min:
        parts.append(f"MINVALUE {min_value}")
    if explicit or max_value != default_max:
        parts.append(f"MAXVALUE {max_value}")
    if explicit or seq["start"] != default_start:
        parts.append(f"START WITH {seq['start']}")
    if explicit or seq["cache"] != 1:
        parts.append(f"CACHE {seq['cache']}")
    if explicit or seq["cycle"]:
        parts.append("CYCLE" if seq["cycle"] else "NO CYCLE")
    return parts


def _sequence(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.CREATE:
        seq = op.obj
        options = " ".join([f"AS {seq['data_type']}", *_sequence_options(seq, seq["data_type"])])
        emit(f"CREATE SEQUENCE {name} {options}")
        return
    if op.kind is OpKind.DROP:
        emit(f"DROP SEQUENCE {name}", H.DATA_LOSS)
        return
    assert op.old is not None and op.new is not None
    old, new = op.old, op.new
    changes = []
    if old["data_type"] != new["data_type"]:
        changes.append(f"AS {new['data_type']}")
    option_keys = ("increment", "min_value", "max_value", "start", "cache", "cycle")
    if any(old[k] != new[k] for k in option_keys):
        old_opts = set(_sequence_options(old, old["data_type"], explicit=True))
        changes += [
            o for o in _sequence_options(new, new["data_type"], explicit=True) if o not in old_opts
        ]
    if changes:
        emit(f"ALTER SEQUENCE {name} {' '.join(changes)}")
    if old.get("owned_by") != new.get("owned_by"):
        owner = new.get("owned_by")
        target = (
            "NONE"
            if owner is None
            else f"{qn(owner['schema_name'], owner['table'])}.{q(owner['column'])}"
        )
        emit(f"ALTER SEQUENCE {name} OWNED BY {target}")


# --- tables and columns --------------------------------------------------------------------


def column_definition(col: dict[str, Any]) -> str:
    """``name type [COLLATE] [GENERATED ...|DEFAULT ...] [NOT NULL]`` for CREATE/ADD."""
    parts = [q(col["name"]), col["type"]]
    if col.get("collation"):
        parts.append(f"COLLATE {col['collation']}")
    if col.get("generated"):
        parts.append(f"GENERATED ALWAYS AS ({_unparen(col['generated'])}) STORED")
    elif col.get("identity"):
        parts.append(_identity_clause(col["identity"], col["type"]))
    elif col.get("default") is not None:
        parts.append(f"DEFAULT {col['default']}")
    if col.get("not_null"):
        parts.append("NOT NULL")
    return " ".join(parts)


def _identity_clause(identity: dict[str, Any], data_type: str) -> str:
    generation = "ALWAYS" if identity["generation"] == "always" else "BY DEFAULT"
    options = _sequence_options(identity, data_type)
    return f"GENERATED {generation} AS IDENTITY" + (f" ({' '.join(options)})" if options else "")


def _unparen(expr: str) -> str:
    """Strip one pair of outer parentheses PostgreSQL adds around expressions, if balanced."""
    if expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and i < len(expr) - 1:
                return expr
        return expr[1:-1]
    return expr


def _table(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP TABLE {name}", H.DATA_LOSS)
        return
    if op.kind is OpKind.ALTER:
        logged = "UNLOGGED" if op.obj["unlogged"] else "LOGGED"
        emit(f"ALTER TABLE {name} SET {logged}", H.TABLE_REWRITE, H.LONG_LOCK)
        return
    table = op.obj
    lines = [column_definition(c) for c in table["columns"]]
    lines += [f"CONSTRAINT {q(c['name'])} {c['definition']}" for c in table["constraints"]]
    unlogged = "UNLOGGED " if table.get("unlogged") else ""
    body = ",\n    ".join(lines)
    emit(f"CREATE {unlogged}TABLE {name} (\n    {body}\n)")
    for index in table.get("indexes", []):
        emit(index["definition"])


def _alter_table(op: Operation) -> str:
    return f"ALTER TABLE {qn(op.schema_name, op.table or '')}"


def _column(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    table = _alter_table(op)
    if op.kind is OpKind.CREATE:
        col = op.obj
        hazards: list[Hazard] = []
        volatile = col.get("default") is not None and "nextval(" in col["default"]
        if col.get("generated") or col.get("identity") or volatile:
            hazards += [H.TABLE_REWRITE, H.LONG_LOCK]
        elif col.get("not_null") and col.get("default") is None:
            hazards.append(H.NEEDS_VALIDATION)  # fails when the table has rows
        emit(f"{table} ADD COLUMN {column_definition(col)}", *hazards)
        return
    if op.kind is OpKind.DROP:
        emit(f"{table} DROP COLUMN {q(op.name)}", H.DATA_LOSS)
        return
    assert op.old is not None and op.new is not None
    if op.new.get("generated") and op.new["generated"] != op.old.get("generated"):
        # PostgreSQL 15 cannot add or change a generation expression in place. (The differ
        # emits drop+add itself, with dependents; this arises from reversing DROP EXPRESSION.)
        emit(f"{table} DROP COLUMN {q(op.name)}", H.DATA_LOSS)
        emit(f"{table} ADD COLUMN {column_definition(op.new)}", H.TABLE_REWRITE, H.LONG_LOCK)
        return
    _alter_column(table, q(op.name), op.old, op.new, emit)


def _alter_column(
    table: str, col: str, old: dict[str, Any], new: dict[str, Any], emit: Emit
) -> None:
    alter = f"{table} ALTER COLUMN {col}"
    retype = (old["type"], old.get("collation")) != (new["type"], new.get("collation"))
    # A default that cannot be cast to the new type would make ALTER TYPE fail: drop it first.
    default_changes = old.get("default") != new.get("default")
    if old.get("default") is not None and (default_changes or retype):
        emit(f"{alter} DROP DEFAULT")
    if old.get("identity") and not new.get("identity"):
        emit(f"{alter} DROP IDENTITY")
    if old.get("generated") and not new.get("generated"):
        emit(f"{alter} DROP EXPRESSION")
    if retype:
        collate = " COLLATE " + (new.get("collation") or 'pg_catalog."default"')
        if old.get("collation") == new.get("collation") and not new.get("collation"):
            collate = ""
        using = (
            "" if old["type"] == new["type"] else f" USING {_cast(col, old['type'], new['type'])}"
        )
        emit(f"{alter} TYPE {new['type']}{collate}{using}", *type_change_hazards(old, new))
    if new.get("default") is not None and (default_changes or retype):
        emit(f"{alter} SET DEFAULT {new['default']}")
    if old["not_null"] and not new["not_null"]:
        emit(f"{alter} DROP NOT NULL")
    elif new["not_null"] and not old["not_null"]:
        emit(f"{alter} SET NOT NULL", H.LONG_LOCK, H.NEEDS_VALIDATION)
    old_id, new_id = old.get("identity"), new.get("identity")
    if new_id and not old_id:
        emit(f"{alter} ADD {_identity_clause(new_id, new['type'])}", H.LONG_LOCK)
    elif new_id and old_id and new_id != old_id:
        sets = []
        if new_id["generation"] != old_id["generation"]:
            sets.append(
                "SET GENERATED " + ("ALWAYS" if new_id["generation"] == "always" else "BY DEFAULT")
            )
        old_opts = set(_sequence_options(old_id, old["type"], explicit=True))
        sets += [
            f"SET {o}"
            for o in _sequence_options(new_id, new["type"], explicit=True)
            if o not in old_opts
        ]
        if sets:
            emit(f"{alter} {' '.join(sets)}")


def _cast(col: str, old_type: str, new_type: str) -> str:
    """``col::new_type``; through text when a user-defined type (enum, domain...) is involved,
    since PostgreSQL has no direct casts between, e.g., two enums."""
    if "." in old_type or "." in new_type:  # format_type() schema-qualifies user types only
        via = "text[]" if old_type.endswith("[]") and new_type.endswith("[]") else "text"
        return f"{col}::{via}::{new_type}"
    return f"{col}::{new_type}"


_INT_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_TYPMOD = re.compile(r"^(?P<base>[a-z ]+?)(?:\((?P<args>[0-9, ]+)\))?(?P<array>(\[\])*)$")


def type_change_hazards(old: dict[str, Any], new: dict[str, Any]) -> list[Hazard]:
    """Hazards of ``ALTER COLUMN TYPE``: rewrite unless binary-compatible, loss if narrowing."""
    a, b = _TYPMOD.match(old["type"]), _TYPMOD.match(new["type"])
    if old["type"] == new["type"]:  # collation only: indexes on it are rebuilt
        return [H.LONG_LOCK]
    if not a or not b or a["array"] != b["array"]:
        return [H.TABLE_REWRITE, H.DATA_LOSS]
    base_a, base_b = a["base"], b["base"]
    args_a = [int(x) for x in (a["args"] or "").split(",") if x.strip()]
    args_b = [int(x) for x in (b["args"] or "").split(",") if x.strip()]
    textual = {"character varying", "text"}
    if base_a in textual and base_b in textual:
        if base_b == "text" or not args_b or (args_a and args_b[0] >= args_a[0]):
            return [H.LONG_LOCK]  # binary-compatible widening: no rewrite
        return [H.LONG_LOCK, H.NEEDS_VALIDATION, H.DATA_LOSS]
    if base_a == base_b == "numeric":
        if not args_b or (args_a and args_b[0] >= args_a[0] and args_b[1:] == args_a[1:]):
            return [H.LONG_LOCK]
        return [H.TABLE_REWRITE, H.DATA_LOSS]
    if base_a in _INT_RANK and base_b in _INT_RANK and _INT_RANK[base_b] > _INT_RANK[base_a]:
        return [H.TABLE_REWRITE]
    if base_b == "text" or (base_a in _INT_RANK and base_b == "numeric" and not args_b):
        return [H.TABLE_REWRITE]
    if (base_a, base_b) in {
        ("real", "double precision"),
        ("timestamp without time zone", "timestamp with time zone"),
    }:
        return [H.TABLE_REWRITE]
    return [H.TABLE_REWRITE, H.DATA_LOSS]


# --- constraints and indexes -----------------------------------------------------------------


def _constraint(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    table = _alter_table(op)
    name = q(op.name)
    if op.kind is OpKind.DROP:
        emit(f"{table} DROP CONSTRAINT {name}")
        return
    con = op.obj
    fresh = (op.schema_name, op.table) in ctx.created_tables
    if fresh:
        emit(f"{table} ADD CONSTRAINT {name} {con['definition']}")
    elif con["kind"] in ("check", "foreign_key"):
        # Add without scanning under the exclusive lock, then validate under a weaker one.
        emit(f"{table} ADD CONSTRAINT {name} {con['definition']} NOT VALID")
        emit(f"{table} VALIDATE CONSTRAINT {name}", H.NEEDS_VALIDATION)
    else:
        emit(
            f"{table} ADD CONSTRAINT {name} {con['definition']}",
            H.INDEX_BUILD,
            H.LONG_LOCK,
            H.NEEDS_VALIDATION,
        )


def _index(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    if op.kind is OpKind.DROP:
        emit(f"DROP INDEX {qn(op.schema_name, op.name)}")
        return
    fresh = (op.schema_name, op.table) in ctx.created_tables
    hazards = [] if fresh else [H.INDEX_BUILD]
    if op.obj.get("unique") and not fresh:
        hazards.append(H.NEEDS_VALIDATION)
    emit(op.obj["definition"], *hazards)


# --- views -------------------------------------------------------------------------------


def _view(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    materialized = op.object_type is ObjectType.MATERIALIZED_VIEW
    what = "MATERIALIZED VIEW" if materialized else "VIEW"
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP {what} {name}", *([H.DATA_LOSS] if materialized else []))
    else:
        body = op.obj["definition"].strip().rstrip(";")
        emit(f"CREATE {what} {name} AS\n{body}")


def _comment(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    obj = op.obj
    target = ".".join(q(p) for p in obj["target"])
    text = literal(obj["text"]) if op.new is not None else "NULL"
    emit(f"COMMENT ON {obj['object_type'].upper()} {target} IS {text}")


_RENDERERS: dict[ObjectType, Callable[[Operation, RenderContext, Emit], None]] = {
    ObjectType.SCHEMA: _schema,
    ObjectType.EXTENSION: _extension,
    ObjectType.ENUM: _enum,
    ObjectType.SEQUENCE: _sequence,
    ObjectType.TABLE: _table,
    ObjectType.COLUMN: _column,
    ObjectType.CONSTRAINT: _constraint,
    ObjectType.FOREIGN_KEY: _constraint,
    ObjectType.INDEX: _index,
    ObjectType.VIEW: _view,
    ObjectType.MATERIALIZED_VIEW: _view,
    ObjectType.COMMENT: _comment,
}
