"""Tables, columns and table inheritance (partitions, INHERITS)."""

from __future__ import annotations

import re

from schemashift.schemas.catalog import Column, Identity, InheritanceLink, Table
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Operation, OpKind

from .common import Emit, H, RenderContext, literal, q, qn, strip_outer_parens
from .sequences import emit_keeping_value_valid, narrows, sequence_options


def column_definition(col: Column) -> str:
    """``name type [COLLATE] [GENERATED ...|DEFAULT ...] [NOT NULL]`` for CREATE/ADD."""
    parts = [q(col.name), col.type]
    if col.collation:
        parts.append(f"COLLATE {col.collation}")
    if col.generated:
        kind = "VIRTUAL" if col.virtual else "STORED"
        parts.append(f"GENERATED ALWAYS AS ({_unparen(col.generated)}) {kind}")
    elif col.identity:
        parts.append(_identity_clause(col.identity, col.type))
    elif col.default is not None:
        parts.append(f"DEFAULT {col.default}")
    if col.not_null:
        # Before PostgreSQL 18 the name is accepted and ignored.
        name = col.not_null_name
        parts.append(f"CONSTRAINT {q(name)} NOT NULL" if name else "NOT NULL")
    return " ".join(parts)


def not_null_name(table: str, col: Column) -> str:
    """The name of a column's NOT NULL constraint (PostgreSQL 18+): the recorded one, or the
    default PostgreSQL gives (the introspector records every other name)."""
    return col.not_null_name or f"{table}_{col.name}_not_null"


def _identity_clause(identity: Identity, data_type: str) -> str:
    generation = "ALWAYS" if identity.generation == "always" else "BY DEFAULT"
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
        # The reverse creates it empty. A partitioned table's rows are its partitions', which
        # are detached or dropped first.
        emit(
            f"DROP TABLE {name}",
            H.DATA_LOSS,
            *([] if op.obj_as(Table).partition_by else [H.IRREVERSIBLE]),
        )
        return
    if op.kind is OpKind.ALTER:
        _alter_flags(name, op.old_as(Table), op.new_as(Table), emit)
        return
    table = op.obj_as(Table)
    lines = [column_definition(c) for c in table.columns]
    lines += [f"CONSTRAINT {q(c.name)} {c.definition}" for c in table.constraints]
    unlogged = "UNLOGGED " if table.unlogged else ""
    body = ",\n    ".join(lines)
    columns = f" (\n    {body}\n)" if lines else ""
    options = f" WITH ({', '.join(table.options)})" if table.options else ""
    if table.partition_of:
        parent = qn(*table.partition_of)
        head = f"CREATE {unlogged}TABLE {name} PARTITION OF {parent}{columns}"
        head += f" {table.partition_bound}"
    else:
        head = f"CREATE {unlogged}TABLE {name}{columns or ' ()'}"
        if table.inherits:
            head += " INHERITS (" + ", ".join(qn(*p) for p in table.inherits) + ")"
    if table.partition_by:
        head += f" PARTITION BY {table.partition_by}"
    emit(head + options)
    for index in table.indexes:
        emit(index.definition)
    # CREATE TABLE set the rest; these need statements of their own.
    _alter_flags(name, _NEW_TABLE, table, emit, created=True)


# A table's flags as CREATE TABLE leaves them where it does not set them itself.
_NEW_TABLE = Table(schema_name="", name="")


def _alter_flags(name: str, old: Table, new: Table, emit: Emit, *, created: bool = False) -> None:
    """ALTER TABLE for the flags of the table itself that differ between ``old`` and ``new``;
    ``created``: right after CREATE TABLE, which has set ``unlogged`` and ``options``."""
    if not created and new.unlogged != old.unlogged:
        logged = "UNLOGGED" if new.unlogged else "LOGGED"
        emit(f"ALTER TABLE {name} SET {logged}", H.TABLE_REWRITE, H.LONG_LOCK)
    if new.rls_enabled != old.rls_enabled:
        what = "ENABLE" if new.rls_enabled else "DISABLE"
        emit(f"ALTER TABLE {name} {what} ROW LEVEL SECURITY")
    if new.rls_forced != old.rls_forced:
        what = "FORCE" if new.rls_forced else "NO FORCE"
        emit(f"ALTER TABLE {name} {what} ROW LEVEL SECURITY")
    if not created and new.options != old.options:
        _alter_options(name, old.options, new.options, emit)
    identity = new.replica_identity
    if identity != old.replica_identity:
        kind, _, index = identity.partition(" ")
        using = f"USING INDEX {index}" if kind == "index" else kind.upper()
        emit(f"ALTER TABLE {name} REPLICA IDENTITY {using}")


