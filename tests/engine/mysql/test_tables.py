"""Convergence on MariaDB: each case loads a SOURCE and a TARGET, migrates the target through
the executor's apply path, compares both databases by an independent information_schema
snapshot, diffs again (nothing left), then applies the reverse script and checks that the
target is back where it was."""

from __future__ import annotations

import pytest

from schemashift.schemas.hazards import Hazard
from tests.support.mysql_engine import MyPair, migrate, sql_of

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

H = Hazard

PARENT = "CREATE TABLE p (id int PRIMARY KEY, code varchar(10) NOT NULL, UNIQUE KEY code (code));"

CASES: dict[str, tuple[str, str]] = {
    "add and drop columns": (
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(20) NOT NULL DEFAULT 'x', b text);",
        "CREATE TABLE t (id int PRIMARY KEY, old int);",
    ),
    "create and drop tables": (
        "CREATE TABLE kept (id int PRIMARY KEY); CREATE TABLE made (id int PRIMARY KEY, "
        "v varchar(5)) ENGINE=InnoDB COMMENT='new';",
        "CREATE TABLE kept (id int PRIMARY KEY); CREATE TABLE gone (id int);",
    ),
    "type, nullability and default changes": (
        "CREATE TABLE t (id int PRIMARY KEY, a bigint NOT NULL DEFAULT 7, b varchar(100), "
        "c decimal(12,4) DEFAULT 1.5, d enum('x','y','z') DEFAULT 'y');",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20) DEFAULT 'o''k', "
        "c decimal(10,2), d enum('x','y'));",
    ),
    "unsigned, zerofill, set and bit types": (
        "CREATE TABLE t (id int unsigned PRIMARY KEY, z int(6) zerofill, s set('a','b','c'), "
        "f bit(3) DEFAULT b'101', y year);",
        "CREATE TABLE t (id int PRIMARY KEY, z int, s set('a','b'));",
    ),
    "timestamps with expressions and ON UPDATE": (
        "CREATE TABLE t (id int PRIMARY KEY, "
        "c timestamp NOT NULL DEFAULT current_timestamp ON UPDATE current_timestamp, "
        "d datetime(3) DEFAULT now(3), e date DEFAULT '2020-01-01');",
        "CREATE TABLE t (id int PRIMARY KEY, c timestamp NULL, d datetime(3));",
    ),
    "primary key moves, auto increment with its key": (
        "CREATE TABLE t (id bigint unsigned NOT NULL AUTO_INCREMENT, k int NOT NULL, "
        "PRIMARY KEY (id)); CREATE TABLE u (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b));",
        "CREATE TABLE t (k int NOT NULL, PRIMARY KEY (k)); CREATE TABLE u (a int NOT NULL, "
        "b int NOT NULL);",
    ),
    "unique keys and indexes with prefixes, DESC, comments": (
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(100), b int, c text, "
        "UNIQUE KEY uq (a(10), b DESC), KEY kb (b) COMMENT 'by b', KEY kc (c(20)), "
        "FULLTEXT KEY ft (c));",
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(100), b int, c text, "
        "UNIQUE KEY uq (a(20), b), KEY old (a));",
    ),
    "foreign keys around column changes": (
        "CREATE TABLE p (id bigint PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, "
        "pid bigint, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE);",
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, "
        "pid int, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE);",
    ),
    "foreign key actions, added and dropped keys": (
        PARENT + "CREATE TABLE c (id int PRIMARY KEY, pid int, code varchar(10), "
        "CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) ON DELETE SET NULL ON UPDATE CASCADE, "
        "CONSTRAINT fk2 FOREIGN KEY (code) REFERENCES p (code));",
        PARENT + "CREATE TABLE c (id int PRIMARY KEY, pid int, code varchar(10), "
        "CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) ON DELETE NO ACTION, "
        "CONSTRAINT fk3 FOREIGN KEY (pid) REFERENCES p (id));",
    ),
    "a referenced key that is rebuilt": (
        "CREATE TABLE p (id int NOT NULL, code varchar(10) NOT NULL, UNIQUE KEY code (code, id)); "
        "CREATE TABLE c (code varchar(10), CONSTRAINT fk FOREIGN KEY (code) REFERENCES p (code));",
        "CREATE TABLE p (id int NOT NULL, code varchar(10) NOT NULL, UNIQUE KEY code (code)); "
        "CREATE TABLE c (code varchar(10), CONSTRAINT fk FOREIGN KEY (code) REFERENCES p (code));",
    ),
    "check constraints": (
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int CHECK (b > 0), "
        "CONSTRAINT pos CHECK (a > 0), CONSTRAINT lt CHECK (a < b));",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int, CONSTRAINT pos CHECK (a >= 0), "
        "CONSTRAINT gone CHECK (a <> 5));",
    ),
    "table options": (
        "CREATE TABLE t (id int PRIMARY KEY) ENGINE=MyISAM DEFAULT CHARSET=latin1 "
        "COMMENT='the t''s'; CREATE TABLE u (id int PRIMARY KEY) ROW_FORMAT=COMPRESSED;"
        "CREATE TABLE v (id int PRIMARY KEY) COLLATE=utf8mb4_bin;",
        "CREATE TABLE t (id int PRIMARY KEY) ENGINE=InnoDB COMMENT='old';"
        "CREATE TABLE u (id int PRIMARY KEY) ROW_FORMAT=DYNAMIC;"
        "CREATE TABLE v (id int PRIMARY KEY);",
    ),
    "column comments, character sets and collations": (
        "CREATE TABLE t (id int PRIMARY KEY COMMENT 'the key', a varchar(10) CHARACTER SET latin1, "
        "b varchar(10) COLLATE utf8mb4_bin, c varchar(10));",
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(10), b varchar(10), "
        "c varchar(10) CHARACTER SET ascii COMMENT 'was ascii');",
    ),
    "a new table default character set converts no column by itself": (
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(10)) DEFAULT CHARSET=latin1;",
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(10)) DEFAULT CHARSET=utf8mb4;",
    ),
    "generated columns": (
        "CREATE TABLE t (id int PRIMARY KEY, a int, v int AS (a * 2) VIRTUAL, "
        "s int AS (a + 1) STORED, KEY ks (s));",
        "CREATE TABLE t (id int PRIMARY KEY, a int, v int AS (a * 3) VIRTUAL, s int);",
    ),
    "reserved and odd names": (
        "CREATE TABLE `order` (`select` int PRIMARY KEY, `from` varchar(5), `a b` int, "
        "KEY `key` (`from`));",
        "CREATE TABLE `order` (`select` int PRIMARY KEY, `where` int);",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_converges(my_pair: MyPair, name: str) -> None:
    source, target = CASES[name]
    await migrate(my_pair, source, target)


async def test_one_alter_table_per_table(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        "CREATE TABLE t (id int NOT NULL AUTO_INCREMENT, a varchar(10), b int, "
        "PRIMARY KEY (id), KEY kb (b)) COMMENT='c';",
        "CREATE TABLE t (id int NOT NULL, a varchar(5), old int);",
    )
    statements = sql_of(script).splitlines()
    assert len(statements) == 1, statements
    assert statements[0].startswith("ALTER TABLE t DROP COLUMN old, COMMENT='c', ADD COLUMN b")
    assert "ADD PRIMARY KEY (`id`)" in statements[0]


async def test_hazards_of_widening_and_narrowing(my_pair: MyPair) -> None:
    widen = await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, a bigint, b varchar(50));",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20));",
    )
    (statement,) = widen.statements
    assert H.TABLE_REWRITE in statement.hazards and H.DATA_LOSS not in statement.hazards
    assert H.NOT_TRANSACTIONAL in statement.hazards and not statement.transactional
    narrow = await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, b varchar(10));",
        "CREATE TABLE t (id int PRIMARY KEY, b varchar(20));",
    )
    assert {H.DATA_LOSS, H.IRREVERSIBLE} <= set(narrow.statements[0].hazards)
    drop = await migrate(
        my_pair, "CREATE TABLE k (id int);", "CREATE TABLE k (id int); CREATE TABLE t (id int);"
    )
    assert {H.DATA_LOSS, H.IRREVERSIBLE} <= set(drop.statements[0].hazards)
    default = await migrate(
        my_pair,
        "CREATE TABLE t (id int PRIMARY KEY, a int DEFAULT 3 COMMENT 'x');",
        "CREATE TABLE t (id int PRIMARY KEY, a int);",
    )
    assert default.statements[0].hazards == [H.NOT_TRANSACTIONAL]


