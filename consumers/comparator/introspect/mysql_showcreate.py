"""``SHOW CREATE TABLE`` read back into the facts that information_schema states too.

The text is tokenised, never searched: names are quoted with backticks (or double quotes under
``ANSI_QUOTES``) whose doubling escapes them, strings are single-quoted with doubled quotes and
backslash escapes, ``/* ... */`` comments are skipped, and MySQL's version comments
(``/*!50100 PARTITION BY ... */``, ``/*!80023 INVISIBLE */``, MariaDB's ``/*M!100301 ...*/``)
are read as the SQL they hold, so a comment with a parenthesis, a comma or a backtick in it
cuts nothing. From the tokens come the columns (name, type, NOT NULL, generated), the keys and
indexes (name, kind, parts), the foreign keys, the checks, the ``AUTO_INCREMENT`` counter and
the partitioning clause; everything else in the text is not read here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["KeyPart", "ShownColumn", "ShownIndex", "ShownPartitioning", "ShownTable", "parse"]


class ShowCreateUnreadable(ValueError):
    """The text is not the ``SHOW CREATE TABLE`` of one table as the servers print it."""


class Token(NamedTuple):
    """One token: ``kind`` is ident, string, word or punct; ``value`` the unquoted name, the
    string as written, the upper-cased word or the character."""

    kind: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class KeyPart:
    """One part of a key: a column (with a prefix length) or an expression, maybe DESC."""

    column: str | None
    length: int | None
    descending: bool


@dataclass(frozen=True)
class ShownColumn:
    name: str
    type: str
    not_null: bool
    generated: str | None  # "virtual", "stored", or None
    inline_check: bool  # MariaDB's column-level CHECK


@dataclass(frozen=True)
class ShownIndex:
    name: str
    kind: str  # "primary", "unique", "fulltext", "spatial", "vector" or "plain"
    parts: tuple[KeyPart, ...]


@dataclass(frozen=True)
class ShownPartitioning:
    clause: str  # after PARTITION BY, on one line
    method: str  # e.g. "RANGE COLUMNS", "LINEAR HASH"
    expression: str | None  # inside the method's parentheses (None: SYSTEM_TIME)
    count: int | None  # PARTITIONS n, or the number of partitions listed
    names: tuple[str, ...]  # the partitions listed, in order (empty when not listed)
    sub_method: str | None
    sub_expression: str | None


@dataclass(frozen=True)
class ShownTable:
    """What one ``SHOW CREATE TABLE`` text says about its table (shared between callers:
    :func:`parse` caches it)."""

    name: str
    columns: tuple[ShownColumn, ...]
    indexes: tuple[ShownIndex, ...]
    foreign_keys: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]]
    """name -> (columns, referenced table, referenced columns)"""
    checks: tuple[str, ...]  # names of the table-level checks
    auto_increment: int | None
    partitioning: ShownPartitioning | None


@dataclass
class _Draft:
    """A :class:`ShownTable` while it is read."""

    name: str
    columns: list[ShownColumn] = field(default_factory=list)
    indexes: list[ShownIndex] = field(default_factory=list)
    foreign_keys: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = field(
        default_factory=dict
    )
    checks: list[str] = field(default_factory=list)
    auto_increment: int | None = None
    partitioning: ShownPartitioning | None = None

    def done(self) -> ShownTable:
        return ShownTable(
            name=self.name,
            columns=tuple(self.columns),
            indexes=tuple(self.indexes),
            foreign_keys=self.foreign_keys,
            checks=tuple(self.checks),
            auto_increment=self.auto_increment,
            partitioning=self.partitioning,
        )


def _token_pattern(backslash_escapes: bool) -> re.Pattern[str]:
    string = r"'(?:[^'\\]|''|\\.)*'" if backslash_escapes else r"'(?:[^']|'')*'"
    # Every match is the whitespace before a token and the token, in one of the groups: the
    # matches tile the text, so their lengths give the tokens' offsets.
    return re.compile(
        r"""(\s*)(?:
          ([\w$@.]+)
        | (`(?:[^`]|``)*`|"(?:[^"]|"")*")
        | ("""
        + string
        + r""")
        | (/\*M?!\d*|\*/|/\*.*?\*/|--\s[^\n]*|\#[^\n]*)
        | (\S)
        )""",
        re.S | re.X,
    )


_PATTERNS = {True: _token_pattern(True), False: _token_pattern(False)}
# A Token built by tuple's own constructor: the named tuple's __new__ is Python code, and
# there are a few hundred tokens per table.
_new = tuple.__new__


def tokens(text: str, *, backslash_escapes: bool = True) -> list[Token]:
    """The tokens of ``text``, comments left out and version comments opened (a backslash
    escapes in strings unless the session's ``sql_mode`` has ``NO_BACKSLASH_ESCAPES``)."""
    out: list[Token] = []
    append, at = out.append, 0
    # findall builds the matches in C: several times faster than walking match objects.
    for space, word, ident, string, skipped, punct in _PATTERNS[backslash_escapes].findall(text):
        at += len(space)
        if word:
            append(_new(Token, ("word", word.upper(), at, at + len(word))))
            at += len(word)
        elif ident:
            quote = ident[0]
            append(
                _new(Token, ("ident", ident[1:-1].replace(quote * 2, quote), at, at + len(ident)))
            )
            at += len(ident)
        elif string:
            append(_new(Token, ("string", string, at, at + len(string))))
            at += len(string)
        elif punct:
            if punct in "`\"'":
                raise ShowCreateUnreadable(f"an unterminated {punct} at offset {at}")
            append(_new(Token, ("punct", punct, at, at + 1)))
            at += 1
        else:  # a comment, or the open or close of a version comment
            at += len(skipped)
    return out


