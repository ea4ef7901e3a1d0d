"""How the server can run one ALTER TABLE in place, the clause that holds it to that, and the
hazards that are then true.

Each clause gets the best algorithm the target's server is known to run it with on its table
(:class:`Algorithm`; the facts come with the operations, :class:`TableState`); the statement's
is the weakest of its clauses. ``ALGORITHM=INSTANT`` or ``ALGORITHM=INPLACE, LOCK=NONE`` is
appended when the statement can run so: the server then refuses the statement rather than
silently copying the table or blocking writes. Where it cannot, no clause is written and the
statement keeps the hazards of a copy.

A wrong claim makes a migration fail, so only what is known is claimed: on MariaDB what 10.11
was seen to accept (tests/engine/mysql/test_online_ddl.py runs every claim on the server), from
the versions its documentation names; on MySQL a few documented cases (an instant ADD COLUMN
from 8.0.12, DROP COLUMN from 8.0.29; B-tree index changes, foreign key drops and VARCHAR
widening in place), untested here. Only InnoDB tables are altered online; an unknown server or
table claims nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

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
from schemashift.schemas.operations import ObjectType, Operation, OpKind, TableState

from .tables import enum_members, option_values, type_parts

H = Hazard
Version = tuple[int, ...]


class Algorithm(IntEnum):
    """What the server is known to do with a clause, weakest first."""

    COPY = 0  # nothing known or promised: no clause, the server may copy the table
    REBUILD = 1  # ALGORITHM=INPLACE, LOCK=NONE: the table is rebuilt, writes go on
    INPLACE = 2  # ALGORITHM=INPLACE, LOCK=NONE: no rebuild (an index is built, say)
    INSTANT = 3  # ALGORITHM=INSTANT: only the table's metadata changes


_CLAUSES = {
    Algorithm.INSTANT: "ALGORITHM=INSTANT",
    Algorithm.INPLACE: "ALGORITHM=INPLACE, LOCK=NONE",
    Algorithm.REBUILD: "ALGORITHM=INPLACE, LOCK=NONE",
}


@dataclass(frozen=True)
class Server:
    """The target's flavour and version."""

    mariadb: bool
    version: Version

    def since(self, *, mariadb: Version | None = None, mysql: Version | None = None) -> bool:
        """Whether this server is at least the given version of its flavour (None: never)."""
        wanted = mariadb if self.mariadb else mysql
        return wanted is not None and self.version >= wanted


def server_of(text: str | None) -> Server | None:
    """The :class:`Server` of a ``SELECT VERSION()`` text; None when it says no version."""
    numbers = re.match(r"(\d+)\.(\d+)\.?(\d*)", text or "")
    if numbers is None:
        return None
    version = tuple(int(n) for n in numbers.groups() if n)
    return Server(mariadb="mariadb" in (text or "").lower(), version=version)


# Where online DDL begins: INPLACE with LOCK=NONE (MariaDB 10.0 took it from MySQL 5.6), and
# the versions from which MariaDB runs the metadata-only changes with ALGORITHM=INSTANT
# (10.4 added most of them: MDEV-15562, MDEV-15563, MDEV-15564).
_ONLINE = {"mariadb": (10, 0), "mysql": (5, 6)}
_MARIADB_INSTANT = (10, 4)

# Bytes per character of the character sets whose maximum is not 1 (for VARCHAR lengths).
_MBMAXLEN = {
    "utf8mb4": 4,
    "utf8mb3": 3,
    "utf8": 3,
    "ucs2": 2,
    "utf16": 4,
    "utf16le": 4,
    "utf32": 4,
    "big5": 2,
    "cp932": 2,
    "eucjpms": 3,
    "euckr": 2,
    "gb18030": 4,
    "gb2312": 2,
    "gbk": 2,
    "sjis": 2,
    "ujis": 3,
}
_SINGLE_BYTE = {"latin1", "latin2", "ascii", "binary", "cp1250", "cp1251", "cp1252", "cp1256"}
_SHAPE = ("charset", "collation", "not_null", "generated", "virtual", "auto_increment")


