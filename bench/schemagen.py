"""Deterministic generator of realistic PostgreSQL schema pairs for the engine benchmark.

:func:`build_pair` returns the DDL of a *source* schema (the desired one) of ``n_tables``
tables and of a *target* variant (the database to migrate) in which about 5 % of the objects
differ. The source has, over three schemas:

* tables with columns of many types (integer, bigint, smallint, numeric(p,s), varchar(n), text,
  timestamptz, date, boolean, jsonb, uuid, text[]/integer[], double precision, enum types),
  identity / uuid / bigserial primary keys, NOT NULL and defaults;
* unique constraints, check constraints, foreign keys between tables (each table refers only to
  earlier ones, so the DDL loads in one pass);
* indexes: plain, unique, multi-column, partial, expression and GIN;
* enum types, views (some joining two tables) and comments on tables, columns and views.

The target differs the way a database that is behind (or has drifted) does: columns missing or
extra, older column types, other defaults and nullability, missing or extra indexes, other check
expressions, other comments and view bodies, missing tables (the migration creates them), extra
tables (the migration drops them) and enum types lacking their last value (the migration adds
it). Only columns that no index, constraint or view uses are changed, so every change is one a
migration tool can make on its own.

Everything is drawn from ``random.Random(f"{seed}:{n_tables}")``: the same arguments always give
byte-identical DDL.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

SCHEMAS = ("public", "sales", "ops")
CHANGE_RATE = 0.07  # per-object chance; about 5 % of all objects end up changed

NOUNS = (
    "account", "order", "invoice", "product", "customer", "shipment", "payment", "ticket",
    "event", "session", "device", "vendor", "contract", "warehouse", "item", "review", "coupon",
    "refund", "campaign", "report", "asset", "license", "project", "task", "comment", "message",
)  # fmt: skip
LABELS = ("draft", "active", "paused", "pending", "closed", "archived", "deleted", "failed")


@dataclass
class Col:
    """A column; ``used`` when an index, constraint or view depends on it (never changed)."""

    name: str
    type: str
    not_null: bool = False
    default: str | None = None
    used: bool = False
    comment: str | None = None
    enum: str | None = None  # qualified enum type name, for enum columns

    def ddl(self) -> str:
        """The column's definition inside CREATE TABLE."""
        parts = [self.name, self.type]
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        if self.not_null:
            parts.append("NOT NULL")
        return " ".join(parts)


@dataclass
class Idx:
    """A CREATE INDEX (not one backing a constraint)."""

    name: str
    body: str  # what follows ON table: "(a, b)", "USING gin (x)", "(lower(x))"
    unique: bool = False
    where: str | None = None


@dataclass
class Fk:
    """A foreign key from ``column`` to ``ref``'s primary key."""

    name: str
    column: str
    ref: str  # qualified table name
    on_delete: str


@dataclass
class Tbl:
    """A table of the model."""

    schema: str
    name: str
    pk: str  # primary key column definition
    pk_type: str = "bigint"
    cols: list[Col] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)  # name -> expression
    uniques: dict[str, str] = field(default_factory=dict)  # name -> column list
    fks: list[Fk] = field(default_factory=list)
    indexes: list[Idx] = field(default_factory=list)
    comment: str | None = None

    @property
    def qname(self) -> str:
        """schema.name"""
        return f"{self.schema}.{self.name}"

    def col(self, name: str) -> Col:
        """The column called ``name``."""
        return next(c for c in self.cols if c.name == name)


@dataclass
class ViewDef:
    """A view and the tables it reads."""

    schema: str
    name: str
    body: str
    deps: list[str]
    comment: str | None = None


