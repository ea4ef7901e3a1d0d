"""Tables, columns and table inheritance (partitions, INHERITS)."""

from __future__ import annotations

import re
from typing import Any

from schemas.hazards import Hazard
from schemas.operations import Operation, OpKind

from .common import Emit, H, RenderContext, literal, q, qn, strip_outer_parens
from .sequences import emit_keeping_value_valid, narrows, sequence_options


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
    options = sequence_options(identity, data_type)
    return f"GENERATED {generation} AS IDENTITY" + (f" ({' '.join(options)})" if options else "")


def _unparen(expr: str) -> str:
    """Strip one pair of outer parentheses PostgreSQL adds around expressions, if they enclose
    the whole expression (parentheses inside literals and quoted names do not count)."""
    return strip_outer_parens(expr)


def render_table(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """CREATE TABLE (plain, partitioned, a partition, or an INHERITS child), DROP TABLE, or
    ALTER TABLE of its flags (logged, row-level security)."""
    name = qn(op.schema_name, op.name)
    if op.kind is OpKind.DROP:
        emit(f"DROP TABLE {name}", H.DATA_LOSS)
        return
    if op.kind is OpKind.ALTER:
        _alter_flags(name, op.old or {}, op.new or {}, emit)
        return
    table = op.obj
    lines = [column_definition(c) for c in table["columns"]]
    lines += [f"CONSTRAINT {q(c['name'])} {c['definition']}" for c in table["constraints"]]
    unlogged = "UNLOGGED " if table.get("unlogged") else ""
    body = ",\n    ".join(lines)
    columns = f" (\n    {body}\n)" if lines else ""
    if table.get("partition_of"):
        parent = qn(*table["partition_of"])
        head = f"CREATE {unlogged}TABLE {name} PARTITION OF {parent}{columns}"
        head += f" {table['partition_bound']}"
    else:
        head = f"CREATE {unlogged}TABLE {name}{columns or ' ()'}"
        if table.get("inherits"):
            head += " INHERITS (" + ", ".join(qn(*p) for p in table["inherits"]) + ")"
    if table.get("partition_by"):
        head += f" PARTITION BY {table['partition_by']}"
    emit(head)
    for index in table.get("indexes", []):
        emit(index["definition"])
    _alter_flags(name, {}, {f: table.get(f, False) for f in ("rls_enabled", "rls_forced")}, emit)


def _alter_flags(name: str, old: dict[str, Any], new: dict[str, Any], emit: Emit) -> None:
    if "unlogged" in new and new["unlogged"] != old.get("unlogged"):
        logged = "UNLOGGED" if new["unlogged"] else "LOGGED"
        emit(f"ALTER TABLE {name} SET {logged}", H.TABLE_REWRITE, H.LONG_LOCK)
    if new.get("rls_enabled", False) != old.get("rls_enabled", False):
        what = "ENABLE" if new["rls_enabled"] else "DISABLE"
        emit(f"ALTER TABLE {name} {what} ROW LEVEL SECURITY")
    if new.get("rls_forced", False) != old.get("rls_forced", False):
        what = "FORCE" if new["rls_forced"] else "NO FORCE"
        emit(f"ALTER TABLE {name} {what} ROW LEVEL SECURITY")


def render_inheritance(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """ATTACH/DETACH PARTITION, or INHERIT/NO INHERIT."""
    link = op.obj
    child = qn(op.schema_name, op.table or "")
    parent = qn(*link["parent"])
    if link.get("bound") is not None:
        if op.kind is OpKind.CREATE:
            # Existing rows are checked against the bound (under a lock on the parent).
            emit(
                f"ALTER TABLE {parent} ATTACH PARTITION {child} {link['bound']}",
                H.LONG_LOCK,
                H.NEEDS_VALIDATION,
            )
        else:
            emit(_detach(parent, child))
    elif op.kind is OpKind.CREATE:
        emit(f"ALTER TABLE {child} INHERIT {parent}", H.NEEDS_VALIDATION)
    else:
        emit(f"ALTER TABLE {child} NO INHERIT {parent}")


def alter_table(op: Operation) -> str:
    return f"ALTER TABLE {qn(op.schema_name, op.table or '')}"


# Built-in volatile functions seen in defaults: a new column with such a default is computed
# row by row, so PostgreSQL rewrites the table (stable ones such as now() are evaluated once).
_VOLATILE_CALL = re.compile(
    r"\b(nextval|random|gen_random_uuid|uuid_generate_v\w+|clock_timestamp|timeofday)\(",
    re.IGNORECASE,
)


def render_column(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    table = alter_table(op)
    if op.kind is OpKind.CREATE:
        col = op.obj
        hazards: list[Hazard] = []
        volatile = _VOLATILE_CALL.search(col.get("default") or "") is not None
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
    _alter_column(qn(op.schema_name, op.table or ""), op.name, op.old, op.new, emit)


def _alter_column(
    table_name: str, column: str, old: dict[str, Any], new: dict[str, Any], emit: Emit
) -> None:
    col = q(column)
    alter = f"ALTER TABLE {table_name} ALTER COLUMN {col}"
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
        old_opts = set(sequence_options(old_id, old["type"], explicit=True))
        sets += [
            f"SET {o}"
            for o in sequence_options(new_id, new["type"], explicit=True)
            if o not in old_opts
        ]
        if not sets:
            return
        statement = f"{alter} {' '.join(sets)}"
        if narrows(old_id, old["type"], new_id, new["type"]):
            # The identity sequence's current value must stay within the new bounds.
            sequence = f"pg_get_serial_sequence({literal(table_name)}, {literal(column)})"
            restart = f"RESTART WITH {new_id['start']}"
            emit_keeping_value_valid(
                statement, restart, f"{sequence}::regclass", new_id, new["type"], emit
            )
        else:
            emit(statement)


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


def _detach(parent: str, child: str) -> str:
    """DETACH PARTITION, then drop the constraints and indexes the partition had from its
    parent: PostgreSQL keeps them as the table's own, which the schema being migrated to does
    not have (it lists a table's own constraints and indexes, and they are added as such)."""
    return f"""DO $detach$
DECLARE
  child regclass := {literal(child)}::regclass;
  cons text[];
  idxs text[];
  item text;
BEGIN
  SELECT coalesce(array_agg(quote_ident(k.conname)), '{{}}') INTO cons FROM pg_constraint k
   WHERE k.conrelid = child AND (k.conparentid <> 0 OR NOT k.conislocal);
  SELECT coalesce(array_agg(i.indexrelid::regclass::text), '{{}}') INTO idxs
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = child AND c.relispartition
     AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                     AND k.conrelid = child);
  EXECUTE 'ALTER TABLE {parent} DETACH PARTITION {child}';
  FOREACH item IN ARRAY cons LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %s', child, item);
  END LOOP;
  FOREACH item IN ARRAY idxs LOOP
    EXECUTE format('DROP INDEX %s', item);
  END LOOP;
END
$detach$"""