@dataclass(frozen=True)
class Context:
    """What one clause is judged against: the server and its table before the statement."""

    server: Server
    state: TableState

    @property
    def online(self) -> bool:
        """INPLACE with LOCK=NONE at all: InnoDB on a server that has it."""
        return (self.state.engine or "").lower() == "innodb" and self.server.since(
            mariadb=_ONLINE["mariadb"], mysql=_ONLINE["mysql"]
        )

    @property
    def compressed(self) -> bool:
        return (self.state.row_format or "").upper() == "COMPRESSED"

    @property
    def rebuilds_online(self) -> bool:
        """Whether a rebuild can run with LOCK=NONE: not with a FULLTEXT index, nor with an
        index over a virtual column (MariaDB refuses LOCK=NONE for both)."""
        return not (self.state.fulltext or self.state.indexed_virtual)

    def instant(self, *, mysql: Version | None = None, mariadb: Version = _MARIADB_INSTANT) -> bool:
        return self.server.since(mariadb=mariadb, mysql=mysql)


def _add_column(col: Column, ctx: Context) -> Algorithm:
    # A stored generated or AUTO_INCREMENT column is computed for every row, with a lock.
    if col.auto_increment or (col.generated is not None and not col.virtual):
        return Algorithm.COPY
    if not ctx.rebuilds_online:
        return Algorithm.COPY
    if col.generated is not None:  # virtual: instant on MariaDB 10.4 (no claim on MySQL)
        return Algorithm.INSTANT if ctx.instant() and not ctx.compressed else Algorithm.COPY
    # Always appended last: MariaDB 10.3.2 and MySQL 8.0.12 add a last column instantly.
    if not ctx.compressed and ctx.instant(mariadb=(10, 3, 2), mysql=(8, 0, 12)):
        return Algorithm.INSTANT
    return Algorithm.REBUILD


def _drop_column(col: Column, ctx: Context) -> Algorithm:
    state = ctx.state
    if col.name in state.key_columns or not ctx.rebuilds_online:
        return Algorithm.COPY
    # An indexed column's indexes are rebuilt, which no instant drop does.
    unindexed = col.name not in state.indexed_columns
    if unindexed and not ctx.compressed and ctx.instant(mariadb=(10, 4), mysql=(8, 0, 29)):
        return Algorithm.INSTANT
    return Algorithm.REBUILD


def _bytes_per_char(col: Column, ctx: Context) -> int:
    charset = (col.charset or ctx.state.charset or "").lower()
    if charset in _SINGLE_BYTE:
        return 1
    return _MBMAXLEN.get(charset, 4)  # an unknown one counts as the widest


def _widens_varchar(old: Column, new: Column, ctx: Context) -> bool:
    """A longer VARCHAR (VARBINARY) whose length bytes stay as they are: one up to 255 bytes,
    two above. MariaDB also widens any VARCHAR of up to 127 bytes (its length always fits one
    byte); MySQL needs the same number of length bytes."""
    (ob, oa, orest), (nb, na, nrest) = type_parts(old.type), type_parts(new.type)
    if ob != nb or ob not in ("varchar", "varbinary") or orest or nrest:
        return False
    if not (oa.isdigit() and na.isdigit()) or int(na) <= int(oa):
        return False
    width = 1 if ob == "varbinary" else _bytes_per_char(new, ctx)
    before, after = int(oa) * width, int(na) * width
    same_class = (before <= 255) == (after <= 255)
    return same_class or (ctx.server.mariadb and before <= 127)


def _storage_bytes(kind: str, members: int) -> int:
    if kind == "enum":
        return 1 if members <= 255 else 2
    size = (members + 7) // 8
    return 8 if size > 4 else size


def _appends_members(old: Column, new: Column) -> bool:
    """ENUM or SET members added at the end, in the same storage size."""
    (ob, oa, _), (nb, na, _) = type_parts(old.type), type_parts(new.type)
    if ob != nb or ob not in ("enum", "set"):
        return False
    before, after = enum_members(oa), enum_members(na)
    return (
        len(after) > len(before)
        and after[: len(before)] == before
        and _storage_bytes(ob, len(before)) == _storage_bytes(ob, len(after))
    )