def _alter_options(name: str, old: list[str], new: list[str], emit: Emit) -> None:
    """ALTER TABLE SET (...) for storage parameters added or changed, RESET (...) for those
    removed (a lock that blocks schema changes, not reads or writes; no rewrite)."""
    wanted = dict(o.split("=", 1) for o in new)
    had = dict(o.split("=", 1) for o in old)
    removed = sorted(had.keys() - wanted.keys())
    if removed:
        emit(f"ALTER TABLE {name} RESET ({', '.join(removed)})")
    changed = [f"{k}={v}" for k, v in sorted(wanted.items()) if had.get(k) != v]
    if changed:
        emit(f"ALTER TABLE {name} SET ({', '.join(changed)})")


def render_inheritance(op: Operation, ctx: RenderContext, emit: Emit) -> None:
    """ATTACH/DETACH PARTITION, or INHERIT/NO INHERIT."""
    link = op.obj_as(InheritanceLink)
    child = qn(op.schema_name, op.table or "")
    parent = qn(*link.parent)
    checks = op.hints.parent_checks
    if link.bound is not None:
        if op.kind is OpKind.CREATE:
            # Existing rows are checked against the bound (under a lock on the parent).
            attach = f"ALTER TABLE {parent} ATTACH PARTITION {child} {link.bound}"
            emit(_link(attach, parent, child, checks), H.LONG_LOCK, H.NEEDS_VALIDATION)
        else:
            emit(_unlink(f"ALTER TABLE {parent} DETACH PARTITION {child}", child))
    elif op.kind is OpKind.CREATE:
        inherit = f"ALTER TABLE {child} INHERIT {parent}"
        emit(_link(inherit, parent, child, checks), H.NEEDS_VALIDATION)
    else:
        emit(_unlink(f"ALTER TABLE {child} NO INHERIT {parent}", child))


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
        col = op.obj_as(Column)
        hazards: list[Hazard] = []
        volatile = _VOLATILE_CALL.search(col.default or "") is not None
        stored = col.generated and not col.virtual  # virtual: computed on read
        if stored or col.identity or volatile:
            hazards += [H.TABLE_REWRITE, H.LONG_LOCK]
        elif col.not_null and col.default is None:
            hazards.append(H.NEEDS_VALIDATION)  # fails when the table has rows
        emit(f"{table} ADD COLUMN {column_definition(col)}", *hazards)
        return
    if op.kind is OpKind.DROP:
        emit(f"{table} DROP COLUMN {q(op.name)}", *_drop_column_hazards(op.obj_as(Column)))
        return
    old, new = op.old_as(Column), op.new_as(Column)
    if new.generated and (new.generated, new.virtual) != (old.generated, old.virtual):
        # PostgreSQL 15 cannot add or change a generation expression in place. (The differ
        # emits drop+add itself, with dependents; this arises from reversing DROP EXPRESSION.)
        emit(f"{table} DROP COLUMN {q(op.name)}", *_drop_column_hazards(old))
        emit(f"{table} ADD COLUMN {column_definition(new)}", H.TABLE_REWRITE, H.LONG_LOCK)
        return
    _alter_column(op.schema_name, op.table or "", op.name, old, new, emit)


def _drop_column_hazards(col: Column) -> list[Hazard]:
    """DROP COLUMN loses the column's values; the reverse adds it back empty (irreversible),
    except a generated column, whose values it computes again."""
    return [H.DATA_LOSS] if col.generated else [H.DATA_LOSS, H.IRREVERSIBLE]


