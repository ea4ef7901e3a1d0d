"""Deterministic MariaDB and SQLite schema pairs for the engine benchmark.

:func:`build_pair` is :func:`bench.schemagen.build_pair` for the single-schema dialects: the
DDL of a *source* schema (the desired one) of ``n_tables`` tables and of a *target* variant
(the database to migrate) in which about 5 % of the objects differ, with the same shape of
changes as the PostgreSQL pairs: columns missing or extra, older column types, other defaults
and nullability, missing or extra indexes, other check expressions, other comments and view
bodies, missing tables (the migration creates them), extra tables (it drops them) and
enum-like columns lacking the last value of their list (a list belongs to its column in these
dialects, where PostgreSQL shares an enum type).

What each dialect's schema holds, written the way its users write it:

* **MariaDB**: InnoDB tables with ``bigint``/``int unsigned`` auto-increment or ``char(36)``
  primary keys, columns of the common types (``int``, ``decimal(p,s)``, ``varchar(n)``,
  ``text``, ``datetime``, ``tinyint(1)``, ``json``, ``enum(...)`` ...), table and column
  comments; unique keys, checks, foreign keys (each with its own index, as InnoDB needs one),
  multi-column, descending and prefix indexes, all inside ``CREATE TABLE``; views.
* **SQLite**: tables with ``INTEGER PRIMARY KEY`` (some ``AUTOINCREMENT``) or ``CHAR(36)``
  keys and declared types as ORMs write them (``VARCHAR(n)``, ``NUMERIC(p,s)``, ``DATETIME``,
  ``BOOLEAN``, ``JSON`` ...); value lists as column ``CHECK (x IN (...))``; unique
  constraints on their column, named check and foreign key constraints; plain, unique,
  multi-column, partial and expression indexes; views; every name double-quoted. SQLite has
  no comments.

Only columns that no index, constraint or view uses are changed, so every change is one a
migration tool can make on its own (on SQLite most table changes need a table rebuild, which
is the dialect's cost, not the generator's choice). Everything is drawn from
``random.Random(f"{seed}:{n_tables}:{dialect}")``: the same arguments give the same DDL.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.schemagen import (
    CHANGE_RATE,
    LABELS,
    NOUNS,
    Col,
    Fk,
    Idx,
    Model,
    Pair,
    Tbl,
    ViewDef,
    unique_name,
)

DIALECTS = ("mariadb", "sqlite")

# (name stems, type, default or "", probability of NOT NULL, weight); "(P,S)" and "(N)" get a
# random precision / length.
Kinds = list[tuple[str, str, str, float, int]]

_MARIADB_KINDS: Kinds = [
    ("quantity rank priority attempts score", "int", "0", 0.6, 10),
    ("external_no bytes views clicks", "bigint", "", 0.3, 5),
    ("level tier", "smallint", "1", 0.5, 3),
    ("amount price balance tax discount weight", "decimal(P,S)", "0", 0.5, 10),
    ("name code email title sku city country phone slug label", "varchar(N)", "", 0.4, 14),
    ("description notes body summary address", "text", "''", 0.1, 8),
    ("updated_at published_at expires_at seen_at starts_at", "datetime", "CURRENT_TIMESTAMP",
     0.2, 8),
    ("birth_date due_date valid_from", "date", "", 0.1, 4),
    ("is_public is_verified archived enabled", "tinyint(1)", "0", 0.8, 6),
    ("attributes metadata settings payload", "json", "", 0.3, 6),
    ("token correlation_id external_ref", "char(36)", "", 0.3, 4),
    ("ratio latitude longitude", "double", "", 0.0, 3),
]  # fmt: skip

_SQLITE_KINDS: Kinds = [
    ("quantity rank priority attempts score", "INTEGER", "0", 0.6, 10),
    ("external_no bytes views clicks", "BIGINT", "", 0.3, 5),
    ("level tier", "SMALLINT", "1", 0.5, 3),
    ("amount price balance tax discount weight", "NUMERIC(P,S)", "0", 0.5, 10),
    ("name code email title sku city country phone slug label", "VARCHAR(N)", "", 0.4, 14),
    ("description notes body summary address", "TEXT", "''", 0.1, 8),
    ("updated_at published_at expires_at seen_at starts_at", "DATETIME", "CURRENT_TIMESTAMP",
     0.2, 8),
    ("birth_date due_date valid_from", "DATE", "", 0.1, 4),
    ("is_public is_verified archived enabled", "BOOLEAN", "0", 0.8, 6),
    ("attributes metadata settings payload", "JSON", "'{}'", 0.3, 6),
    ("token correlation_id external_ref", "CHAR(36)", "", 0.3, 4),
    ("ratio latitude longitude", "REAL", "", 0.0, 3),
]  # fmt: skip


def _precision(typ: str) -> tuple[int, int]:
    """(p, s) of ``decimal(p,s)``."""
    p, s = typ[typ.index("(") + 1 : -1].split(",")
    return int(p), int(s)


def _length(typ: str) -> int:
    """n of ``varchar(n)``."""
    return int(typ[typ.index("(") + 1 : -1])


# Source type prefix (lower case) -> how the target (older) declares the column.
_MARIADB_OLDER: dict[str, Callable[[str], str]] = {
    "int": lambda t: "smallint",
    "bigint": lambda t: "int",
    "decimal": lambda t: f"decimal({_precision(t)[0] - 2},{_precision(t)[1]})",
    "varchar": lambda t: f"varchar({_length(t) // 2})",
    "text": lambda t: "varchar(255)",
    "date": lambda t: "datetime",
    "json": lambda t: "longtext",
    "char": lambda t: "varchar(36)",
    "double": lambda t: "float",
}
_SQLITE_OLDER: dict[str, Callable[[str], str]] = {
    "integer": lambda t: "SMALLINT",
    "bigint": lambda t: "INTEGER",
    "numeric": lambda t: f"NUMERIC({_precision(t)[0] - 2},{_precision(t)[1]})",
    "varchar": lambda t: f"VARCHAR({_length(t) // 2})",
    "text": lambda t: "VARCHAR(255)",
    "datetime": lambda t: "TEXT",
    "date": lambda t: "DATETIME",
    "json": lambda t: "TEXT",
    "char": lambda t: "VARCHAR(36)",
    "real": lambda t: "FLOAT",
}


@dataclass(frozen=True)
class Flavour:
    """What differs between the dialects while generating: types, keys and SQL spellings."""

    name: str
    kinds: Kinds
    older: dict[str, Callable[[str], str]]
    # (cumulative probability, primary key column definition, type of the referring column)
    keys: tuple[tuple[float, str, str], ...]
    timestamp: str  # created_at's type
    boolean: str
    integer: str
    text: str
    json: str
    length: str  # the function counting characters
    comments: bool
    # Each foreign key has its own index: InnoDB would make one otherwise, named after the key.
    index_every_fk: bool

    def type_of(self, stem_type: str, rng: random.Random) -> str:
        """A concrete type of a kind (random precision or length)."""
        if "(P,S)" in stem_type:
            p, s = rng.choice((10, 12, 14, 18)), rng.choice((2, 4))
            return stem_type.replace("(P,S)", f"({p},{s})")
        if "(N)" in stem_type:
            return stem_type.replace("(N)", f"({rng.choice((32, 64, 100, 200, 255))})")
        return stem_type

    def older_type(self, typ: str) -> str | None:
        """The older declaration of a column of type ``typ`` (None: none is plausible)."""
        base = typ.lower().split("(")[0]
        older = self.older.get(base)
        return older(typ) if older else None

    def other_default(self, col: Col) -> str | None:
        """A different default for the target (None: drop it)."""
        if col.default is None:
            return {
                self.integer: "-1",
                self.boolean: "1",
                self.text: "'n/a'",
                self.timestamp: "CURRENT_TIMESTAMP",
            }.get(col.type)
        if col.default == "0":
            return "1"
        return None


MARIADB = Flavour(
    name="mariadb",
    kinds=_MARIADB_KINDS,
    older=_MARIADB_OLDER,
    keys=(
        (0.7, "id bigint NOT NULL AUTO_INCREMENT", "bigint"),
        (0.9, "id char(36) NOT NULL", "char(36)"),
        (1.0, "id int unsigned NOT NULL AUTO_INCREMENT", "int unsigned"),
    ),
    timestamp="datetime",
    boolean="tinyint(1)",
    integer="int",
    text="text",
    json="json",
    length="char_length",
    comments=True,
    index_every_fk=True,
)
SQLITE = Flavour(
    name="sqlite",
    kinds=_SQLITE_KINDS,
    older=_SQLITE_OLDER,
    keys=(
        (0.6, "id INTEGER PRIMARY KEY", "INTEGER"),
        (0.8, "id INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER"),
        (1.0, "id CHAR(36) NOT NULL PRIMARY KEY", "CHAR(36)"),
    ),
    timestamp="DATETIME",
    boolean="BOOLEAN",
    integer="INTEGER",
    text="TEXT",
    json="JSON",
    length="length",
    comments=False,
    index_every_fk=False,
)
FLAVOURS = {f.name: f for f in (MARIADB, SQLITE)}


@dataclass
class FlatModel(Model):
    """A single-schema model; ``value_lists`` are the named lists of enum-like columns (on
    MariaDB an ``enum(...)`` type, on SQLite a ``CHECK (x IN (...))``), not objects of their
    own. Tables are keyed by their bare name."""

    value_lists: dict[str, list[str]] = field(default_factory=dict)


def literal(text: str) -> str:
    """A string literal both dialects read alike (no backslashes are generated)."""
    return "'" + text.replace("'", "''") + "'"


# --- source ---------------------------------------------------------------------------------


def _primary_key(rng: random.Random, flavour: Flavour) -> tuple[str, str]:
    draw = rng.random()
    for bound, definition, ref_type in flavour.keys:
        if draw < bound:
            return definition, ref_type
    return flavour.keys[-1][1:]


def _columns(rng: random.Random, flavour: Flavour, model: FlatModel, t: Tbl) -> set[str]:
    """Fill ``t``'s plain columns; the names taken."""
    taken = {"id"}
    t.cols.append(
        Col(unique_name("created_at", taken), flavour.timestamp, True, "CURRENT_TIMESTAMP")
    )
    lists = list(model.value_lists)
    weights = [k[-1] for k in flavour.kinds]
    for _ in range(rng.randint(4, 12)):
        if rng.random() < 0.08:
            name = rng.choice(lists)
            stem = name.rsplit("_", 1)[0]
            first = literal(model.value_lists[name][0])
            t.cols.append(Col(unique_name(stem, taken), "enum", True, first, enum=name))
            continue
        stems, typ, default, p_not_null, _ = rng.choices(flavour.kinds, weights=weights)[0]
        col = Col(unique_name(rng.choice(stems.split()), taken), flavour.type_of(typ, rng))
        if default and rng.random() < 0.6:
            col.default = default
        col.not_null = rng.random() < p_not_null
        t.cols.append(col)
    if rng.random() < 0.5:
        t.cols.append(Col(unique_name("is_active", taken), flavour.boolean, True, "1"))
    if rng.random() < 0.4:
        t.cols.append(Col(unique_name("deleted_at", taken), flavour.timestamp))
    return taken