async def test_foreign_keys_are_dropped_and_added_around_their_columns(my_pair: MyPair) -> None:
    script = await migrate(my_pair, *CASES["foreign keys around column changes"])
    statements = sql_of(script).splitlines()
    assert statements[0] == "ALTER TABLE c DROP FOREIGN KEY fk, ALGORITHM=INSTANT;"
    assert statements[-1].startswith("ALTER TABLE c ADD CONSTRAINT fk FOREIGN KEY")
    assert H.DEPENDENT_REBUILD in script.statements[0].hazards


async def test_equal_schemas_on_two_databases_have_no_difference(my_pair: MyPair) -> None:
    from schemashift.consumers.comparator.diff import diff

    ddl = (
        PARENT + "CREATE TABLE c (id int PRIMARY KEY, pid int, j json, "
        "t timestamp DEFAULT current_timestamp, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id))"
    )
    source, target = await my_pair.load(ddl, ddl)
    assert source.tables[0].schema_name != target.tables[0].schema_name
    assert diff(source, target) == []
    assert source.server_version and "MariaDB" in source.server_version


async def test_an_index_the_server_made_for_a_foreign_key_is_not_a_difference(
    my_pair: MyPair,
) -> None:
    from schemashift.consumers.comparator.diff import diff

    source, target = await my_pair.load(
        PARENT + "CREATE TABLE c (pid int, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id))",
        PARENT + "CREATE TABLE c (pid int, KEY fk (pid), "
        "CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id))",
    )
    assert diff(source, target) == []
    await migrate(
        my_pair,
        PARENT + "CREATE TABLE c (pid int, CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id))",
        PARENT + "CREATE TABLE c (pid int)",
    )


