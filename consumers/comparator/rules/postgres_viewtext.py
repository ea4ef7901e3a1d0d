"""View definitions read from servers of different PostgreSQL versions.

The engine compares views by the text ``pg_get_viewdef()`` prints, which is the same for the
same view on servers of one major version. PostgreSQL 16 stopped storing a view's OLD and NEW
range-table entries, and since then prints the column names of a top-level query over a
single relation without the relation's name: ``SELECT name FROM basetable`` where 15 and
older print ``SELECT basetable.name FROM basetable``. Between such servers every view would
look changed.

:func:`same_query` decides whether two printed definitions are the same query: it parses both
with PostgreSQL's own parser (pglast, libpg_query) and compares the syntax trees, with
source positions left out and the qualification PostgreSQL 16 drops removed from both. That
removal keeps the meaning (at the top level of a view there is no outer query, and the one
relation in FROM is the only one a column can come from), so equal trees are equal queries.
Nested query levels are compared as printed (both versions qualify them). Text the parser
does not accept is never "the same".
"""

from __future__ import annotations

from typing import Any

# Clauses of the top-level SELECT in which PostgreSQL 16 prints unqualified column names.
_CLAUSES = (
    "targetList",
    "whereClause",
    "groupClause",
    "havingClause",
    "sortClause",
    "windowClause",
    "distinctClause",
)
_POSITIONS = frozenset({"location", "stmt_location", "stmt_len", "list_start", "list_end"})
UNQUALIFIED_FROM = 16  # the first major version that prints the shorter form


def differs_by_version(a: int | None, b: int | None) -> bool:
    """Whether servers of majors ``a`` and ``b`` print view definitions differently."""
    return a is not None and b is not None and (a >= UNQUALIFIED_FROM) != (b >= UNQUALIFIED_FROM)


def same_query(a: str, b: str) -> bool:
    """Whether two ``pg_get_viewdef()`` texts, from servers of any versions, are one query."""
    if a == b:
        return True
    try:
        return _normalized(a) == _normalized(b)
    except Exception:  # pglast.parser.ParseError, or a tree it cannot represent
        return False


def _normalized(text: str) -> dict[str, Any]:
    from pglast import parse_sql  # only for comparisons across versions: keep start-up lean

    statements = parse_sql(text)
    statement = statements[0].stmt if len(statements) == 1 else None
    if statement is None:
        raise ValueError("not one statement")
    tree: dict[str, Any] = _without_positions(statement(skip_none=True))
    sources = tree.get("fromClause") or []
    if tree.get("@") == "SelectStmt" and len(sources) == 1:
        name = _reference_name(sources[0])
        if name is not None:
            for clause in _CLAUSES:
                if clause in tree:
                    tree[clause] = _unqualified(tree[clause], name)
    return tree


def _without_positions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_positions(v) for k, v in node.items() if k not in _POSITIONS}
    if isinstance(node, (list, tuple)):
        return [_without_positions(v) for v in node]
    return node


def _reference_name(item: dict[str, Any]) -> str | None:
    """The name columns of a FROM item are qualified with: its alias, or a table's name."""
    alias = item.get("alias")
    if alias:
        return str(alias.get("aliasname"))
    if item.get("@") == "RangeVar":
        return str(item.get("relname"))
    return None


def _unqualified(node: Any, name: str) -> Any:
    """``node`` with ``name.column`` references written ``column``, outside nested queries."""
    if isinstance(node, list):
        return [_unqualified(v, name) for v in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("@")
    if kind == "SelectStmt":
        return node  # a nested query level: printed qualified by every version
    if kind == "ColumnRef":
        fields = node.get("fields") or []
        if (
            len(fields) == 2
            and all(f.get("@") == "String" for f in fields)
            and fields[0].get("sval") == name
        ):
            return {**node, "fields": [fields[1]]}
        return node
    return {k: _unqualified(v, name) for k, v in node.items()}
