"""SQLite's SQL text: tokens, and the parts of the CREATE TABLE statements it stores.

SQLite keeps each object's schema as the text of the statement that created it (in
``sqlite_schema.sql``, with only the leading ``CREATE <kind>`` keywords normalised) and reports
through its PRAGMAs only part of what that text says: not column collations, generation
expressions, CHECK constraints, constraint names, AUTOINCREMENT or DEFERRABLE. This module
reads them from the text, keeping every piece verbatim (a span of the original text), so that
what the introspector records is what the server stores. Nothing here runs SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- tokens --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """One token of SQL text: ``kind`` is ws, comment, string, blob, ident (quoted), word,
    number, var, punct, or one of ``(``, ``)``, ``,``, ``;``."""

    kind: str
    text: str
    start: int
    end: int

    def is_word(self, *words: str) -> bool:
        """Whether the token is a bare word equal (ignoring case) to one of ``words``."""
        return self.kind == "word" and self.text.upper() in words


# The two runs a schema's text is mostly made of, matched by the regex engine rather than
# character by character (introspecting a thousand tables tokenizes every CREATE text).
_WHITESPACE = re.compile(r"\s+")
_WORD_REST = re.compile("[A-Za-z0-9_$\x80-\U0010ffff]*")
_TWO_CHAR = {"||", "<=", ">=", "<>", "!=", "==", "<<", ">>", "->"}


def tokenize(sql: str) -> list[Token]:
    """Every token of ``sql``, whitespace and comments included (unterminated strings, quoted
    names and comments run to the end)."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        start = i
        if ch.isspace():
            i = _WHITESPACE.match(sql, i).end()  # type: ignore[union-attr]
            kind = "ws"
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            kind = "comment"
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            kind = "comment"
        elif ch in "'\"`":
            i = _quoted_end(sql, i, ch)
            kind = "string" if ch == "'" else "ident"
        elif ch == "[":
            end = sql.find("]", i)
            i = n if end < 0 else end + 1
            kind = "ident"
        elif ch in "xX" and sql.startswith("'", i + 1):
            i = _quoted_end(sql, i + 1, "'")
            kind = "blob"
        elif ch.isdigit() or (ch == "." and i + 1 < n and sql[i + 1].isdigit()):
            i = _number_end(sql, i)
            kind = "number"
        elif ch.isalpha() or ch == "_" or ord(ch) > 127:
            i = _WORD_REST.match(sql, i + 1).end()  # type: ignore[union-attr]
            kind = "word"
        elif ch in "?:@$":
            i += 1
            while i < n and (sql[i].isalnum() or sql[i] == "_"):
                i += 1
            kind = "var"
        elif ch in "(),;":
            i += 1
            kind = ch
        else:
            i += 3 if sql.startswith("->>", i) else 2 if sql[i : i + 2] in _TWO_CHAR else 1
            kind = "punct"
        tokens.append(Token(kind, sql[start:i], start, i))
    return tokens


def _quoted_end(sql: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(sql):
        if sql[j] == quote:
            if sql[j + 1 : j + 2] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return len(sql)


def _number_end(sql: str, i: int) -> int:
    n = len(sql)
    if sql.startswith(("0x", "0X"), i):
        i += 2
        while i < n and (sql[i] in "0123456789abcdefABCDEF_"):
            i += 1
        return i
    while i < n and (sql[i].isdigit() or sql[i] in "._"):
        i += 1
    if i < n and sql[i] in "eE":
        j = i + 1
        if j < n and sql[j] in "+-":
            j += 1
        if j < n and sql[j].isdigit():
            i = j
            while i < n and sql[i].isdigit():
                i += 1
    return i


def significant(tokens: list[Token]) -> list[Token]:
    """``tokens`` without whitespace and comments."""
    return [t for t in tokens if t.kind not in ("ws", "comment")]


def words(sql: str) -> set[str]:
    """The names ``sql`` mentions, lower-cased: bare words and quoted identifiers (for the
    best-effort dependency scans of views and triggers)."""
    return {name_of(t).lower() for t in tokenize(sql) if t.kind in ("word", "ident")}


def name_of(token: Token) -> str:
    """The name a token stands for: a bare word as written, a quoted identifier (or a string
    literal used as one, which SQLite accepts) without its quotes."""
    text = token.text
    if token.kind in ("ident", "string") and len(text) >= 2:
        if text[0] == "[":
            return text[1:-1]
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)
    return text


