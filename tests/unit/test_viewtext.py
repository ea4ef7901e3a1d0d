"""Which view definitions printed by different PostgreSQL versions are the same query."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.rules.postgres_viewtext import differs_by_version, same_query

SAME = [
    # 15 and older qualify the columns of a one-relation top-level query; 16 and later do not.
    (" SELECT t.a,\n    t.b\n   FROM t;", " SELECT a,\n    b\n   FROM t;"),
    ("SELECT x.a FROM t x WHERE x.b > 1 ORDER BY x.a", "SELECT a FROM t x WHERE b > 1 ORDER BY a"),
    (
        "SELECT t.a, count(*) AS count FROM t GROUP BY t.a HAVING count(*) > 1",
        "SELECT a, count(*) AS count FROM t GROUP BY a HAVING count(*) > 1",
    ),
    # Nested levels are printed qualified by both.
    (
        "SELECT t.a FROM t WHERE t.b IN (SELECT u.b FROM u)",
        "SELECT a FROM t WHERE b IN (SELECT u.b FROM u)",
    ),
    # Only positions differ.
    (
        "SELECT t.a FROM t WHERE t.a = ANY (ARRAY[1, 2])",
        "SELECT a FROM t WHERE a = ANY (ARRAY[1,2])",
    ),
]
DIFFERENT = [
    ("SELECT t.a FROM t", "SELECT t.b FROM t"),
    ("SELECT t.a FROM t", "SELECT a FROM t WHERE a > 0"),
    # Two relations: the qualification says which column it is.
    (
        "SELECT a.x FROM a JOIN b ON a.i = b.i",
        "SELECT b.x FROM a JOIN b ON a.i = b.i",
    ),
    # A nested level is not unqualified.
    (
        "SELECT t.a FROM t WHERE t.b IN (SELECT u.b FROM u)",
        "SELECT a FROM t WHERE b IN (SELECT b FROM u)",
    ),
    # Another relation's name is not the FROM item's.
    ("SELECT u.a FROM t", "SELECT a FROM t"),
    # Text the parser rejects is never the same as anything else.
    ("SELECT t.a FROM t", "SELECT FROM WHERE"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_the_same_query_printed_differently(a: str, b: str) -> None:
    assert same_query(a, b) and same_query(b, a)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_queries(a: str, b: str) -> None:
    assert not same_query(a, b) and not same_query(b, a)


def test_which_versions_print_differently() -> None:
    assert differs_by_version(15, 16) and differs_by_version(18, 14)
    assert not differs_by_version(16, 18) and not differs_by_version(14, 15)
    assert not differs_by_version(None, 16)
