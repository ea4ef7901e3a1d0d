"""Invisible columns on the server (MariaDB 10.3.3+, MySQL 8.0.23+): read from EXTRA, written
in column definitions; a change of visibility alone is a MODIFY COLUMN that changes metadata
only, which the server proves by running it with ``ALGORITHM=INSTANT``."""

from __future__ import annotations

import pytest

from schemashift.schemas.hazards import Hazard
from tests.support.mysql_engine import MyPair, execute, migrate, rows, sql_of

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

VISIBLE = (
    "CREATE TABLE t (id int PRIMARY KEY, note varchar(20) DEFAULT 'x', n int NOT NULL DEFAULT 0)"
)
HIDDEN = (
    "CREATE TABLE t (id int PRIMARY KEY, note varchar(20) INVISIBLE DEFAULT 'x', "
    "n int NOT NULL DEFAULT 0)"
)


async def test_invisible_columns_are_read(my_pair: MyPair) -> None:
    source, _ = await my_pair.load(
        "CREATE TABLE g (a int, b int AS (a + 1) VIRTUAL INVISIBLE, "
        "ts timestamp DEFAULT current_timestamp() ON UPDATE current_timestamp() INVISIBLE, "
        "d int AUTO_INCREMENT INVISIBLE KEY)",
        "",
    )
    (table,) = source.tables
    assert [(c.name, c.invisible) for c in table.columns] == [
        ("a", False),
        ("b", True),
        ("ts", True),
        ("d", True),
    ]
    assert table.column("ts").on_update == "current_timestamp()"  # EXTRA: "..., INVISIBLE"
    await migrate(my_pair, "CREATE TABLE g (a int, b int AS (a + 1) VIRTUAL INVISIBLE)", "")


async def test_a_column_is_added_invisible(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, secret int NOT NULL INVISIBLE DEFAULT 7)",
        "CREATE TABLE t (id int PRIMARY KEY)",
        reverse=False,
    )
    assert sql_of(script) == (
        "ALTER TABLE t ADD COLUMN secret int(11) NOT NULL DEFAULT 7 INVISIBLE, ALGORITHM=INSTANT;"
    )
    assert (await rows(my_pair.target, "SELECT * FROM t")) == []
    await execute(my_pair.target, "INSERT INTO t VALUES (1)")  # the new column is not asked for
    assert (await rows(my_pair.target, "SELECT *, secret FROM t")) == [{"id": 1, "secret": 7}]


@pytest.mark.parametrize(
    ("desired", "current", "clause"),
    [
        (VISIBLE, HIDDEN, "MODIFY COLUMN note varchar(20) NULL DEFAULT 'x'"),
        (HIDDEN, VISIBLE, "MODIFY COLUMN note varchar(20) NULL DEFAULT 'x' INVISIBLE"),
    ],
    ids=["made-visible", "made-invisible"],
)
async def test_a_change_of_visibility_is_a_metadata_change(
    my_pair: MyPair, desired: str, current: str, clause: str
) -> None:
    script = await migrate(my_pair, desired, current)
    # The server changes it without copying the table: the statement says ALGORITHM=INSTANT,
    # which the server refuses rather than copy (migrate applied it).
    assert sql_of(script) == f"ALTER TABLE t {clause}, ALGORITHM=INSTANT;"
    assert script.statements[0].hazards == [Hazard.NOT_TRANSACTIONAL]
