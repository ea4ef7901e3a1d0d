"""An independent picture of a SQLite database's schema, to judge the engine's migrations by.

Plain ``sqlite_schema`` and PRAGMA queries through Python's sqlite3 module, and a few regular
expressions over the stored CREATE text: none of the engine's introspection or parsing. Names
are lower-cased (SQLite's names are case-insensitive) and column order is left out, as the
engine compares; auto-indexes are compared by what they index, not by their generated names.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from typing import Any

from schemashift.schemas.reserved import SQLITE_HISTORY_TABLE

_NAME = r'(?:"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|\S+)'
_HEAD = re.compile(
    rf"^\s*CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s+{_NAME}\s*", re.I | re.S
)


_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)


def _body(sql: str) -> str:
    """A stored CREATE statement after the object's name, without comments (which say
    nothing about the object; this one does not tell those in string literals apart),
    whitespace collapsed."""
    return " ".join(_COMMENT.sub(" ", _HEAD.sub("", sql, count=1)).split())


def _checks(sql: str) -> list[str]:
    """The texts of the CHECK clauses of a CREATE TABLE statement (balanced parentheses;
    string literals may not hold parentheses here)."""
    found = []
    for match in re.finditer(r"\bCHECK\s*\(", sql, re.I):
        depth, i = 1, match.end()
        while i < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        found.append(" ".join(sql[match.end() : i - 1].split()))
    return sorted(found)


def _table(conn: sqlite3.Connection, name: str, sql: str) -> dict[str, Any]:
    quoted = '"' + name.replace('"', '""') + '"'
    columns = {
        row[1].lower(): (row[2].upper(), row[3], row[4], row[5], row[6])
        for row in conn.execute(f"PRAGMA table_xinfo({quoted})")
    }
    indexes: dict[str, Any] = {}
    auto: Counter[Any] = Counter()
    for _, index, unique, origin, partial in conn.execute(f"PRAGMA index_list({quoted})"):
        keys = tuple(
            (row[2] and row[2].lower(), row[3], row[4].lower())
            for row in conn.execute(f'PRAGMA index_xinfo("{index}")')
            if row[5]
        )
        if origin == "c":
            text = conn.execute(
                "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?", (index,)
            ).fetchone()[0]
            indexes[index.lower()] = (unique, partial, keys, _body(text))
        else:
            auto[(origin, unique, keys)] += 1
    fks: Counter[Any] = Counter()
    grouped: dict[int, list[Any]] = {}
    for row in conn.execute(f"PRAGMA foreign_key_list({quoted})"):
        grouped.setdefault(row[0], []).append(row)
    for rows in grouped.values():
        rows.sort(key=lambda r: r[1])
        fks[
            (
                rows[0][2].lower(),
                tuple(r[3].lower() for r in rows),
                tuple((r[4] or "").lower() for r in rows),
                rows[0][5],
                rows[0][6],
                rows[0][7],
            )
        ] += 1
    deferred = len(re.findall(r"\bDEFERRABLE\s+INITIALLY\s+DEFERRED\b", sql, re.I))
    options = conn.execute(
        "SELECT wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?", (name,)
    ).fetchone()
    collations = Counter(
        m.lower().strip('"') for m in re.findall(r"\bCOLLATE\s+(\"?\w+\"?)", sql, re.I)
    )
    return {
        "columns": columns,
        "indexes": indexes,
        "auto_indexes": dict(auto),
        "foreign_keys": dict(fks),
        "deferred_foreign_keys": deferred,
        "checks": _checks(sql),
        "options": tuple(options) if options else None,
        "autoincrement": bool(re.search(r"\bAUTOINCREMENT\b", sql, re.I)),
        "collations": dict(collations),
    }


def snapshot(path: str) -> dict[str, Any]:
    """The schema of the SQLite database file at ``path``, as plain data."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL"
        ).fetchall()
        tables, views, triggers = {}, {}, {}
        for kind, name, table, sql in objects:
            lowered = name.lower()
            if lowered.startswith("sqlite_") or lowered == SQLITE_HISTORY_TABLE:
                continue
            if kind == "table":
                tables[lowered] = _table(conn, name, sql)
            elif kind == "view":
                views[lowered] = _body(sql)
            elif kind == "trigger":
                triggers[lowered] = (table.lower(), _body(sql))
        return {"tables": tables, "views": views, "triggers": triggers}
    finally:
        conn.close()


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Where two snapshots differ, one line each (empty when they are equal)."""
    found = []
    for kind in ("tables", "views", "triggers"):
        for name in sorted(a[kind].keys() | b[kind].keys()):
            x, y = a[kind].get(name), b[kind].get(name)
            if x == y:
                continue
            if isinstance(x, dict) and isinstance(y, dict):
                for part in sorted(x.keys() | y.keys()):
                    if x.get(part) != y.get(part):
                        found.append(f"{kind} {name} {part}: {x.get(part)!r} != {y.get(part)!r}")
            else:
                found.append(f"{kind} {name}: {x!r} != {y!r}")
    return found


def rows(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but SQLite's own and the history), by rowid or first column."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
            if not r[0].lower().startswith("sqlite_") and r[0] != SQLITE_HISTORY_TABLE
        ]
        data = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            data[name.lower()] = sorted(
                conn.execute(f"SELECT * FROM {quoted}").fetchall(), key=repr
            )
        return data
    finally:
        conn.close()


def format_differences(found: list[str], limit: int = 6) -> str:
    """The first ``limit`` differences, one per line."""
    more = [f"... and {len(found) - limit} more"] if len(found) > limit else []
    return "\n".join(found[:limit] + more)