def _foreign_keys(
    rng: random.Random, flavour: Flavour, t: Tbl, tables: list[Tbl], taken: set[str]
) -> None:
    """Foreign keys to earlier tables (mostly nearby ones), each usually indexed."""
    i = len(tables)
    for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3)) if tables else 0):
        ref = tables[max(0, i - 1 - int(rng.expovariate(1 / 30)))]
        fk_col = Col(
            unique_name(f"{ref.name.rsplit('_', 1)[0]}_id", taken),
            ref.pk_type,
            rng.random() < 0.5,
            used=True,
        )
        t.cols.append(fk_col)
        action = rng.choice(("NO ACTION", "CASCADE", "RESTRICT", "SET NULL"))
        if action == "SET NULL" and fk_col.not_null:
            action = "CASCADE"
        t.fks.append(Fk(f"{t.name}_{fk_col.name}_fkey", fk_col.name, ref.name, action))
        if flavour.index_every_fk or rng.random() < 0.7:
            t.indexes.append(Idx(f"{t.name}_{fk_col.name}_idx", f"({fk_col.name})"))


def _is_type(col: Col, *names: str) -> bool:
    base = col.type.lower().split("(")[0]
    return base in names


def _constraints_and_indexes(rng: random.Random, flavour: Flavour, t: Tbl) -> None:
    numbers = [
        c
        for c in t.cols
        if _is_type(c, "int", "integer", "decimal", "numeric", "smallint") and not c.used
    ]
    for c in rng.sample(numbers, k=min(len(numbers), rng.choice((0, 1, 1, 2)))):
        c.used = True
        t.checks[f"{t.name}_{c.name}_check"] = f"{c.name} >= 0"
    strings = [c for c in t.cols if _is_type(c, "varchar") and not c.used]
    if strings and rng.random() < 0.3:
        c = strings[0]
        c.used = True
        t.uniques[f"{t.name}_{c.name}_key"] = c.name
    if strings and rng.random() < 0.3:
        c = strings[-1]
        c.used = True
        t.checks[f"{t.name}_{c.name}_len_check"] = f"{flavour.length}({c.name}) > 0"
    created = t.col("created_at")
    others = [c for c in t.cols if _is_type(c, "int", "integer", "bigint", "date") or c.enum]
    if others and rng.random() < 0.5:
        c = rng.choice(others)
        c.used = created.used = True
        t.indexes.append(Idx(f"{t.name}_{c.name}_created_idx", f"({c.name}, created_at DESC)"))
    _live_index(rng, flavour, t)
    emails = [c for c in t.cols if c.name.startswith("email") and not c.used]
    if emails and rng.random() < 0.6:
        emails[0].used = True
        body = f"(lower({emails[0].name}))" if flavour is SQLITE else f"({emails[0].name})"
        t.indexes.append(Idx(f"{t.name}_email_uidx", body, unique=True))
    _document_index(rng, flavour, t)
    # Any column but a long one (MariaDB indexes TEXT and JSON only by a prefix).
    indexed = {i.body for i in t.indexes}
    plain = [
        c
        for c in t.cols
        if (flavour is SQLITE or not _is_type(c, "text", "json")) and f"({c.name})" not in indexed
    ]
    if plain and rng.random() < 0.1:
        c = rng.choice(plain)
        c.used = True
        t.indexes.append(Idx(f"{t.name}_{c.name}_bidx", f"({c.name})"))


