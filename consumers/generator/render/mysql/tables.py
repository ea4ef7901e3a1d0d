"""MySQL's clauses: column definitions, keys, checks, indexes, foreign keys, table options.

Every function here returns text without a statement around it: the renderer
(:mod:`.`) puts a table's clauses into one ``ALTER TABLE``, or a new table's into its
``CREATE TABLE``. Definitions of keys and indexes come from the catalog in the introspector's
normal form (the text after the name).
"""

from __future__ import annotations

import re

from schemashift.consumers.common.drivers.mysql import DRIVER, literal
from schemashift.schemas.catalog import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Table,
    TableConstraint,
)
from schemashift.schemas.hazards import Hazard

H = Hazard
q = DRIVER.quote
"""Quote one identifier (backticks, only where MySQL needs them)."""


def column_definition(col: Column) -> str:
    """``name type [CHARACTER SET] [COLLATE] [GENERATED ...] [NOT NULL] [DEFAULT] [ON UPDATE]
    [AUTO_INCREMENT] [INVISIBLE] [COMMENT]``, for CREATE TABLE, ADD COLUMN and MODIFY COLUMN."""
    parts = [q(col.name), col.type]
    if col.charset:
        parts.append(f"CHARACTER SET {col.charset}")
    if col.collation:
        parts.append(f"COLLATE {col.collation}")
    if col.generated is not None:
        parts.append(f"GENERATED ALWAYS AS ({col.generated})")
        parts.append("VIRTUAL" if col.virtual else "STORED")
        if col.not_null:
            parts.append("NOT NULL")
    else:
        parts.append("NOT NULL" if col.not_null else "NULL")
        if col.default is not None:
            parts.append(f"DEFAULT {col.default}")
        if col.on_update:
            parts.append(f"ON UPDATE {col.on_update}")
        if col.auto_increment:
            parts.append("AUTO_INCREMENT")
    if col.invisible:
        parts.append("INVISIBLE")
    if col.comment:
        parts.append(f"COMMENT {literal(col.comment)}")
    return " ".join(parts)


def index_definition(index: Index) -> str:
    """``[UNIQUE|FULLTEXT|SPATIAL] KEY name (parts) ...`` from the catalog's normal form."""
    return re.sub(r"\bKEY \(", lambda _: f"KEY {q(index.name)} (", index.definition, count=1)


def constraint_definition(constraint: TableConstraint) -> str:
    """A key, check or foreign key as CREATE TABLE and ADD write it."""
    if isinstance(constraint, PrimaryKey):
        return constraint.definition
    return f"CONSTRAINT {q(constraint.name)} {constraint.definition}"


def drop_constraint(constraint: TableConstraint) -> str:
    """The DROP clause of a constraint (checks: ``DROP CONSTRAINT``, which MariaDB 10.2 and
    MySQL 8.0.19 accept)."""
    if isinstance(constraint, PrimaryKey):
        return "DROP PRIMARY KEY"
    if isinstance(constraint, ForeignKey):
        return f"DROP FOREIGN KEY {q(constraint.name)}"
    return f"DROP CONSTRAINT {q(constraint.name)}"


def constraint_hazards(constraint: TableConstraint) -> list[Hazard]:
    """What adding a constraint to a table with rows risks."""
    if isinstance(constraint, PrimaryKey):
        return [H.TABLE_REWRITE, H.LONG_LOCK, H.INDEX_BUILD, H.NEEDS_VALIDATION]
    if isinstance(constraint, ForeignKey):
        # InnoDB copies the table to add a checked foreign key.
        return [H.NEEDS_VALIDATION, H.TABLE_REWRITE, H.LONG_LOCK]
    if isinstance(constraint, CheckConstraint):
        return [H.NEEDS_VALIDATION, H.TABLE_REWRITE, H.LONG_LOCK]
    return [H.NEEDS_VALIDATION]


def index_hazards(index: Index) -> list[Hazard]:
    """Building an index blocks writes for a while; a FULLTEXT one rebuilds the table."""
    hazards = [H.INDEX_BUILD]
    if index.unique:
        hazards.append(H.NEEDS_VALIDATION)
    if index.method in ("fulltext", "spatial"):
        hazards += [H.TABLE_REWRITE, H.LONG_LOCK]
    return hazards


def drop_column_hazards(col: Column) -> list[Hazard]:
    """DROP COLUMN loses values; the reverse adds it back empty, except a generated column."""
    return [H.DATA_LOSS] if col.generated is not None else [H.DATA_LOSS, H.IRREVERSIBLE]


def add_column_hazards(col: Column) -> list[Hazard]:
    """A stored generated or AUTO_INCREMENT column is computed for every row: the server
    copies the table. Others are added in place (instantly on current servers)."""
    if (col.generated is not None and not col.virtual) or col.auto_increment:
        return [H.TABLE_REWRITE, H.LONG_LOCK]
    return []


_INTEGERS = ["tinyint", "smallint", "mediumint", "int", "bigint"]
_TEXTS = ["tinytext", "text", "mediumtext", "longtext"]
_BLOBS = ["tinyblob", "blob", "mediumblob", "longblob"]
_TYPE = re.compile(r"^(\w+)\s*(?:\(([^)]*)\))?\s*(.*)$")


def type_parts(type_text: str) -> tuple[str, str, str]:
    """(base, arguments, the rest) of a column type: ``("decimal", "10,2", "unsigned")``."""
    match = _TYPE.match(type_text.strip().lower())
    if match is None:
        return type_text.lower(), "", ""
    return match.group(1), match.group(2) or "", match.group(3) or ""


def enum_members(args: str) -> list[str]:
    """The members of an ENUM's or SET's arguments, as written."""
    return re.findall(r"'((?:[^']|'')*)'", args)