def is_literal(sql: str) -> bool:
    """Whether ``sql`` is one literal value (a string, blob, signed number, NULL, TRUE, FALSE
    or CURRENT_TIME/DATE/TIMESTAMP): what a DEFAULT may hold without parentheses."""
    tokens = significant(tokenize(sql))
    if tokens and tokens[0].kind == "punct" and tokens[0].text in "+-":
        tokens = tokens[1:]
        return len(tokens) == 1 and tokens[0].kind == "number"
    if len(tokens) != 1:
        return False
    token = tokens[0]
    return token.kind in ("string", "blob", "number") or token.is_word(
        "NULL", "TRUE", "FALSE", "CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"
    )


def is_constant(sql: str) -> bool:
    """Whether a DEFAULT is a constant (ALTER TABLE ADD COLUMN refuses CURRENT_* and
    expressions in parentheses on a table with rows)."""
    tokens = significant(tokenize(sql))
    time = any(t.is_word("CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP") for t in tokens)
    return is_literal(sql) and not time


# --- CREATE TABLE --------------------------------------------------------------------------


@dataclass
class ForeignKeyClause:
    """``REFERENCES table [(columns)] [ON DELETE|UPDATE action] [MATCH m] [DEFERRABLE ...]``."""

    table: str
    columns: list[str] = field(default_factory=list)
    on_delete: str = "no action"
    on_update: str = "no action"
    match: str | None = None
    deferrable: bool = False
    initially_deferred: bool = False


@dataclass
class Constraint:
    """A column or table constraint as declared: ``kind`` is primary_key, unique, check,
    foreign_key, not_null, null, default, collate or generated."""

    kind: str
    name: str | None = None
    text: str = ""  # the whole clause, verbatim, without its CONSTRAINT name
    columns: list[tuple[str, str]] = field(default_factory=list)  # (name, verbatim text)
    expression: str | None = None  # check, default, generated
    conflict: str | None = None  # ON CONFLICT resolution
    descending: bool = False  # a column-level PRIMARY KEY DESC
    autoincrement: bool = False
    stored: bool = False  # a generated column
    references: ForeignKeyClause | None = None
    collation: str | None = None


@dataclass
class ColumnDef:
    name: str
    type: str
    constraints: list[Constraint] = field(default_factory=list)

    def first(self, kind: str) -> Constraint | None:
        return next((c for c in self.constraints if c.kind == kind), None)


@dataclass
class TableDef:
    name: str
    columns: list[ColumnDef] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # STRICT, WITHOUT ROWID (upper case)

    def column(self, name: str) -> ColumnDef | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)


class ParseError(ValueError):
    """The text is not a CREATE statement this module can read."""


_COLUMN_KEYWORDS = {
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
}
_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