def _live_index(rng: random.Random, flavour: Flavour, t: Tbl) -> None:
    """The index of live rows: partial on SQLite, led by the flag on MariaDB (no partial
    indexes there)."""
    flags = [c for c in t.cols if c.name in ("is_active", "deleted_at")]
    if not flags or rng.random() >= 0.4:
        return
    flag = rng.choice(flags)
    flag.used = t.col("created_at").used = True
    if flavour is SQLITE:
        where = "is_active" if flag.name == "is_active" else "deleted_at IS NULL"
        t.indexes.append(Idx(f"{t.name}_live_idx", "(created_at)", where=where))
    else:
        t.indexes.append(Idx(f"{t.name}_live_idx", f"({flag.name}, created_at)"))


def _document_index(rng: random.Random, flavour: Flavour, t: Tbl) -> None:
    """An index into a document: a JSON path expression on SQLite, a prefix of a TEXT column
    on MariaDB."""
    if flavour is SQLITE:
        docs = [c for c in t.cols if _is_type(c, "json") and not c.used]
        if docs and rng.random() < 0.2:
            docs[0].used = True
            body = f"(json_extract({docs[0].name}, '$.kind'))"
            t.indexes.append(Idx(f"{t.name}_{docs[0].name}_kind_idx", body))
        return
    texts = [c for c in t.cols if _is_type(c, "text") and not c.used]
    if texts and rng.random() < 0.2:
        texts[0].used = True
        t.indexes.append(Idx(f"{t.name}_{texts[0].name}_pidx", f"({texts[0].name}(32))"))