def _modify_column(old: Column, new: Column, ctx: Context) -> Algorithm:
    same_shape = all(getattr(old, f) == getattr(new, f) for f in _SHAPE)
    if same_shape and old.type == new.type:  # a default, ON UPDATE or comment: metadata
        return Algorithm.INSTANT if ctx.instant() else Algorithm.COPY
    if same_shape and _widens_varchar(old, new, ctx):
        if ctx.server.mariadb:
            return Algorithm.INSTANT if ctx.instant() and not ctx.compressed else Algorithm.COPY
        return Algorithm.INPLACE if ctx.server.since(mysql=(5, 7)) else Algorithm.COPY
    if same_shape and _appends_members(old, new):
        return Algorithm.INSTANT if ctx.instant() else Algorithm.COPY
    nullability = old.type == new.type and all(
        getattr(old, f) == getattr(new, f) for f in _SHAPE if f != "not_null"
    )
    # NULL <-> NOT NULL rewrites the rows; MariaDB fills NULLs in place only with a constant.
    if nullability and ctx.rebuilds_online and (not new.not_null or _constant(new.default)):
        return Algorithm.REBUILD
    return Algorithm.COPY


def _constant(default: str | None) -> bool:
    """Whether a default is a literal (or none), not an expression such as now()."""
    if default is None:
        return True
    return default.startswith("'") or bool(re.fullmatch(r"-?[\d.]+(e[-+]?\d+)?", default, re.I))


def _index(op: Operation, ctx: Context) -> Algorithm:
    index = op.obj_as(Index)
    # FULLTEXT and SPATIAL builds take a lock; HASH is MariaDB's long UNIQUE over a hidden
    # column, which is copied.
    if op.kind is OpKind.CREATE:
        return Algorithm.INPLACE if index.method == "btree" else Algorithm.COPY
    return Algorithm.INPLACE if index.method in ("btree", "fulltext") else Algorithm.COPY


def _constraint(op: Operation, ctx: Context, adds_primary_key: bool) -> Algorithm:
    constraint = op.obj
    assert isinstance(constraint, TableConstraint)
    if op.kind is OpKind.ALTER:
        return Algorithm.INSTANT  # renders as no clause
    if isinstance(constraint, PrimaryKey):
        # InnoDB clusters rows on the primary key: a new one rebuilds the table, and a table
        # without one (the key dropped and none added) is copied.
        if op.kind is OpKind.DROP and not adds_primary_key:
            return Algorithm.COPY
        on_mariadb = ctx.server.mariadb and ctx.rebuilds_online
        return Algorithm.REBUILD if on_mariadb else Algorithm.COPY
    if op.kind is OpKind.CREATE:  # a CHECK or FOREIGN KEY validates every row
        return Algorithm.COPY
    if isinstance(constraint, ForeignKey):
        if ctx.server.mariadb:
            return Algorithm.INSTANT if ctx.instant() else Algorithm.COPY
        return Algorithm.INPLACE
    if isinstance(constraint, CheckConstraint) and ctx.instant():
        return Algorithm.INSTANT
    return Algorithm.COPY


# Table options MariaDB changes instantly, and those it changes by a rebuild in place.
_METADATA_OPTIONS = {
    "COMMENT",
    "DEFAULT CHARSET",
    "COLLATE",
    "STATS_PERSISTENT",
    "STATS_AUTO_RECALC",
    "STATS_SAMPLE_PAGES",
}
_REBUILT_OPTIONS = {"ROW_FORMAT", "KEY_BLOCK_SIZE"}


def _table_options(old: Table, new: Table, ctx: Context) -> Algorithm:
    had, wanted = option_values(old.options), option_values(new.options)
    keys = {k for k in wanted if had.get(k) != wanted[k]} | (set(had) - set(wanted))
    if keys - _METADATA_OPTIONS - _REBUILT_OPTIONS or not ctx.server.mariadb:
        return Algorithm.COPY  # ENGINE, partitioning, others; no claim on MySQL
    if not ctx.instant():
        return Algorithm.COPY
    if keys & _REBUILT_OPTIONS:
        return Algorithm.REBUILD if ctx.rebuilds_online else Algorithm.COPY
    return Algorithm.INSTANT  # metadata, and the AUTO_INCREMENT counter


def clause_algorithm(
    op: Operation, ctx: Context, *, toggled: bool = False, adds_primary_key: bool = False
) -> Algorithm:
    """The best algorithm the server is known to run ``op``'s clause with."""
    if not ctx.online:
        return Algorithm.COPY
    match op.object_type:
        case ObjectType.TABLE:
            return _table_options(op.old_as(Table), op.new_as(Table), ctx)
        case ObjectType.COLUMN:
            if op.kind is OpKind.CREATE:
                return _add_column(op.obj_as(Column), ctx)
            if op.kind is OpKind.DROP:
                return _drop_column(op.obj_as(Column), ctx)
            return _modify_column(op.old_as(Column), op.new_as(Column), ctx)
        case ObjectType.INDEX:
            if toggled:  # ALTER INDEX ... [NOT] IGNORED: MariaDB 10.6 has it, instantly
                return Algorithm.INSTANT if ctx.server.mariadb else Algorithm.COPY
            return _index(op, ctx)
        case ObjectType.CONSTRAINT | ObjectType.FOREIGN_KEY:
            return _constraint(op, ctx, adds_primary_key)
    return Algorithm.COPY