@dataclass
class Model:
    """A whole schema: enums (qualified name -> labels), tables in creation order, views."""

    enums: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, Tbl] = field(default_factory=dict)
    views: list[ViewDef] = field(default_factory=list)

    def object_count(self) -> int:
        """Schema objects: tables, columns, constraints, indexes, enums, views, comments."""
        n = len(self.enums) + len(self.views) + sum(v.comment is not None for v in self.views)
        for t in self.tables.values():
            n += 1 + 1 + len(t.cols) + len(t.checks) + len(t.uniques) + len(t.fks)  # +1: pk
            n += (
                len(t.indexes)
                + (t.comment is not None)
                + sum(c.comment is not None for c in t.cols)
            )
        return n

    def ddl(self, tables_per_batch: int = 200) -> list[str]:
        """The schema as a few multi-statement SQL batches, one execute each, in order.

        One batch is one implicit transaction: batches keep its locks (one per created object)
        within the server's lock table (``max_locks_per_transaction``).
        """
        batches: list[str] = []
        out = [f"CREATE SCHEMA IF NOT EXISTS {s};" for s in SCHEMAS if s != "public"]
        for name, labels in self.enums.items():
            out.append(f"CREATE TYPE {name} AS ENUM ({', '.join(_lit(x) for x in labels)});")
        for n, t in enumerate(self.tables.values()):
            if n and n % tables_per_batch == 0:
                batches.append("\n".join(out) + "\n")
                out = []
            body = [t.pk, *(c.ddl() for c in t.cols)]
            body += [f"CONSTRAINT {n} UNIQUE ({cols})" for n, cols in t.uniques.items()]
            body += [f"CONSTRAINT {n} CHECK ({expr})" for n, expr in t.checks.items()]
            body += [
                f"CONSTRAINT {fk.name} FOREIGN KEY ({fk.column}) REFERENCES {fk.ref} (id)"
                f" ON DELETE {fk.on_delete}"
                for fk in t.fks
            ]
            out.append(f"CREATE TABLE {t.qname} (\n  " + ",\n  ".join(body) + "\n);")
            for i in t.indexes:
                unique = "UNIQUE " if i.unique else ""
                where = f" WHERE {i.where}" if i.where else ""
                out.append(f"CREATE {unique}INDEX {i.name} ON {t.qname} {i.body}{where};")
            if t.comment is not None:
                out.append(f"COMMENT ON TABLE {t.qname} IS {_lit(t.comment)};")
            for c in t.cols:
                if c.comment is not None:
                    out.append(f"COMMENT ON COLUMN {t.qname}.{c.name} IS {_lit(c.comment)};")
        for v in self.views:
            out.append(f"CREATE VIEW {v.schema}.{v.name} AS {v.body};")
            if v.comment is not None:
                out.append(f"COMMENT ON VIEW {v.schema}.{v.name} IS {_lit(v.comment)};")
        batches.append("\n".join(out) + "\n")
        return batches


@dataclass
class Pair:
    """A generated source/target pair and what was changed between them."""

    n_tables: int
    source_ddl: list[str]  # batches, see Model.ddl
    target_ddl: list[str]
    objects: int  # objects of the source
    changes: dict[str, int]  # kind of change -> count

    @property
    def changed(self) -> int:
        """How many objects differ."""
        return sum(self.changes.values())


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- source ---------------------------------------------------------------------------------

# (name stems, type, default or "", probability of NOT NULL, weight); "numeric(P,S)" and
# "varchar(N)" get a random precision/length.
_KINDS: list[tuple[str, str, str, float, int]] = [
    ("quantity rank priority attempts score", "integer", "0", 0.6, 10),
    ("external_no bytes views clicks", "bigint", "", 0.3, 5),
    ("level tier", "smallint", "1", 0.5, 3),
    ("amount price balance tax discount weight", "numeric(P,S)", "0", 0.5, 10),
    ("name code email title sku city country phone slug label", "varchar(N)", "", 0.4, 14),
    ("description notes body summary address", "text", "''", 0.1, 8),
    ("updated_at published_at expires_at seen_at starts_at", "timestamptz", "now()", 0.2, 8),
    ("birth_date due_date valid_from", "date", "", 0.1, 4),
    ("is_public is_verified archived enabled", "boolean", "false", 0.8, 6),
    ("attributes metadata settings payload", "jsonb", "'{}'::jsonb", 0.3, 6),
    ("token correlation_id external_ref", "uuid", "gen_random_uuid()", 0.3, 4),
    ("tags aliases", "text[]", "'{}'::text[]", 0.3, 3),
    ("slots ratings", "integer[]", "", 0.0, 2),
    ("ratio latitude longitude", "double precision", "", 0.0, 3),
]