VIEWS_AND_TRIGGERS: dict[str, tuple[str, str]] = {
    "views over tables and views, with options": (
        "CREATE TABLE u (id int PRIMARY KEY, n varchar(10)); "
        "CREATE SQL SECURITY INVOKER VIEW v AS SELECT u.id AS id, 'x' AS k FROM u "
        "WHERE u.id > 1 WITH CHECK OPTION; CREATE ALGORITHM=MERGE VIEW w AS SELECT id FROM v;",
        "CREATE TABLE u (id int PRIMARY KEY, n varchar(10)); CREATE VIEW v AS SELECT id FROM u; "
        "CREATE VIEW old AS SELECT n FROM u;",
    ),
    "a view over a column whose type changes": (
        "CREATE TABLE u (id int PRIMARY KEY, n varchar(40)); CREATE VIEW v AS SELECT n FROM u;",
        "CREATE TABLE u (id int PRIMARY KEY, n varchar(10)); CREATE VIEW v AS SELECT n FROM u;",
    ),
    "partitioning added, changed and removed": (
        "CREATE TABLE a (id int, y int) PARTITION BY RANGE (y) (PARTITION p1 VALUES LESS THAN "
        "(10), PARTITION pm VALUES LESS THAN MAXVALUE); CREATE TABLE b (id int) PARTITION BY "
        "HASH (id) PARTITIONS 4; CREATE TABLE c (id int) COMMENT='c';",
        "CREATE TABLE a (id int, y int); CREATE TABLE b (id int) PARTITION BY HASH (id) "
        "PARTITIONS 2; CREATE TABLE c (id int) PARTITION BY KEY (id) PARTITIONS 2;",
    ),
    "triggers": (
        "CREATE TABLE t (id int PRIMARY KEY, n varchar(10), at datetime); "
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.at = now(); "
        "SET NEW.n = 'a'; END; "
        "CREATE TRIGGER t_bu BEFORE UPDATE ON t FOR EACH ROW SET NEW.at = now();",
        "CREATE TABLE t (id int PRIMARY KEY, n varchar(10), at datetime); "
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.n = 'b'; "
        "CREATE TRIGGER t_ad AFTER DELETE ON t FOR EACH ROW SET @x = 1;",
    ),
}


@pytest.mark.parametrize("name", list(VIEWS_AND_TRIGGERS))
async def test_views_and_triggers_converge(my_pair: MyPair, name: str) -> None:
    source, target = VIEWS_AND_TRIGGERS[name]
    await migrate(my_pair, source, target)