def narrows(old: str, new: str) -> bool:
    """Whether changing a column from type ``old`` to ``new`` may lose or change values: a
    smaller integer, unsigned to signed or back, shorter strings, lower precision or scale,
    removed enum or set members, or any change between kinds not known to keep every value."""
    if old == new:
        return False
    (ob, oa, orest), (nb, na, nrest) = type_parts(old), type_parts(new)
    if ob in _INTEGERS and nb in _INTEGERS:
        if "unsigned" in orest and "unsigned" not in nrest:
            return _INTEGERS.index(nb) <= _INTEGERS.index(ob)
        if "unsigned" in nrest and "unsigned" not in orest:
            return True
        return _INTEGERS.index(nb) < _INTEGERS.index(ob)
    if ob in ("varchar", "char", "varbinary", "binary") and nb == ob:
        return int(na or 1) < int(oa or 1)
    if (ob in ("varchar", "char") and nb in _TEXTS) or (ob == "char" and nb == "varchar"):
        return False
    for family in (_TEXTS, _BLOBS):
        if ob in family and nb in family:
            return family.index(nb) < family.index(ob)
    if ob in ("decimal", "numeric") and nb == ob:
        op, os_, *_ = [*(oa.split(",") if oa else ["10"]), "0"]
        np_, ns, *_ = [*(na.split(",") if na else ["10"]), "0"]
        return int(ns) < int(os_) or int(np_) - int(ns) < int(op) - int(os_)
    if ob in ("enum", "set") and nb == ob:
        old_members, new_members = enum_members(oa), enum_members(na)
        if ob == "enum":
            return new_members[: len(old_members)] != old_members
        return not set(old_members) <= set(new_members)
    if ob in ("float", "double") and nb == "double":
        return False
    if ob in ("datetime", "timestamp", "time") and nb == ob:
        return int(na or 0) < int(oa or 0)
    return True


def modify_column_hazards(old: Column, new: Column) -> list[Hazard]:
    """What MODIFY COLUMN risks: a type, character set, nullability or generation change copies
    the table; a narrowing one may lose values; NOT NULL fails on NULLs. A default, ON UPDATE,
    comment or visibility (INVISIBLE) change alone is metadata."""
    hazards: list[Hazard] = []
    if narrows(old.type, new.type):
        hazards += [H.DATA_LOSS, H.IRREVERSIBLE]
    shape = ("type", "charset", "collation", "not_null", "generated", "virtual", "auto_increment")
    if any(getattr(old, f) != getattr(new, f) for f in shape):
        hazards += [H.TABLE_REWRITE, H.LONG_LOCK]
    if new.not_null and not old.not_null:
        hazards.append(H.NEEDS_VALIDATION)
    return hazards


# The order CREATE TABLE and ALTER TABLE write table options in (a character set before the
# collation that must belong to it), then the others by name, the comment last.
_OPTION_ORDER = ["ENGINE", "DEFAULT CHARSET", "COLLATE", "ROW_FORMAT"]


def option_values(options: list[str]) -> dict[str, str]:
    """A table's KEY=value options as a dict."""
    return dict(o.split("=", 1) for o in options if "=" in o)


def _ordered(keys: set[str]) -> list[str]:
    def rank(key: str) -> tuple[int, str]:
        if key in _OPTION_ORDER:
            return _OPTION_ORDER.index(key), key
        return (99 if key == "COMMENT" else 50), key

    return sorted(keys, key=rank)


PARTITION = "PARTITION BY"


def table_options(table: Table) -> str:
    """The options after CREATE TABLE's parenthesis: ``ENGINE=InnoDB DEFAULT CHARSET=...``,
    the AUTO_INCREMENT counter, then the partitioning."""
    options = option_values(table.options)
    text = " ".join(f"{k}={options[k]}" for k in _ordered(set(options) - {PARTITION}))
    if table.auto_increment is not None:
        text += f" AUTO_INCREMENT={table.auto_increment}"
    if PARTITION in options:
        text += f" PARTITION BY {options[PARTITION]}"
    return text.strip()


def is_partitioning(clause: str) -> bool:
    """Whether an ALTER TABLE clause is a partitioning one (written last, without a comma)."""
    return clause.startswith(("PARTITION BY ", "REMOVE PARTITIONING"))


def alter_options(old: Table, new: Table) -> tuple[list[str], list[Hazard]]:
    """The ALTER TABLE clauses that take a table from ``old``'s options to ``new``'s, and their
    hazards (a new engine or row format copies the table)."""
    had, wanted = option_values(old.options), option_values(new.options)
    changed = {k for k in wanted if had.get(k) != wanted[k]}
    if "DEFAULT CHARSET" in changed and "COLLATE" in wanted:
        changed.add("COLLATE")  # a new character set takes its own default collation otherwise
    clauses = [f"{k}={wanted[k]}" for k in _ordered(changed - {PARTITION})]
    removed = set(had) - set(wanted)
    for key in _ordered(removed - {PARTITION}):
        clauses.append("COMMENT=''" if key == "COMMENT" else f"{key}=DEFAULT")
    # The counter only goes up (see the comparator's rules): the ALTER that undoes a raise
    # leaves it where it is.
    if (new.auto_increment or 1) > (old.auto_increment or 1):
        clauses.append(f"AUTO_INCREMENT={new.auto_increment}")
    if PARTITION in changed:
        clauses.append(f"PARTITION BY {wanted[PARTITION]}")
    elif PARTITION in removed:
        clauses.append("REMOVE PARTITIONING")
    hazards: list[Hazard] = []
    if {"ENGINE", "ROW_FORMAT", "KEY_BLOCK_SIZE", PARTITION} & (changed | removed):
        hazards += [H.TABLE_REWRITE, H.LONG_LOCK]
    return clauses, hazards
