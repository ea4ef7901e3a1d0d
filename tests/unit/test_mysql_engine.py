"""The MySQL dialect's rules and renderer without a server: narrowing type changes, the
version rules, one ALTER TABLE per table with its clauses in dependency order."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.compare.common import UnsupportedByTarget
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.rules.mysql import check_versions, comparable
from schemashift.consumers.generator.render import generate
from schemashift.consumers.generator.render.mysql.tables import alter_options, narrows
from schemashift.schemas.catalog import (
    Catalog,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Table,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard

OPTIONS = ["COLLATE=utf8mb4_general_ci", "DEFAULT CHARSET=utf8mb4", "ENGINE=InnoDB"]


def _catalog(db: str, *tables: Table, version: str = "10.11.19-MariaDB") -> Catalog:
    return Catalog(dialect=Dialect.MYSQL, server_version=version, tables=list(tables))


def _table(db: str, name: str, *columns: Column, **fields) -> Table:
    return Table(schema_name=db, name=name, columns=list(columns), options=OPTIONS, **fields)


@pytest.mark.parametrize(
    ("old", "new", "loses"),
    [
        ("int(11)", "bigint(20)", False),
        ("bigint(20)", "int(11)", True),
        ("int(10) unsigned", "bigint(20)", False),
        ("int(11)", "int(10) unsigned", True),
        ("varchar(20)", "varchar(50)", False),
        ("varchar(50)", "varchar(20)", True),
        ("varchar(50)", "text", False),
        ("mediumtext", "text", True),
        ("decimal(10,2)", "decimal(12,2)", False),
        ("decimal(10,2)", "decimal(10,1)", True),
        ("enum('a','b')", "enum('a','b','c')", False),
        ("enum('a','b')", "enum('b','a')", True),
        ("set('a','b')", "set('b','a','c')", False),
        ("datetime(3)", "datetime", True),
        ("varchar(10)", "int(11)", True),
    ],
)
def test_narrowing_type_changes(old: str, new: str, loses: bool) -> None:
    assert narrows(old, new) is loses


def test_the_source_is_compared_on_the_targets_database_name() -> None:
    ref = ForeignKey(
        name="fk",
        definition="FOREIGN KEY (`p`) REFERENCES `p` (`id`)",
        columns=["p"],
        ref_schema="src",
        ref_table="p",
        ref_columns=["id"],
    )
    source = _catalog(
        "src", _table("src", "c", Column(name="p", type="int(11)"), constraints=[ref])
    )
    target = _catalog("tgt", _table("tgt", "c", Column(name="p", type="int(11)")))
    moved, _ = comparable(source, target)
    assert moved.tables[0].schema_name == "tgt"
    assert moved.tables[0].foreign_keys[0].ref_schema == "tgt"


def test_inherited_character_sets_are_no_difference() -> None:
    inherits = Column(
        name="a", type="varchar(5)", charset="utf8mb4", collation="utf8mb4_general_ci"
    )
    source = _catalog("src", _table("src", "t", inherits))
    target = _catalog("tgt", _table("tgt", "t", Column(name="a", type="varchar(5)")))
    assert diff(source, target) == []
    latin = inherits.model_copy(update={"charset": "latin1", "collation": "latin1_swedish_ci"})
    (op,) = diff(_catalog("src", _table("src", "t", latin)), target)
    assert op.new_as(Column).charset == "latin1"


def test_the_targets_version_refuses_what_it_cannot_run() -> None:
    desc = Index(name="k", definition="KEY (`a` DESC)", columns=["a"])
    source = _catalog("src", _table("src", "t", Column(name="a", type="int(11)"), indexes=[desc]))
    old = _catalog("tgt", version="10.6.16-MariaDB")
    with pytest.raises(UnsupportedByTarget, match=r"descending index parts.*MariaDB 10\.8 or"):
        diff(source, old)
    ops = diff(source, _catalog("tgt", version="10.11.19-MariaDB"))
    assert [o.label for o in ops] == ["create_table"]
    check_versions(ops, _catalog("tgt", version="8.0.36"))
    with pytest.raises(UnsupportedByTarget, match=r"MySQL 8\.0 or later"):
        check_versions(ops, _catalog("tgt", version="5.7.44-log"))


def test_a_tables_changes_are_one_alter_table_and_foreign_keys_come_around_them() -> None:
    pk = PrimaryKey(name="PRIMARY", definition="PRIMARY KEY (`id`)", columns=["id"])
    fk = ForeignKey(
        name="fk",
        definition="FOREIGN KEY (`id`) REFERENCES `u` (`id`)",
        columns=["id"],
        ref_schema="db",
        ref_table="u",
        ref_columns=["id"],
    )
    u = _table("db", "u", Column(name="id", type="bigint(20)", not_null=True), constraints=[pk])
    old_u = _table("db", "u", Column(name="id", type="int(11)", not_null=True), constraints=[pk])
    new_t = _table(
        "db",
        "t",
        Column(name="id", type="bigint(20)", not_null=True, auto_increment=True),
        Column(name="b", type="int(11)"),
        constraints=[pk, fk],
        indexes=[Index(name="kb", definition="KEY (`b`)", columns=["b"])],
    )
    old_t = _table(
        "db",
        "t",
        Column(name="id", type="int(11)", not_null=True),
        Column(name="gone", type="text"),
        constraints=[fk.model_copy(update={"definition": fk.definition})],
    )
    script = generate(diff(_catalog("db", u, new_t), _catalog("db", old_u, old_t)), Dialect.MYSQL)
    sqls = [" ".join(s.sql.split()) for s in script.statements]
    assert sqls == [
        "ALTER TABLE t DROP FOREIGN KEY fk, ALGORITHM=INSTANT;",
        "ALTER TABLE t DROP COLUMN gone, ADD COLUMN b int(11) NULL, "
        "MODIFY COLUMN id bigint(20) NOT NULL AUTO_INCREMENT, ADD PRIMARY KEY (`id`), "
        "ADD KEY kb (`b`);",
        "ALTER TABLE u MODIFY COLUMN id bigint(20) NOT NULL;",
        "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (`id`) REFERENCES `u` (`id`);",
    ]
    assert all(
        Hazard.NOT_TRANSACTIONAL in s.hazards and not s.transactional for s in script.statements
    )
    assert Hazard.DEPENDENT_REBUILD in script.statements[0].hazards


def test_table_options_are_altered_and_reset() -> None:
    old = Table(
        schema_name="d", name="t", options=["COMMENT='x'", "ENGINE=InnoDB", "ROW_FORMAT=COMPACT"]
    )
    new = Table(
        schema_name="d",
        name="t",
        options=["DEFAULT CHARSET=latin1", "COLLATE=latin1_bin", "ENGINE=MyISAM"],
    )
    clauses, hazards = alter_options(old, new)
    assert clauses == [
        "ENGINE=MyISAM",
        "DEFAULT CHARSET=latin1",
        "COLLATE=latin1_bin",
        "ROW_FORMAT=DEFAULT",
        "COMMENT=''",
    ]
    assert Hazard.TABLE_REWRITE in hazards


def test_the_auto_increment_counter_is_only_ever_raised() -> None:
    def table(counter: int | None, *options: str) -> Table:
        return _table(
            "db",
            "t",
            Column(name="id", type="int(11)", not_null=True, auto_increment=True),
            auto_increment=counter,
        ).model_copy(update={"options": sorted([*OPTIONS, *options])})

    raised = diff(_catalog("db", table(1000)), _catalog("db", table(None)))
    script = generate(raised, Dialect.MYSQL)
    assert [s.sql for s in script.statements] == [
        "ALTER TABLE t\n    AUTO_INCREMENT=1000,\n    ALGORITHM=INSTANT;"
    ]
    assert script.reverse_statements == []  # undoing it does not lower it
    assert diff(_catalog("db", table(5)), _catalog("db", table(1000))) == []
    assert diff(_catalog("db", table(None)), _catalog("db", table(7))) == []
    # With an option that changes: one ALTER TABLE, one operation.
    (both,) = diff(_catalog("db", table(50, "COMMENT='x'")), _catalog("db", table(9)))
    sql = generate([both], Dialect.MYSQL).statements[0].sql
    assert sql == "ALTER TABLE t\n    COMMENT='x',\n    AUTO_INCREMENT=50,\n    ALGORITHM=INSTANT;"
    # A new table carries its counter; the counter is no part of the fingerprint.
    (create,) = diff(_catalog("db", table(77)), _catalog("db"))
    assert " AUTO_INCREMENT=77;" in generate([create], Dialect.MYSQL).sql()
    assert _catalog("db", table(1)).fingerprint() == _catalog("db", table(99)).fingerprint()