def _closing(toks: list[Token], opening: int) -> int:
    """The index of the parenthesis that closes the one at ``opening``."""
    depth = 0
    for i in range(opening, len(toks)):
        if toks[i].kind == "punct":
            if toks[i].value == "(":
                depth += 1
            elif toks[i].value == ")":
                depth -= 1
                if depth == 0:
                    return i
    raise ShowCreateUnreadable("a parenthesis is not closed")


def _split(toks: list[Token]) -> list[list[Token]]:
    """``toks`` cut at the commas outside parentheses."""
    pieces: list[list[Token]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "punct" and t.value in "()":
            depth += 1 if t.value == "(" else -1
        if t.kind == "punct" and t.value == "," and depth == 0:
            pieces.append([])
        else:
            pieces[-1].append(t)
    return [p for p in pieces if p]


def _words(toks: list[Token]) -> list[str]:
    return [t.value if t.kind == "word" else "" for t in toks]


@functools.lru_cache(maxsize=4096)
def parse(text: str, *, backslash_escapes: bool = True) -> ShownTable:
    """The facts of a ``SHOW CREATE TABLE`` text; :class:`ShowCreateUnreadable` if it is not
    one. Cached: a schema read again (the executor reads the target before it applies a
    script) reads its unchanged tables' texts only once; 4,096 of them take about 20 MB."""
    toks = tokens(text, backslash_escapes=backslash_escapes)
    head = next(
        (i for i, t in enumerate(toks[:6]) if t.kind == "word" and t.value == "TABLE"), None
    )
    if not toks or toks[0].value != "CREATE" or head is None or head + 2 >= len(toks):
        raise ShowCreateUnreadable("it does not start with CREATE TABLE")
    name_token, opening = toks[head + 1], head + 2
    if toks[opening].value != "(":
        raise ShowCreateUnreadable("no column list after the table's name")
    closing = _closing(toks, opening)
    shown = _Draft(name=name_token.value)
    for definition in _split(toks[opening + 1 : closing]):
        _definition(shown, definition, text)
    _options(shown, toks[closing + 1 :], text)
    return shown.done()


def _definition(shown: _Draft, toks: list[Token], text: str) -> None:
    first = toks[0]
    if first.kind == "ident":
        shown.columns.append(_column(toks, text))
        return
    words = _words(toks)
    if words[0] == "CONSTRAINT":
        # CONSTRAINT [name] FOREIGN KEY ... | CHECK (...)
        name = toks[1].value if len(toks) > 1 and toks[1].kind == "ident" else ""
        rest = toks[2:] if name else toks[1:]
        rest_words = _words(rest)
        if rest_words[:2] == ["FOREIGN", "KEY"]:
            shown.foreign_keys[name] = _foreign_key(rest[2:])
        elif rest_words[:1] == ["CHECK"]:
            shown.checks.append(name)
        return
    if words[0] == "CHECK":
        shown.checks.append("")
        return
    kind = {"PRIMARY": "primary", "UNIQUE": "unique", "FULLTEXT": "fulltext"}.get(words[0])
    kind = kind or {"SPATIAL": "spatial", "VECTOR": "vector"}.get(words[0])
    if kind is None and words[0] in ("KEY", "INDEX"):
        kind = "plain"
    if kind is None:
        return  # e.g. MariaDB's PERIOD FOR SYSTEM_TIME: no fact of ours
    at = 1
    while at < len(toks) and toks[at].kind == "word" and toks[at].value in ("KEY", "INDEX"):
        at += 1
    name = "PRIMARY"
    if kind != "primary" and at < len(toks) and toks[at].kind == "ident":
        name = toks[at].value
        at += 1
    if at >= len(toks) or toks[at].value != "(":
        raise ShowCreateUnreadable(f"the key {name} has no parts")
    end = _closing(toks, at)
    parts = tuple(_key_part(p) for p in _split(toks[at + 1 : end]))
    shown.indexes.append(ShownIndex(name=name, kind=kind, parts=parts))


def _key_part(toks: list[Token]) -> KeyPart:
    descending = toks[-1].kind == "word" and toks[-1].value == "DESC"
    if toks[0].kind == "ident":
        length = None
        if len(toks) >= 4 and toks[1].value == "(" and toks[2].value.isdigit():
            length = int(toks[2].value)
        return KeyPart(column=toks[0].value, length=length, descending=descending)
    return KeyPart(column=None, length=None, descending=descending)  # (expression)


def _foreign_key(toks: list[Token]) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """(columns, referenced table, referenced columns) of ``[name] (cols) REFERENCES t (cols)``."""
    at = next((i for i, t in enumerate(toks) if t.value == "("), None)
    if at is None:
        raise ShowCreateUnreadable("a foreign key has no columns")
    end = _closing(toks, at)
    columns = tuple(t.value for t in toks[at + 1 : end] if t.kind == "ident")
    rest = toks[end + 1 :]
    if not rest or rest[0].value != "REFERENCES":
        raise ShowCreateUnreadable("a foreign key references nothing")
    ref_at = next((i for i, t in enumerate(rest) if t.value == "("), None)
    if ref_at is None or ref_at < 2:
        raise ShowCreateUnreadable("a foreign key has no referenced columns")
    ref_table = rest[ref_at - 1].value  # the last name before the columns: `db`.`t` → t
    ref_end = _closing(rest, ref_at)
    ref_columns = tuple(t.value for t in rest[ref_at + 1 : ref_end] if t.kind == "ident")
    return columns, ref_table, ref_columns


# Words that may follow a column's type as part of it.
_TYPE_MODIFIERS = {"UNSIGNED", "SIGNED", "ZEROFILL"}


def _column(toks: list[Token], text: str) -> ShownColumn:
    name = toks[0].value
    if len(toks) < 2 or toks[1].kind != "word":
        raise ShowCreateUnreadable(f"the column {name} has no type")
    end = 2
    if end < len(toks) and toks[end].value == "(":
        end = _closing(toks, end) + 1
    while end < len(toks) and toks[end].kind == "word" and toks[end].value in _TYPE_MODIFIERS:
        end += 1
    type_text = " ".join(text[toks[1].start : toks[end - 1].end].split()).lower()
    # The words outside parentheses after the type, as one string: "NOT NULL DEFAULT ...".
    words, depth = [], 0
    for t in toks[end:]:
        if t.kind == "punct":
            depth += (t.value == "(") - (t.value == ")")
        elif depth == 0:
            words.append(t.value if t.kind == "word" else "?")
    line = " " + " ".join(words) + " "
    not_null = " NOT NULL " in line
    generated = None
    if " GENERATED ALWAYS AS ROW " in line:
        # MariaDB's ROW START / ROW END of system versioning: stored, and NOT NULL without
        # saying so.
        generated, not_null = "stored", True
    elif " GENERATED ALWAYS AS " in line:
        after = line.partition(" GENERATED ALWAYS AS")[2]
        generated = "virtual" if " VIRTUAL " in after else "stored"
    return ShownColumn(
        name=name,
        type=type_text,
        not_null=not_null,
        generated=generated,
        inline_check=" CHECK " in line,
    )


def _options(shown: _Draft, toks: list[Token], text: str) -> None:
    """The table options after the column list: the counter and the partitioning."""
    for i, t in enumerate(toks):
        if t.kind != "word":
            continue
        if t.value == "AUTO_INCREMENT" and i + 2 < len(toks) and toks[i + 1].value == "=":
            value = toks[i + 2].value
            if value.isdigit():
                shown.auto_increment = int(value)
        elif t.value == "PARTITION" and i + 1 < len(toks) and toks[i + 1].value == "BY":
            shown.partitioning = _partitioning(toks[i + 2 :], text)
            return


# Words after a partitioning method's name that belong to what follows it.
_AFTER_METHOD = {"PARTITIONS", "SUBPARTITION", "SUBPARTITIONS", "INTERVAL", "LIMIT", "STARTS"}


def _method(toks: list[Token], at: int) -> tuple[str, int]:
    """The partitioning method's words from ``at`` (``LINEAR KEY``, ``RANGE COLUMNS``;
    ``ALGORITHM=n`` left out) and the index after them."""
    words = []
    while at < len(toks) and toks[at].kind == "word" and toks[at].value not in _AFTER_METHOD:
        if toks[at].value == "ALGORITHM":
            at += 3
            continue
        words.append(toks[at].value)
        at += 1
    return " ".join(words), at


def _expression(toks: list[Token], at: int, text: str) -> tuple[str | None, int]:
    if at < len(toks) and toks[at].value == "(":
        end = _closing(toks, at)
        inner = text[toks[at].end : toks[end].start]
        return " ".join(inner.split()), end + 1
    return None, at


def _number_after(toks: list[Token], at: int, word: str) -> tuple[int | None, int]:
    if at + 1 < len(toks) and toks[at].value == word and toks[at + 1].value.isdigit():
        return int(toks[at + 1].value), at + 2
    return None, at


def _partitioning(toks: list[Token], text: str) -> ShownPartitioning:
    if not toks:
        raise ShowCreateUnreadable("PARTITION BY without a method")
    # MySQL writes the clause inside a version comment, MariaDB does not.
    clause = text[toks[0].start :].strip().removesuffix("*/")
    clause = " ".join(clause.split())
    method, at = _method(toks, 0)
    expression, at = _expression(toks, at, text)
    count, at = _number_after(toks, at, "PARTITIONS")
    sub_method = sub_expression = None
    if at + 1 < len(toks) and toks[at].value == "SUBPARTITION" and toks[at + 1].value == "BY":
        sub_method, at = _method(toks, at + 2)
        sub_expression, at = _expression(toks, at, text)
        _, at = _number_after(toks, at, "SUBPARTITIONS")
    names: list[str] = []
    list_at = next((i for i in range(at, len(toks)) if toks[i].value == "("), None)
    if list_at is not None:
        list_end = _closing(toks, list_at)
        for piece in _split(toks[list_at + 1 : list_end]):
            if len(piece) >= 2 and piece[0].value == "PARTITION":
                names.append(piece[1].value)
    return ShownPartitioning(
        clause=clause,
        method=method,
        expression=expression,
        count=count if count is not None else (len(names) or None),
        names=tuple(names),
        sub_method=sub_method,
        sub_expression=sub_expression,
    )