def _view(rng: random.Random, t: Tbl, model: FlatModel) -> ViewDef:
    picked = rng.sample(t.cols, k=min(len(t.cols), rng.randint(2, 4)))
    for c in picked:
        c.used = True
    select = ["t.id", *(f"t.{c.name}" for c in picked)]
    deps = [t.name]
    source = f"{t.name} t"
    if t.fks and rng.random() < 0.4:
        fk = t.fks[0]
        ref = model.tables[fk.ref]
        ref.col("created_at").used = True
        select.append(f"r.created_at AS {fk.column.removesuffix('_id')}_created_at")
        source += f" JOIN {ref.name} r ON r.id = t.{fk.column}"
        deps.append(ref.name)
    where = ""
    if any(c.name == "is_active" for c in t.cols):
        t.col("is_active").used = True
        where = " WHERE t.is_active = 1"
    comment = None  # neither dialect comments views
    body = f"SELECT {', '.join(select)} FROM {source}{where}"
    return ViewDef("", f"{t.name}_v", body, deps, comment)


def _build_source(rng: random.Random, flavour: Flavour, n_tables: int) -> FlatModel:
    model = FlatModel()
    for k in range(max(3, n_tables // 40)):
        labels = LABELS[: rng.randint(3, len(LABELS))]
        model.value_lists[f"{('status', 'state', 'stage')[k % 3]}_{k:03d}"] = list(labels)
    tables: list[Tbl] = []
    for i in range(n_tables):
        noun = NOUNS[i % len(NOUNS)]
        pk, ref_type = _primary_key(rng, flavour)
        t = Tbl("", f"{noun}_{i:05d}", pk, ref_type)
        taken = _columns(rng, flavour, model, t)
        _foreign_keys(rng, flavour, t, tables, taken)
        _constraints_and_indexes(rng, flavour, t)
        if flavour.comments:
            if rng.random() < 0.5:
                t.comment = f"The {noun}s of tenant group {i % 7}."
            for c in rng.sample(t.cols, k=min(len(t.cols), rng.choice((0, 1, 1, 2)))):
                c.comment = f"{c.name.replace('_', ' ').capitalize()} of the {noun}."
        tables.append(t)
        model.tables[t.name] = t
    for t in tables[::10]:
        model.views.append(_view(rng, t, model))
    return model


# --- target ---------------------------------------------------------------------------------


class _Changes:
    """The target's changes by kind, drawn from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counts: dict[str, int] = {}

    def count(self, kind: str, n: int = 1) -> None:
        """Record ``n`` changes of ``kind``."""
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def hit(self, rate: float = CHANGE_RATE) -> bool:
        """Whether this object changes."""
        return self.rng.random() < rate


def _drop_tables(target: FlatModel, changes: _Changes) -> None:
    """Tables missing in the target, with the foreign keys and views over them."""
    for name in list(target.tables)[1:]:
        if changes.hit(0.01):
            del target.tables[name]
            changes.count("table missing (create)")
    for t in target.tables.values():
        kept = [fk for fk in t.fks if fk.ref in target.tables]
        changes.count("foreign key missing (add)", len(t.fks) - len(kept))
        t.fks = kept
    views = [v for v in target.views if all(d in target.tables for d in v.deps)]
    changes.count("view missing (create)", len(target.views) - len(views))
    target.views = views


def _change_column(
    flavour: Flavour, target: FlatModel, t: Tbl, col: Col, changes: _Changes
) -> None:
    older = "enum" if col.enum else flavour.older_type(col.type)
    choice = changes.rng.choice(
        ("drop", "type", "default", "null") if older else ("drop", "default", "null")
    )
    if choice == "drop":
        t.cols.remove(col)
        changes.count("column missing (add)")
    elif choice == "type" and col.enum:
        # A value list belongs to its column here: this one lacks the list's last value.
        shorter = f"{col.enum}_older"
        target.value_lists[shorter] = target.value_lists[col.enum][:-1]
        col.enum = shorter
        changes.count("column values fewer (alter type)")
    elif choice == "type" and older is not None:
        col.type = older
        changes.count("column type older (alter type)")
    elif choice == "default" and (new := flavour.other_default(col)) != col.default:
        col.default = new
        changes.count("column default other (set/drop default)")
    else:
        col.not_null = not col.not_null
        changes.count("column nullability other (set/drop not null)")


def _fk_index(t: Tbl, idx: Idx) -> bool:
    """Whether ``idx`` is the one index of one of ``t``'s foreign keys."""
    return any(idx.body == f"({fk.column})" for fk in t.fks)


def _change_table(flavour: Flavour, target: FlatModel, t: Tbl, changes: _Changes) -> None:
    for col in list(t.cols):
        if not col.used and changes.hit():
            _change_column(flavour, target, t, col, changes)
    if changes.hit():
        typ = changes.rng.choice((flavour.text, flavour.integer, flavour.json))
        t.cols.append(Col(f"legacy_{len(t.cols)}", typ))
        changes.count("column extra (drop)")
    for idx in list(t.indexes):
        if changes.hit() and not (flavour.index_every_fk and _fk_index(t, idx)):
            t.indexes.remove(idx)
            changes.count("index missing (create)")
    if changes.hit(CHANGE_RATE / 2):
        t.indexes.append(Idx(f"{t.name}_legacy_idx", f"({t.cols[0].name}, id)"))
        changes.count("index extra (drop)")
    for name, expr in list(t.checks.items()):
        if changes.hit():
            t.checks[name] = expr.replace(">= 0", "> -1").replace("> 0", ">= 0")
            changes.count("check other (drop+add)")
    if t.comment is not None and changes.hit():
        t.comment += " (legacy)"
        changes.count("comment other")
    for col in t.cols:
        if col.comment is not None and changes.hit():
            col.comment = None
            changes.count("comment missing")


def _legacy_tables(
    flavour: Flavour, source: FlatModel, target: FlatModel, changes: _Changes
) -> None:
    """Tables only the target has (the migration drops them)."""
    existing = list(target.tables.values())
    pk = flavour.keys[0][1]
    for k in range(max(1, len(source.tables) // 100)):
        ref = changes.rng.choice(existing)
        t = Tbl("", f"legacy_{k:04d}", pk, flavour.keys[0][2])
        t.cols = [
            Col("created_at", flavour.timestamp, True, "CURRENT_TIMESTAMP"),
            Col("note", flavour.text),
            Col("ref_id", ref.pk_type),
        ]
        t.fks.append(Fk(f"legacy_{k:04d}_ref_fkey", "ref_id", ref.name, "CASCADE"))
        t.indexes.append(Idx(f"legacy_{k:04d}_ref_idx", "(ref_id)"))
        target.tables[t.name] = t
        changes.count("table extra (drop)")


def _build_target(
    rng: random.Random, flavour: Flavour, source: FlatModel
) -> tuple[FlatModel, dict[str, int]]:
    target = copy.deepcopy(source)
    changes = _Changes(rng)
    _drop_tables(target, changes)
    for t in target.tables.values():
        _change_table(flavour, target, t, changes)
    for v in target.views:
        if changes.hit(2 * CHANGE_RATE):
            v.body = (
                v.body.replace(" WHERE t.is_active = 1", "")
                if "WHERE" in v.body
                else (v.body + " WHERE t.id IS NOT NULL")
            )
            changes.count("view body other (replace)")
    _legacy_tables(flavour, source, target, changes)
    return target, changes.counts


# --- DDL ------------------------------------------------------------------------------------


def _mariadb_column(col: Col, model: FlatModel) -> str:
    typ = col.type
    if col.enum:
        typ = f"enum({', '.join(literal(x) for x in model.value_lists[col.enum])})"
    parts = [col.name, typ]
    if col.not_null:
        parts.append("NOT NULL")
    if col.default is not None:
        parts.append(f"DEFAULT {col.default}")
    if col.comment is not None:
        parts.append(f"COMMENT {literal(col.comment)}")
    return " ".join(parts)


def mariadb_ddl(model: FlatModel) -> list[str]:
    """The schema as MariaDB statements, one per table (keys inside) and one per view."""
    statements = []
    for t in model.tables.values():
        body = [t.pk, *(_mariadb_column(c, model) for c in t.cols), "PRIMARY KEY (id)"]
        body += [f"UNIQUE KEY {n} ({cols})" for n, cols in t.uniques.items()]
        body += [f"{'UNIQUE ' if i.unique else ''}KEY {i.name} {i.body}" for i in t.indexes]
        body += [f"CONSTRAINT {n} CHECK ({expr})" for n, expr in t.checks.items()]
        body += [
            f"CONSTRAINT {fk.name} FOREIGN KEY ({fk.column}) REFERENCES {fk.ref} (id)"
            f" ON DELETE {fk.on_delete}"
            for fk in t.fks
        ]
        options = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"
        if t.comment is not None:
            options += f" COMMENT={literal(t.comment)}"
        statements.append(f"CREATE TABLE {t.name} (\n  " + ",\n  ".join(body) + f"\n) {options}")
    statements += [f"CREATE VIEW {v.name} AS {v.body}" for v in model.views]
    return statements


def _sqlite_column(col: Col, model: FlatModel, unique: bool) -> str:
    typ = "TEXT" if col.enum else col.type
    parts = [col.name, typ]
    if col.not_null:
        parts.append("NOT NULL")
    if unique:
        parts.append("UNIQUE")
    if col.default is not None:
        parts.append(f"DEFAULT {col.default}")
    if col.enum:
        values = ", ".join(literal(x) for x in model.value_lists[col.enum])
        parts.append(f"CHECK ({col.name} IN ({values}))")
    return " ".join(parts)


def sqlite_ddl(model: FlatModel) -> list[str]:
    """The schema as SQLite statements: each table, then its indexes; the views last."""
    statements = []
    for t in model.tables.values():
        # Unique constraints on their column: sqldef 0.17 cannot parse table-level UNIQUE
        # on SQLite, and the catalog names them <table>_<column>_key all the same.
        uniques = set(t.uniques.values())
        body = [t.pk, *(_sqlite_column(c, model, c.name in uniques) for c in t.cols)]
        body += [f"CONSTRAINT {n} CHECK ({expr})" for n, expr in t.checks.items()]
        body += [
            f"CONSTRAINT {fk.name} FOREIGN KEY ({fk.column}) REFERENCES {fk.ref} (id)"
            f" ON DELETE {fk.on_delete}"
            for fk in t.fks
        ]
        statements.append(f"CREATE TABLE {t.name} (\n  " + ",\n  ".join(body) + "\n)")
        for i in t.indexes:
            unique = "UNIQUE " if i.unique else ""
            where = f" WHERE {i.where}" if i.where else ""
            statements.append(f"CREATE {unique}INDEX {i.name} ON {t.name} {i.body}{where}")
    statements += [f"CREATE VIEW {v.name} AS {v.body}" for v in model.views]
    # Every name double-quoted, as Django writes SQLite DDL: sqldef 0.17's SQLite parser
    # takes the common column names status and level for keywords otherwise.
    return [_quote_names(sql, _names(model)) for sql in statements]


_LITERAL = re.compile(r"('(?:[^']|'')*')")
_WORD = re.compile(r"\b[a-z_][a-z0-9_]*\b")


def _names(model: FlatModel) -> set[str]:
    """Every name the model declares: tables, columns, constraints, indexes, views."""
    names = {v.name for v in model.views}
    for t in model.tables.values():
        names |= {t.name, "id", *(c.name for c in t.cols), *t.checks, *t.uniques}
        names |= {fk.name for fk in t.fks} | {i.name for i in t.indexes}
    return names


def _quote_names(sql: str, names: set[str]) -> str:
    """``sql`` with each of ``names`` double-quoted, outside string literals."""
    parts = _LITERAL.split(sql)
    for k in range(0, len(parts), 2):  # the odd parts are the literals
        parts[k] = _WORD.sub(lambda m: f'"{m[0]}"' if m[0] in names else m[0], parts[k])
    return "".join(parts)


_DDL = {"mariadb": mariadb_ddl, "sqlite": sqlite_ddl}


def build_pair(n_tables: int, seed: int = 42, dialect: str = "mariadb") -> Pair:
    """The source (desired) and target (to migrate) statements for ``n_tables`` tables of
    ``dialect`` (``mariadb`` or ``sqlite``); ``Pair.source_ddl`` holds one statement each."""
    flavour = FLAVOURS[dialect]
    rng = random.Random(f"{seed}:{n_tables}:{dialect}")
    source = _build_source(rng, flavour, n_tables)
    target, changes = _build_target(rng, flavour, source)
    ddl = _DDL[dialect]
    return Pair(n_tables, ddl(source), ddl(target), source.object_count(), changes)


if __name__ == "__main__":  # pragma: no cover - a quick look at what is generated
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    pair = build_pair(size, dialect=sys.argv[2] if len(sys.argv) > 2 else "mariadb")
    print(";\n".join(pair.source_ddl) + ";")
    print("-- objects", pair.objects, "changed", pair.changed, pair.changes)
