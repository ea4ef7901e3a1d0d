"""MariaDB's own ways, each checked on the server: JSON as LONGTEXT with a json_valid check,
quoted literal defaults and current_timestamp(), NO ACTION as RESTRICT, IGNORED indexes."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import diff
from tests.support.mysql_engine import MyPair, migrate, rows, sql_of

pytestmark = [pytest.mark.integration, pytest.mark.mysql]


async def test_json_columns_are_json_and_keep_their_check(my_pair: MyPair) -> None:
    source, _ = await my_pair.load(
        "CREATE TABLE t (id int PRIMARY KEY, j json, k json NOT NULL)",
        "CREATE TABLE t (id int PRIMARY KEY, j json, old longtext)",
    )
    table = source.tables[0]
    assert [c.type for c in table.columns] == ["int(11)", "json", "json"]
    assert table.constraints and all(c.name not in ("j", "k") for c in table.constraints[1:])
    script = await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, j json, k json NOT NULL)",
        "CREATE TABLE t (id int PRIMARY KEY, j json, old longtext)",
    )
    assert "DROP CONSTRAINT" not in sql_of(script)
    checks = await rows(
        my_pair.target,
        "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY 1",
    )
    assert [c["CONSTRAINT_NAME"] for c in checks] == ["j"]  # the reverse dropped k


async def test_a_json_column_and_a_longtext_one_differ(my_pair: MyPair) -> None:
    await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, j json)",
        "CREATE TABLE t (id int PRIMARY KEY, j longtext)",
    )


async def test_literal_and_expression_defaults_are_normalised(my_pair: MyPair) -> None:
    ddl = (
        "CREATE TABLE t (a varchar(10) DEFAULT 'it''s', b int DEFAULT 0, c int DEFAULT NULL, "
        "d timestamp NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, "
        "e datetime DEFAULT NOW(), f varchar(5) DEFAULT 'NULL')"
    )
    source, target = await my_pair.load(ddl, ddl.replace("NOW()", "current_timestamp()"))
    columns = {c.name: c for c in source.tables[0].columns}
    assert columns["a"].default == "'it''s'" and columns["b"].default == "0"
    assert columns["c"].default is None and columns["f"].default == "'NULL'"
    assert columns["d"].default == "current_timestamp()"
    assert columns["d"].on_update == "current_timestamp()"
    assert columns["e"].default == "current_timestamp()"
    assert diff(source, target) == []


async def test_no_action_and_restrict_are_the_same(my_pair: MyPair) -> None:
    parent = "CREATE TABLE p (id int PRIMARY KEY);"
    source, target = await my_pair.load(
        parent + "CREATE TABLE c (pid int, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) "
        "ON DELETE NO ACTION ON UPDATE NO ACTION)",
        parent + "CREATE TABLE c (pid int, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) "
        "ON DELETE RESTRICT)",
    )
    assert diff(source, target) == []


async def test_ignored_indexes(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, a int, KEY ka (a) IGNORED)",
        "CREATE TABLE t (id int PRIMARY KEY, a int, KEY ka (a))",
    )
    assert "IGNORED" in sql_of(script)