def _concrete_type(rng: random.Random, typ: str) -> str:
    if typ == "numeric(P,S)":
        return f"numeric({rng.choice((10, 12, 14, 18))},{rng.choice((2, 4))})"
    if typ == "varchar(N)":
        return f"varchar({rng.choice((32, 64, 100, 200, 255))})"
    return typ


_ENUM_STEMS = ("status", "state", "stage")


def unique_name(stem: str, taken: set[str]) -> str:
    """``stem``, or ``stem_2``, ``stem_3`` ... the first one not in ``taken`` (then taken)."""
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}_{n}", n + 1
    taken.add(name)
    return name


def _build_source(rng: random.Random, n_tables: int) -> Model:
    model = Model()
    for k in range(max(3, n_tables // 40)):
        labels = LABELS[: rng.randint(3, len(LABELS))]
        model.enums[f"{SCHEMAS[k % len(SCHEMAS)]}.{_ENUM_STEMS[k % 3]}_{k:03d}"] = list(labels)
    enum_names = list(model.enums)
    weights = [k[-1] for k in _KINDS]
    tables: list[Tbl] = []
    for i in range(n_tables):
        noun = NOUNS[i % len(NOUNS)]
        schema = SCHEMAS[rng.choices(range(3), weights=(5, 3, 2))[0]]
        pk_kind = rng.random()
        if pk_kind < 0.7:
            pk, id_type = "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "bigint"
        elif pk_kind < 0.9:
            pk, id_type = "id uuid DEFAULT gen_random_uuid() PRIMARY KEY", "uuid"
        else:
            pk, id_type = "id bigserial PRIMARY KEY", "bigint"
        t = Tbl(schema, f"{noun}_{i:05d}", pk, id_type)
        taken = {"id"}
        t.cols.append(Col(unique_name("created_at", taken), "timestamptz", True, "now()"))
        for _ in range(rng.randint(4, 12)):
            if rng.random() < 0.08:
                enum = rng.choice(enum_names)
                stem = enum.split(".")[1].rsplit("_", 1)[0]
                label0 = model.enums[enum][0]
                t.cols.append(
                    Col(unique_name(stem, taken), enum, True, f"{_lit(label0)}::{enum}", enum=enum)
                )
                continue
            stems, typ, default, p_not_null, _ = rng.choices(_KINDS, weights=weights)[0]
            col = Col(unique_name(rng.choice(stems.split()), taken), _concrete_type(rng, typ))
            if default and rng.random() < 0.6:
                col.default = default
            col.not_null = rng.random() < p_not_null
            t.cols.append(col)
        if rng.random() < 0.5:
            t.cols.append(Col(unique_name("is_active", taken), "boolean", True, "true"))
        if rng.random() < 0.4:
            t.cols.append(Col(unique_name("deleted_at", taken), "timestamptz"))
        # Foreign keys to earlier tables (mostly nearby ones), each usually indexed.
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
            t.fks.append(Fk(f"{t.name}_{fk_col.name}_fkey", fk_col.name, ref.qname, action))
            if rng.random() < 0.7:
                t.indexes.append(Idx(f"{t.name}_{fk_col.name}_idx", f"({fk_col.name})"))
        _add_constraints_and_indexes(rng, t)
        if rng.random() < 0.5:
            t.comment = f"The {noun}s of tenant group {i % 7}."
        for c in rng.sample(t.cols, k=min(len(t.cols), rng.choice((0, 1, 1, 2)))):
            c.comment = f"{c.name.replace('_', ' ').capitalize()} of the {noun}."
        tables.append(t)
        model.tables[t.qname] = t
    for t in tables[::10]:
        model.views.append(_view(rng, t, model))
    return model


def _cols_of(t: Tbl, *types: str, free: bool = False) -> list[Col]:
    return [
        c
        for c in t.cols
        if any(c.type == x or c.type.startswith(x + "(") for x in types) and not (free and c.used)
    ]


def _add_constraints_and_indexes(rng: random.Random, t: Tbl) -> None:
    numbers = _cols_of(t, "integer", "numeric", "smallint")
    for c in rng.sample(numbers, k=min(len(numbers), rng.choice((0, 1, 1, 2)))):
        c.used = True
        t.checks[f"{t.name}_{c.name}_check"] = f"{c.name} >= 0"
    strings = _cols_of(t, "varchar", free=True)
    if strings and rng.random() < 0.3:
        c = strings[0]
        c.used = True
        t.uniques[f"{t.name}_{c.name}_key"] = c.name
    if strings and rng.random() < 0.3:
        c = strings[-1]
        c.used = True
        t.checks[f"{t.name}_{c.name}_len_check"] = f"char_length({c.name}) > 0"
    created = t.col("created_at")
    others = [c for c in t.cols if c.type in ("integer", "bigint", "date") or c.enum] or [created]
    if rng.random() < 0.5:
        c = rng.choice(others)
        c.used = created.used = True
        t.indexes.append(Idx(f"{t.name}_{c.name}_created_idx", f"({c.name}, created_at DESC)"))
    flags = [c for c in t.cols if c.name in ("is_active", "deleted_at")]
    if flags and rng.random() < 0.4:
        flag = rng.choice(flags)
        flag.used = created.used = True
        where = "is_active" if flag.name == "is_active" else "deleted_at IS NULL"
        t.indexes.append(Idx(f"{t.name}_live_idx", "(created_at)", where=where))
    emails = [c for c in t.cols if c.name.startswith("email") and not c.used]
    if emails and rng.random() < 0.6:
        emails[0].used = True
        t.indexes.append(Idx(f"{t.name}_email_uidx", f"(lower({emails[0].name}))", unique=True))
    docs = _cols_of(t, "jsonb", free=True)
    if docs and rng.random() < 0.2:
        docs[0].used = True
        t.indexes.append(Idx(f"{t.name}_{docs[0].name}_gin", f"USING gin ({docs[0].name})"))
    if rng.random() < 0.1:
        c = rng.choice(t.cols)
        c.used = True
        t.indexes.append(Idx(f"{t.name}_{c.name}_bidx", f"({c.name})"))


def _view(rng: random.Random, t: Tbl, model: Model) -> ViewDef:
    picked = rng.sample(t.cols, k=min(len(t.cols), rng.randint(2, 4)))
    for c in picked:
        c.used = True
    select = ["t.id", *(f"t.{c.name}" for c in picked)]
    deps = [t.qname]
    source = f"{t.qname} t"
    if t.fks and rng.random() < 0.4:
        fk = t.fks[0]
        ref = model.tables[fk.ref]
        ref_col = ref.col("created_at")
        ref_col.used = True
        select.append(f"r.created_at AS {fk.column.removesuffix('_id')}_created_at")
        source += f" JOIN {ref.qname} r ON r.id = t.{fk.column}"
        deps.append(ref.qname)
    where = ""
    if any(c.name == "is_active" for c in t.cols):
        t.col("is_active").used = True
        where = " WHERE t.is_active"
    comment = f"Live {t.name.rsplit('_', 1)[0]}s." if rng.random() < 0.5 else None
    return ViewDef(
        t.schema, f"{t.name}_v", f"SELECT {', '.join(select)} FROM {source}{where}", deps, comment
    )


# --- target ---------------------------------------------------------------------------------

_OLDER_TYPE = {  # source type prefix -> how the target (older) declares the column
    "integer": lambda t: "smallint",
    "bigint": lambda t: "integer",
    "numeric": lambda t: "numeric({},{})".format(
        int(t[8:-1].split(",")[0]) - 2, t[8:-1].split(",")[1]
    ),
    "varchar": lambda t: f"varchar({int(t[8:-1]) // 2})",
    "text": lambda t: "varchar(255)",
    "timestamptz": lambda t: "timestamp",
    "jsonb": lambda t: "json",
    "double precision": lambda t: "real",
    "date": lambda t: "timestamp",
}


def _older_type(typ: str) -> str | None:
    if typ.endswith("[]"):
        return None
    for prefix, older in _OLDER_TYPE.items():
        if typ == prefix or typ.startswith(prefix + "("):
            return older(typ)
    return None


def _other_default(col: Col) -> str | None:
    """A different default for the target (None: drop it)."""
    if col.default is None:
        return {"integer": "-1", "boolean": "true", "text": "'n/a'", "timestamptz": "now()"}.get(
            col.type
        )
    if col.default == "0":
        return "1"
    if col.default in ("false", "true"):
        return "true" if col.default == "false" else "false"
    return None


def _build_target(rng: random.Random, source: Model) -> tuple[Model, dict[str, int]]:
    target = copy.deepcopy(source)
    changes: dict[str, int] = {}

    def count(kind: str) -> None:
        changes[kind] = changes.get(kind, 0) + 1

    def hit(rate: float = CHANGE_RATE) -> bool:
        return rng.random() < rate

    # Whole tables first: missing in the target (with the foreign keys and views over them).
    for qname in list(target.tables)[1:]:
        if hit(0.01):
            del target.tables[qname]
            count("table missing (create)")
    for t in target.tables.values():
        kept = [fk for fk in t.fks if fk.ref in target.tables]
        for _ in range(len(t.fks) - len(kept)):
            count("foreign key missing (add)")
        t.fks = kept
    views = [v for v in target.views if all(d in target.tables for d in v.deps)]
    for _ in range(len(target.views) - len(views)):
        count("view missing (create)")
    target.views = views

    for t in target.tables.values():
        for col in list(t.cols):
            if col.used or not hit():
                continue
            older = _older_type(col.type)
            choice = rng.choice(
                ("drop", "type", "default", "null") if older else ("drop", "default", "null")
            )
            if choice == "drop":
                t.cols.remove(col)
                count("column missing (add)")
            elif choice == "type" and older is not None:
                col.type = older
                if col.default and "::jsonb" in col.default:
                    col.default = col.default.replace("::jsonb", "::json")
                count("column type older (alter type)")
            elif choice == "default" and (new := _other_default(col)) != col.default:
                col.default = new
                count("column default other (set/drop default)")
            else:
                col.not_null = not col.not_null
                count("column nullability other (set/drop not null)")
        if hit():
            t.cols.append(Col(f"legacy_{len(t.cols)}", rng.choice(("text", "integer", "jsonb"))))
            count("column extra (drop)")
        for idx in list(t.indexes):
            if hit():
                t.indexes.remove(idx)
                count("index missing (create)")
        if hit(CHANGE_RATE / 2):
            t.indexes.append(Idx(f"{t.name}_legacy_idx", f"({t.cols[0].name}, id)"))
            count("index extra (drop)")
        for name, expr in list(t.checks.items()):
            if hit():
                t.checks[name] = expr.replace(">= 0", "> -1").replace("> 0", ">= 0")
                count("check other (drop+add)")
        if t.comment is not None and hit():
            t.comment += " (legacy)"
            count("comment other")
        for col in t.cols:
            if col.comment is not None and hit():
                col.comment = None
                count("comment missing")
    for v in target.views:
        if hit(2 * CHANGE_RATE):
            v.body = (
                v.body.replace(" WHERE t.is_active", "")
                if "WHERE" in v.body
                else (v.body + " WHERE t.id IS NOT NULL")
            )
            count("view body other (replace)")
    for labels in target.enums.values():
        if hit(0.3):
            labels.pop()
            count("enum value missing (add value)")

    # Tables only the target has (the migration drops them).
    existing = list(target.tables.values())
    for k in range(max(1, len(source.tables) // 100)):
        ref = rng.choice(existing)
        pk = "id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        t = Tbl(ref.schema, f"legacy_{k:04d}", pk)
        t.cols = [
            Col("created_at", "timestamptz", True, "now()"),
            Col("note", "text"),
            Col("ref_id", ref.pk_type),
        ]
        t.fks.append(Fk(f"legacy_{k:04d}_ref_fkey", "ref_id", ref.qname, "CASCADE"))
        t.indexes.append(Idx(f"legacy_{k:04d}_ref_idx", "(ref_id)"))
        target.tables[t.qname] = t
        count("table extra (drop)")
    return target, changes


def build_pair(n_tables: int, seed: int = 42) -> Pair:
    """The source (desired) and target (to migrate) DDL for ``n_tables`` tables."""
    rng = random.Random(f"{seed}:{n_tables}")
    source = _build_source(rng, n_tables)
    target, changes = _build_target(rng, source)
    return Pair(n_tables, source.ddl(), target.ddl(), source.object_count(), changes)


if __name__ == "__main__":  # pragma: no cover - a quick look at what is generated
    import sys

    pair = build_pair(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    print("".join(pair.source_ddl))
    print("-- objects", pair.objects, "changed", pair.changed, pair.changes)