def _context(ops: Sequence[Operation]) -> Context | None:
    state = next(
        (o.old_hints.table_state for o in ops if o.old_hints and o.old_hints.table_state),
        None,
    )
    server = server_of(state.server) if state is not None else None
    if state is None or server is None:
        return None
    return Context(server=server, state=state)


@dataclass(frozen=True)
class OnlinePlan:
    """The algorithm of one ALTER TABLE and of each of its clauses' operations."""

    level: Algorithm
    levels: dict[int, Algorithm]  # id(op) -> its clause's algorithm

    @property
    def clause(self) -> str | None:
        """``ALGORITHM=...`` to append, or None."""
        return _CLAUSES.get(self.level)

    def hazards(self, op: Operation, hazards: list[Hazard]) -> list[Hazard]:
        """``op``'s hazards on this server: an added or dropped column that cannot go
        instantly rebuilds the table (and, if not online, blocks writes meanwhile)."""
        if op.object_type is not ObjectType.COLUMN or op.kind is OpKind.ALTER:
            return hazards
        own = self.levels.get(id(op), Algorithm.COPY)
        if own is Algorithm.COPY:
            return [*hazards, H.TABLE_REWRITE, H.LONG_LOCK]
        if own is Algorithm.REBUILD:
            return [*hazards, H.TABLE_REWRITE]
        return hazards

    def statement_hazards(self, hazards: list[Hazard], ops: Sequence[Operation]) -> list[Hazard]:
        """The statement's hazards under its algorithm: LOCK=NONE blocks no writes (no long
        lock, no blocking index build); below INSTANT an added or dropped column may rebuild
        the table (MySQL's INPLACE does), and a statement that rebuilds it says so."""
        if self.level is Algorithm.COPY:
            if min(self.levels.values()) > Algorithm.COPY:  # each clause alone would not copy
                return [*hazards, H.TABLE_REWRITE, H.LONG_LOCK]
            return hazards
        level = self.level
        moves_columns = any(
            o.object_type is ObjectType.COLUMN and o.kind is not OpKind.ALTER for o in ops
        )
        if level is Algorithm.INPLACE and moves_columns:
            level = Algorithm.REBUILD
        dropped = {H.LONG_LOCK, H.INDEX_BUILD}
        if level >= Algorithm.INPLACE:
            dropped.add(H.TABLE_REWRITE)
        kept = [h for h in hazards if h not in dropped]
        if level is Algorithm.REBUILD and H.TABLE_REWRITE not in kept:
            kept.append(H.TABLE_REWRITE)
        return kept


def plan(ops: Sequence[Operation], toggled: set[str]) -> OnlinePlan | None:
    """The algorithm of the ALTER TABLE of ``ops`` (those with a clause; ``toggled``: the
    indexes whose drop and add become ALTER INDEX), or None when the server or the table is
    not known."""
    ctx = _context(ops)
    if ctx is None or not ops:
        return None
    adds_key = any(
        o.kind is OpKind.CREATE and isinstance(o.new, PrimaryKey)
        for o in ops
        if o.object_type is ObjectType.CONSTRAINT
    )
    levels = {
        id(o): clause_algorithm(
            o,
            ctx,
            toggled=o.object_type is ObjectType.INDEX and o.name in toggled,
            adds_primary_key=adds_key,
        )
        for o in ops
    }
    level = min(levels.values())
    # MariaDB adds and drops virtual columns in place only when the statement does nothing else.
    virtual = [_moves_virtual_column(o) for o in ops]
    if any(virtual) and not all(virtual):
        level = Algorithm.COPY
    return OnlinePlan(level=level, levels=levels)


def _moves_virtual_column(op: Operation) -> bool:
    if op.object_type is not ObjectType.COLUMN or op.kind is OpKind.ALTER:
        return False
    col = op.obj_as(Column)
    return col.generated is not None and col.virtual
