"""The ALGORITHM of an ALTER TABLE by the target's flavour and version, without a server: the
statement takes the weakest of its clauses, an unknown server or a table of another engine
claims nothing, and the hazards follow the algorithm (tests/engine/mysql/test_online_ddl.py
runs the MariaDB claims on the server)."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.generator.render import generate
from schemashift.schemas.catalog import Catalog, Column, Index, PrimaryKey, Table
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard

H = Hazard
INSTANT, INPLACE = "ALGORITHM=INSTANT", "ALGORITHM=INPLACE, LOCK=NONE"
PK = PrimaryKey(name="PRIMARY", definition="PRIMARY KEY (`id`)", columns=["id"])
ID = Column(name="id", type="int(11)", not_null=True)
A = Column(name="a", type="int(11)")
B = Column(name="b", type="varchar(20)")
KA = Index(name="ka", definition="KEY (`a`)", columns=["a"])


def _table(*columns: Column, engine: str = "InnoDB", **fields: object) -> Table:
    options = ["COLLATE=utf8mb4_general_ci", "DEFAULT CHARSET=utf8mb4", f"ENGINE={engine}"]
    fields.setdefault("constraints", [PK])
    return Table(schema_name="db", name="t", columns=[ID, *columns], options=options, **fields)


def _alter(source: Table, target: Table, version: str | None) -> tuple[str, list[Hazard]]:
    """The SQL (on one line) and hazards of the one statement of the migration."""
    catalogs = [
        Catalog(dialect=Dialect.MYSQL, server_version=version, tables=[t]) for t in (source, target)
    ]
    (statement,) = generate(diff(*catalogs), Dialect.MYSQL).statements
    return " ".join(statement.sql.split()), statement.hazards


def _clause(sql: str) -> str | None:
    return next((c for c in (INSTANT, INPLACE) if sql.endswith(f", {c};")), None)


ADD, DROP = (_table(A, B), _table(A)), (_table(A), _table(A, B))


@pytest.mark.parametrize(
    ("change", "version", "clause"),
    [
        (ADD, "10.11.19-MariaDB", INSTANT),
        (ADD, "10.3.2-MariaDB", INSTANT),
        (ADD, "10.2.44-MariaDB", INPLACE),
        (ADD, "8.0.12", INSTANT),
        (ADD, "8.0.11", INPLACE),
        (ADD, "5.7.44-log", INPLACE),
        (ADD, "5.5.62", None),
        (ADD, None, None),
        (DROP, "10.4.0-MariaDB", INSTANT),
        (DROP, "10.3.39-MariaDB", INPLACE),
        (DROP, "8.0.29", INSTANT),
        (DROP, "8.0.28", INPLACE),
    ],
)
def test_columns_by_flavour_and_version(
    change: tuple[Table, Table], version: str | None, clause: str | None
) -> None:
    sql, hazards = _alter(*change, version)
    assert _clause(sql) == clause, sql
    if version is None:  # nothing known: the hazards as they always were
        assert H.TABLE_REWRITE not in hazards
        return
    assert (H.TABLE_REWRITE in hazards) is (clause != INSTANT), hazards
    assert (H.LONG_LOCK in hazards) is (clause is None), hazards


def test_an_unknown_server_claims_nothing_and_keeps_the_old_hazards() -> None:
    sql, hazards = _alter(_table(A, B), _table(A), "")
    assert _clause(sql) is None and hazards == [H.NOT_TRANSACTIONAL]


def test_other_engines_claim_nothing() -> None:
    sql, hazards = _alter(_table(A, B, engine="MyISAM"), _table(A, engine="MyISAM"), "10.11.2")
    assert _clause(sql) is None
    assert {H.TABLE_REWRITE, H.LONG_LOCK} <= set(hazards)


def test_the_weakest_clause_decides() -> None:
    # An instant column and an index built in place: in place, and the column may rebuild.
    sql, hazards = _alter(_table(A, B, indexes=[KA]), _table(A), "10.11.19-MariaDB")
    assert _clause(sql) == INPLACE
    assert H.TABLE_REWRITE in hazards and H.INDEX_BUILD not in hazards
    # And a type that changes: copied, no clause.
    wider = A.model_copy(update={"type": "bigint(20)"})
    sql, hazards = _alter(_table(wider, B), _table(A), "10.11.19-MariaDB")
    assert _clause(sql) is None and {H.TABLE_REWRITE, H.LONG_LOCK} <= set(hazards)


@pytest.mark.parametrize(
    ("old", "new", "version", "clause"),
    [
        ("varchar(20)", "varchar(63)", "10.11.19-MariaDB", INSTANT),
        ("varchar(60)", "varchar(70)", "10.11.19-MariaDB", None),  # 240 to 280 bytes
        ("varchar(31)", "varchar(500)", "10.11.19-MariaDB", INSTANT),  # 124 bytes, always one
        ("varchar(31)", "varchar(500)", "8.0.36", None),
        ("varchar(20)", "varchar(63)", "8.0.36", INPLACE),
        ("varchar(20)", "varchar(63)", "10.3.39-MariaDB", None),
        ("varbinary(100)", "varbinary(255)", "10.11.19-MariaDB", INSTANT),
        ("char(10)", "char(20)", "10.11.19-MariaDB", None),
        ("enum('x','y')", "enum('x','y','z')", "10.11.19-MariaDB", INSTANT),
        ("enum('x','y')", "enum('y','x','z')", "10.11.19-MariaDB", None),
        (
            "set('1','2','3','4','5','6','7','8')",
            "set('1','2','3','4','5','6','7','8','9')",
            "10.11.19-MariaDB",
            None,  # eight members fit one byte, nine need two
        ),
    ],
)
def test_type_changes(old: str, new: str, version: str, clause: str | None) -> None:
    sql, hazards = _alter(
        _table(B.model_copy(update={"type": new})),
        _table(B.model_copy(update={"type": old})),
        version,
    )
    assert _clause(sql) == clause, sql
    assert (H.TABLE_REWRITE in hazards) is (clause is None)


def test_a_fulltext_table_adds_no_column_online() -> None:
    ft = Index(name="ft", definition="FULLTEXT KEY (`b`)", columns=["b"], method="fulltext")
    sql, hazards = _alter(_table(B, A, indexes=[ft]), _table(B, indexes=[ft]), "10.11.19-MariaDB")
    assert _clause(sql) is None and {H.TABLE_REWRITE, H.LONG_LOCK} <= set(hazards)


def test_the_reverse_script_is_judged_on_the_table_it_finds() -> None:
    """The reverse of adding a column and a FULLTEXT index drops both from a FULLTEXT table."""
    ft = Index(name="ft", definition="FULLTEXT KEY (`b`)", columns=["b"], method="fulltext")
    catalogs = [
        Catalog(dialect=Dialect.MYSQL, server_version="10.11.19-MariaDB", tables=[t])
        for t in (_table(B, A, indexes=[ft]), _table(B))
    ]
    script = generate(diff(*catalogs), Dialect.MYSQL)
    (forward,), (backward,) = script.statements, script.reverse_statements
    assert _clause(" ".join(forward.sql.split())) is None  # the FULLTEXT build copies
    assert _clause(" ".join(backward.sql.split())) is None  # its table has FULLTEXT
