"""The AUTO_INCREMENT counter on the server: raised to the source's when that is higher,
never lowered, carried by a new table's CREATE; after the migration a second diff finds
nothing, whichever side's counter was higher."""

from __future__ import annotations

from typing import Any

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql import introspect_connection
from tests.support.mysql_engine import MyPair, migrate, sql_of

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

TABLE = "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, v varchar(10))"


async def _counter(conn: Any, table: str = "t") -> int:
    """The counter as the server hands it out: the id of a row inserted now (rolled back)."""
    await conn.begin()
    try:
        async with conn.cursor() as cur:
            await cur.execute(f"INSERT INTO {table} () VALUES ()")
            return int(cur.lastrowid)
    finally:
        await conn.rollback()


async def _nothing_left(pair: MyPair) -> None:
    source = await introspect_connection(pair.source)
    target = await introspect_connection(pair.target)
    assert diff(source, target) == []


async def test_a_higher_source_counter_is_raised_and_never_lowered_back(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        TABLE + " AUTO_INCREMENT=1000",
        TABLE + "; INSERT INTO t (v) VALUES ('a'), ('b')",
        reverse=False,
    )
    assert sql_of(script) == "ALTER TABLE t AUTO_INCREMENT=1000, ALGORITHM=INSTANT;"
    assert script.statements[0].hazards == ["not_transactional"]
    assert script.reverse_statements == []  # lowering it again is not a change
    assert await _counter(my_pair.target) == 1000
    await _nothing_left(my_pair)


async def test_a_lower_source_counter_is_no_difference(my_pair: MyPair) -> None:
    source, target = await my_pair.load(TABLE + " AUTO_INCREMENT=5", TABLE + " AUTO_INCREMENT=1000")
    assert (source.tables[0].auto_increment, target.tables[0].auto_increment) == (5, 1000)
    assert diff(source, target) == []
    # A source without rows (no counter shown) against a target that has some: the same.
    source, target = await my_pair.load(TABLE, TABLE + "; INSERT INTO t (v) VALUES ('a')")
    assert source.tables[0].auto_increment is None and diff(source, target) == []


async def test_the_counter_goes_with_other_changes_into_one_alter_table(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, v varchar(10), w int) "
        "AUTO_INCREMENT=300 COMMENT='x'",
        TABLE,
        reverse=False,
    )
    (statement,) = sql_of(script).splitlines()
    assert statement.startswith("ALTER TABLE t ")
    assert "COMMENT='x'" in statement and "AUTO_INCREMENT=300" in statement, statement
    assert "ADD COLUMN w" in statement
    await _nothing_left(my_pair)
    assert await _counter(my_pair.target) == 300


async def test_a_new_table_is_created_with_its_counter(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair, TABLE + " AUTO_INCREMENT=777", "CREATE TABLE other (id int)", reverse=False
    )
    assert "AUTO_INCREMENT=777" in sql_of(script)
    assert await _counter(my_pair.target) == 777
    await _nothing_left(my_pair)


async def test_an_added_auto_increment_column_starts_at_the_counter(my_pair: MyPair) -> None:
    await migrate(
        my_pair,
        "CREATE TABLE t (id int NOT NULL AUTO_INCREMENT, k int, PRIMARY KEY (id)) "
        "AUTO_INCREMENT=300",
        "CREATE TABLE t (k int)",
        reverse=False,
    )
    assert await _counter(my_pair.target) == 300
    await _nothing_left(my_pair)


async def test_a_partitioned_tables_counter(my_pair: MyPair) -> None:
    """MariaDB's SHOW CREATE TABLE may leave a partitioned table's counter out (it did on a
    table just created, before anything else opened it): information_schema has it."""
    partitioned = (
        "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY) {} PARTITION BY HASH (id) PARTITIONS 2"
    )
    script = await migrate(
        my_pair,
        partitioned.format("AUTO_INCREMENT=500"),
        partitioned.format("") + "; INSERT INTO t VALUES (7)",
        reverse=False,
    )
    assert sql_of(script) == "ALTER TABLE t AUTO_INCREMENT=500, ALGORITHM=INSTANT;"
    await _nothing_left(my_pair)
    assert await _counter(my_pair.target) == 500