class _Cursor:
    def __init__(self, sql: str, tokens: list[Token]) -> None:
        self.sql = sql
        self.tokens = tokens
        self.i = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def at(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ParseError("unexpected end of the statement")
        self.i += 1
        return token

    def expect(self, *words: str) -> Token:
        token = self.take()
        if not token.is_word(*words):
            raise ParseError(f"expected {' or '.join(words)}, got {token.text!r}")
        return token

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += 1
            return True
        return False

    def group(self) -> tuple[int, int]:
        """Consume a parenthesised group; the indexes of its inner tokens ``[start, end)``."""
        if self.take().kind != "(":
            raise ParseError("expected '('")
        start, depth = self.i, 1
        while depth:
            token = self.take()
            depth += {"(": 1, ")": -1}.get(token.kind, 0)
        return start, self.i - 1

    def span(self, start: int, end: int) -> str:
        """The verbatim text of tokens ``[start, end)``."""
        if start >= end:
            return ""
        return self.sql[self.tokens[start].start : self.tokens[end - 1].end]


def split_top(tokens: list[Token], start: int, end: int) -> list[tuple[int, int]]:
    """The comma-separated items of ``tokens[start:end]`` at parenthesis depth 0."""
    items, depth, begin = [], 0, start
    for j in range(start, end):
        kind = tokens[j].kind
        if kind == "(":
            depth += 1
        elif kind == ")":
            depth -= 1
        elif kind == "," and depth == 0:
            items.append((begin, j))
            begin = j + 1
    items.append((begin, end))
    return [(a, b) for a, b in items if a < b]


def parse_create_table(sql: str) -> TableDef:
    """The parts of a ``CREATE TABLE`` statement (as ``sqlite_schema`` stores it)."""
    cur = _Cursor(sql, significant(tokenize(sql)))
    cur.expect("CREATE")
    cur.accept("TEMP", "TEMPORARY")
    cur.expect("TABLE")
    if cur.accept("IF"):
        cur.expect("NOT")
        cur.expect("EXISTS")
    name = _qualified_name(cur)
    table = TableDef(name=name)
    if cur.peek() is None or cur.at("AS"):
        return table  # CREATE TABLE ... AS SELECT: SQLite stores the columns it made instead
    start, end = cur.group()
    for a, b in split_top(cur.tokens, start, end):
        item = _Cursor(sql, cur.tokens[a:b])
        if item.at(*_TABLE_CONSTRAINTS):
            table.constraints.append(_table_constraint(item))
        else:
            table.columns.append(_column(item))
    rest = cur.tokens[cur.i :]
    for a, b in split_top(rest, 0, len(rest)):
        option = " ".join(t.text.upper() for t in rest[a:b] if t.kind != ";")
        if option:
            table.options.append(option)
    return table


def _qualified_name(cur: _Cursor) -> str:
    name = name_of(cur.take())
    token = cur.peek()
    if token is not None and token.kind == "punct" and token.text == ".":
        cur.take()
        name = name_of(cur.take())
    return name


def _column(cur: _Cursor) -> ColumnDef:
    name = name_of(cur.take())
    start = cur.i
    while cur.peek() is not None and not cur.at(*_COLUMN_KEYWORDS):
        token = cur.peek()
        assert token is not None
        if token.kind == "(":
            cur.group()
        else:
            cur.take()
    column = ColumnDef(name=name, type=cur.span(start, cur.i))
    pending: str | None = None
    while cur.peek() is not None:
        if cur.accept("CONSTRAINT"):
            pending = name_of(cur.take())
            continue
        begin = cur.i
        constraint = _column_constraint(cur)
        constraint.name, pending = pending, None
        constraint.text = cur.span(begin, cur.i)
        column.constraints.append(constraint)
    return column


def _conflict(cur: _Cursor) -> str | None:
    if cur.accept("ON"):
        cur.expect("CONFLICT")
        return cur.take().text.upper()
    return None


def _column_constraint(cur: _Cursor) -> Constraint:
    token = cur.take()
    word = token.text.upper() if token.kind == "word" else ""
    if word == "PRIMARY":
        cur.expect("KEY")
        descending = cur.at("DESC")
        cur.accept("ASC", "DESC")
        conflict = _conflict(cur)
        return Constraint(
            "primary_key",
            conflict=conflict,
            descending=descending,
            autoincrement=cur.accept("AUTOINCREMENT"),
        )
    if word == "NOT":
        cur.expect("NULL")
        return Constraint("not_null", conflict=_conflict(cur))
    if word == "NULL":
        return Constraint("null", conflict=_conflict(cur))
    if word == "UNIQUE":
        return Constraint("unique", conflict=_conflict(cur))
    if word == "CHECK":
        a, b = cur.group()
        return Constraint("check", expression=cur.span(a, b))
    if word == "DEFAULT":
        following = cur.peek()
        if following is not None and following.kind == "(":
            a, b = cur.group()
            return Constraint("default", expression=cur.span(a, b))
        begin = cur.i
        if following is not None and following.kind == "punct" and following.text in "+-":
            cur.take()
        cur.take()
        return Constraint("default", expression=cur.span(begin, cur.i))
    if word == "COLLATE":
        return Constraint("collate", collation=cur.take().text)
    if word == "REFERENCES":
        return Constraint("foreign_key", references=_references(cur))
    if word in ("GENERATED", "AS"):
        if word == "GENERATED":
            cur.expect("ALWAYS")
            cur.expect("AS")
        a, b = cur.group()
        stored = cur.at("STORED")
        cur.accept("STORED", "VIRTUAL")
        return Constraint("generated", expression=cur.span(a, b), stored=stored)
    raise ParseError(f"unexpected {token.text!r} in a column definition")


def _names(cur: _Cursor) -> list[tuple[str, str]]:
    """A parenthesised list of (indexed) columns: (name, verbatim text) of each."""
    a, b = cur.group()
    found = []
    for x, y in split_top(cur.tokens, a, b):
        found.append((name_of(cur.tokens[x]), cur.span(x, y)))
    return found


def _table_constraint(cur: _Cursor) -> Constraint:
    name = None
    if cur.accept("CONSTRAINT"):
        name = name_of(cur.take())
    begin = cur.i
    token = cur.take()
    word = token.text.upper()
    if word == "PRIMARY":
        cur.expect("KEY")
        columns = _names(cur)
        conflict = _conflict(cur)
        constraint = Constraint("primary_key", columns=columns, conflict=conflict)
        constraint.autoincrement = cur.accept("AUTOINCREMENT")
    elif word == "UNIQUE":
        columns = _names(cur)
        constraint = Constraint("unique", columns=columns, conflict=_conflict(cur))
    elif word == "CHECK":
        a, b = cur.group()
        constraint = Constraint("check", expression=cur.span(a, b))
    elif word == "FOREIGN":
        cur.expect("KEY")
        columns = _names(cur)
        cur.expect("REFERENCES")
        constraint = Constraint("foreign_key", columns=columns, references=_references(cur))
    else:
        raise ParseError(f"unexpected {token.text!r} in a table constraint")
    constraint.name = name
    constraint.text = cur.span(begin, cur.i)
    return constraint


_ACTIONS = {"SET": None, "CASCADE": "cascade", "RESTRICT": "restrict"}


def _references(cur: _Cursor) -> ForeignKeyClause:
    clause = ForeignKeyClause(table=name_of(cur.take()))
    token = cur.peek()
    if token is not None and token.kind == "(":
        clause.columns = [n for n, _ in _names(cur)]
    while cur.peek() is not None:
        if cur.accept("ON"):
            event = cur.expect("DELETE", "UPDATE").text.upper()
            if cur.accept("SET"):
                action = "set " + cur.expect("NULL", "DEFAULT").text.lower()
            elif cur.accept("NO"):
                cur.expect("ACTION")
                action = "no action"
            else:
                action = cur.expect("CASCADE", "RESTRICT").text.lower()
            if event == "DELETE":
                clause.on_delete = action
            else:
                clause.on_update = action
        elif cur.accept("MATCH"):
            clause.match = cur.take().text
        elif cur.at("NOT", "DEFERRABLE"):
            negated = cur.accept("NOT")
            cur.expect("DEFERRABLE")
            clause.deferrable = not negated
            if cur.accept("INITIALLY"):
                deferred = cur.expect("DEFERRED", "IMMEDIATE").text.upper() == "DEFERRED"
                clause.initially_deferred = deferred and not negated
        else:
            break
    return clause


def text_after_name(sql: str, kind: str) -> str:
    """The text of a stored ``CREATE <kind> [IF NOT EXISTS] name ...`` statement after the
    object's name (``kind``: INDEX, VIEW or TRIGGER; ``UNIQUE`` and ``TEMP`` are skipped):
    the part that says what the object is, whatever the name's quoting."""
    cur = _Cursor(sql, significant(tokenize(sql)))
    cur.expect("CREATE")
    cur.accept("UNIQUE")
    cur.accept("TEMP", "TEMPORARY")
    cur.expect(kind)
    if cur.accept("IF"):
        cur.expect("NOT")
        cur.expect("EXISTS")
    _qualified_name(cur)
    token = cur.peek()
    if token is None:
        return ""
    return sql[token.start :].strip().rstrip(";").rstrip()