def _alter_column(
    schema: str | None,
    table: str,
    column: str,
    old: Column,
    new: Column,
    emit: Emit,
) -> None:
    table_name = qn(schema, table)
    col = q(column)
    alter = f"ALTER TABLE {table_name} ALTER COLUMN {col}"
    retype = (old.type, old.collation) != (new.type, new.collation)
    # A default that cannot be cast to the new type would make ALTER TYPE fail: drop it first.
    default_changes = old.default != new.default
    if old.default is not None and (default_changes or retype):
        emit(f"{alter} DROP DEFAULT")
    if old.identity and not new.identity:
        # The identity's sequence goes with it: the reverse starts a new one at START.
        emit(f"{alter} DROP IDENTITY", H.IRREVERSIBLE)
    if old.generated and not new.generated:
        emit(f"{alter} DROP EXPRESSION")
    if retype:
        collate = " COLLATE " + (new.collation or 'pg_catalog."default"')
        if old.collation == new.collation and not new.collation:
            collate = ""
        using = "" if old.type == new.type else f" USING {_cast(col, old.type, new.type)}"
        emit(f"{alter} TYPE {new.type}{collate}{using}", *type_change_hazards(old, new))
    if new.default is not None and (default_changes or retype):
        emit(f"{alter} SET DEFAULT {new.default}")
    if old.not_null and not new.not_null:
        emit(f"{alter} DROP NOT NULL")
    elif new.not_null and not old.not_null:
        if new.not_null_name:  # PostgreSQL 18+: the differ names it only there
            emit(
                f"ALTER TABLE {table_name} ADD CONSTRAINT {q(new.not_null_name)} NOT NULL {col}",
                H.LONG_LOCK,
                H.NEEDS_VALIDATION,
            )
        else:
            emit(f"{alter} SET NOT NULL", H.LONG_LOCK, H.NEEDS_VALIDATION)
    elif new.not_null and old.not_null_name != new.not_null_name:
        before, after = not_null_name(table, old), not_null_name(table, new)
        emit(f"ALTER TABLE {table_name} RENAME CONSTRAINT {q(before)} TO {q(after)}")
    old_id, new_id = old.identity, new.identity
    if new_id and not old_id:
        emit(f"{alter} ADD {_identity_clause(new_id, new.type)}", H.LONG_LOCK)
    elif new_id and old_id and new_id != old_id:
        sets = []
        if new_id.generation != old_id.generation:
            sets.append(
                "SET GENERATED " + ("ALWAYS" if new_id.generation == "always" else "BY DEFAULT")
            )
        old_opts = set(sequence_options(old_id, old.type, explicit=True))
        sets += [
            f"SET {o}"
            for o in sequence_options(new_id, new.type, explicit=True)
            if o not in old_opts
        ]
        if not sets:
            return
        statement = f"{alter} {' '.join(sets)}"
        if narrows(old_id, old.type, new_id, new.type):
            # The identity sequence's current value must stay within the new bounds.
            sequence = f"pg_get_serial_sequence({literal(table_name)}, {literal(column)})"
            restart = f"RESTART WITH {new_id.start}"
            emit_keeping_value_valid(
                statement, restart, f"{sequence}::regclass", new_id, new.type, emit
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


def type_change_hazards(old: Column, new: Column) -> list[Hazard]:
    """Hazards of ``ALTER COLUMN TYPE``: rewrite unless binary-compatible; loss if narrowing
    (or a conversion not known to keep every value), which the reverse's widening cannot undo
    (irreversible)."""
    a, b = _TYPMOD.match(old.type), _TYPMOD.match(new.type)
    if old.type == new.type:  # collation only: indexes on it are rebuilt
        return [H.LONG_LOCK]
    if not a or not b or a["array"] != b["array"]:
        return [H.TABLE_REWRITE, H.DATA_LOSS, H.IRREVERSIBLE]
    base_a, base_b = a["base"], b["base"]
    args_a = [int(x) for x in (a["args"] or "").split(",") if x.strip()]
    args_b = [int(x) for x in (b["args"] or "").split(",") if x.strip()]
    textual = {"character varying", "text"}
    if base_a in textual and base_b in textual:
        if base_b == "text" or not args_b or (args_a and args_b[0] >= args_a[0]):
            return [H.LONG_LOCK]  # binary-compatible widening: no rewrite
        return [H.LONG_LOCK, H.NEEDS_VALIDATION, H.DATA_LOSS, H.IRREVERSIBLE]
    if base_a == base_b == "numeric":
        if not args_b or (args_a and args_b[0] >= args_a[0] and args_b[1:] == args_a[1:]):
            return [H.LONG_LOCK]
        return [H.TABLE_REWRITE, H.DATA_LOSS, H.IRREVERSIBLE]
    if base_a in _INT_RANK and base_b in _INT_RANK and _INT_RANK[base_b] > _INT_RANK[base_a]:
        return [H.TABLE_REWRITE]
    if base_b == "text" or (base_a in _INT_RANK and base_b == "numeric" and not args_b):
        return [H.TABLE_REWRITE]
    if (base_a, base_b) in {
        ("real", "double precision"),
        ("timestamp without time zone", "timestamp with time zone"),
    }:
        return [H.TABLE_REWRITE]
    return [H.TABLE_REWRITE, H.DATA_LOSS, H.IRREVERSIBLE]


def _link(statement: str, parent: str, child: str, checks: list[str] | None) -> str:
    """ATTACH PARTITION or INHERIT, alone when the parent has no inheritable CHECK constraint
    (``checks``, the parent's, None when unknown); otherwise after giving the table those of
    the parent's it lacks (both statements require them, and then merge them with the
    parent's)."""
    if checks == []:
        return statement
    return f"""DO $link$
DECLARE
  child regclass := {literal(child)}::regclass;
  parent regclass := {literal(parent)}::regclass;
  item record;
BEGIN
  FOR item IN SELECT k.conname, pg_get_constraintdef(k.oid) AS definition FROM pg_constraint k
               WHERE k.conrelid = parent AND k.contype = 'c' AND NOT k.connoinherit
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                 WHERE c.conrelid = child AND c.conname = k.conname)
  LOOP
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', child, item.conname, item.definition);
  END LOOP;
  EXECUTE {literal(statement)};
END
$link$"""


def _unlink(statement: str, child: str) -> str:
    """DETACH PARTITION or NO INHERIT, then remove what the table had from its parent only.

    PostgreSQL keeps a former parent's constraints and a partition's indexes as the table's
    own, which the schema being migrated to does not have (it lists a table's own constraints
    and indexes, and they are added as such): they are dropped, unless another parent still
    passes them down. NOT NULL constraints (pg_constraint rows from PostgreSQL 18) stay, since
    nullability is compared per column and a table keeps it on every version, but they are
    renamed from the parent's name to the one the table would give them itself.
    """
    return f"""DO $unlink$
DECLARE
  child regclass := {literal(child)}::regclass;
  inherited text[];
  not_nulls text[];
  not_null_columns text[];
  indexes text[];
  item text;
  wanted text;
BEGIN
  SELECT coalesce(array_agg(k.conname), '{{}}') INTO inherited FROM pg_constraint k
   WHERE k.conrelid = child AND (k.conparentid <> 0 OR k.coninhcount > 0) AND k.contype <> 'n';
  SELECT coalesce(array_agg(k.conname ORDER BY k.conname), '{{}}'),
         coalesce(array_agg(a.attname ORDER BY k.conname), '{{}}')
    INTO not_nulls, not_null_columns
    FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = child AND a.attnum = k.conkey[1]
   WHERE k.conrelid = child AND k.contype = 'n' AND k.coninhcount > 0;
  SELECT coalesce(array_agg(i.indexrelid::regclass::text), '{{}}') INTO indexes
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE i.indrelid = child AND c.relispartition
     AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                     AND k.conrelid = child);
  EXECUTE {literal(statement)};
  FOREACH item IN ARRAY inherited LOOP
    IF EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = child AND k.conname = item
               AND k.coninhcount = 0 AND k.conparentid = 0) THEN
      EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', child, item);
    END IF;
  END LOOP;
  FOREACH item IN ARRAY indexes LOOP
    EXECUTE format('DROP INDEX %s', item);
  END LOOP;
  FOR i IN 1 .. coalesce(array_length(not_nulls, 1), 0) LOOP
    wanted := (SELECT relname FROM pg_class WHERE oid = child) || '_' || not_null_columns[i]
              || '_not_null';
    IF wanted <> not_nulls[i] AND octet_length(wanted) < 64 AND EXISTS (
        SELECT 1 FROM pg_constraint k WHERE k.conrelid = child AND k.conname = not_nulls[i]
        AND k.coninhcount = 0) THEN
      EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', child, not_nulls[i], wanted);
    END IF;
  END LOOP;
END
$unlink$"""
