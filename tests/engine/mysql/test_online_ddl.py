"""Online DDL on the server: every ALGORITHM the renderer claims is run on MariaDB on a table
with rows (the forward script and the reverse one, through the executor's apply path), and a
change the server can only make by copying the table gets no clause and says table_rewrite.
Each case names the clause of its forward ALTER TABLE (None: no clause) and the hazards it
must and must not carry."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from schemashift.schemas.hazards import Hazard
from tests.support.mysql_engine import MyPair, migrate

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

H = Hazard
INSTANT = "ALGORITHM=INSTANT"
INPLACE = "ALGORITHM=INPLACE, LOCK=NONE"
ROWS = "; INSERT INTO t (id) SELECT seq FROM seq_1_to_300"
LOCKS = {H.LONG_LOCK, H.INDEX_BUILD}


@dataclass
class Case:
    source: str
    target: str
    clause: str | None
    has: set[Hazard] = field(default_factory=set)
    lacks: set[Hazard] = field(default_factory=set)


BASE = "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20), c text{}){}"


def t(extra: str = "", options: str = "") -> str:
    return BASE.format(extra, options)


CASES: dict[str, Case] = {
    # ALGORITHM=INSTANT
    "add columns": Case(
        t(", d varchar(20) NOT NULL DEFAULT 'x', e json, f timestamp NULL DEFAULT now()"),
        t(),
        INSTANT,
        lacks={H.TABLE_REWRITE, *LOCKS},
    ),
    "add a virtual column alone": Case(
        t(", v int AS (a * 2) VIRTUAL"), t(), INSTANT, lacks={H.TABLE_REWRITE}
    ),
    "drop unindexed columns": Case(
        "CREATE TABLE t (id int PRIMARY KEY, c text)",
        t(),
        INSTANT,
        has={H.DATA_LOSS},
        lacks={H.TABLE_REWRITE, *LOCKS},
    ),
    "a stored generated column dropped": Case(t(), t(", s int AS (a + 1) STORED"), INSTANT),
    "a virtual column dropped alone": Case(t(), t(", v int AS (a + 1) VIRTUAL"), INSTANT),
    "defaults, comments and ON UPDATE": Case(
        "CREATE TABLE t (id int PRIMARY KEY, a int DEFAULT 7 COMMENT 'seven', b varchar(20), "
        "c text, u timestamp NULL ON UPDATE current_timestamp())",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20) DEFAULT 'x', c text, "
        "u timestamp NULL)",
        INSTANT,
        lacks={H.TABLE_REWRITE},
    ),
    "a varchar widened in its length bytes": Case(
        t().replace("b varchar(20)", "b varchar(60)"), t(), INSTANT, lacks={H.TABLE_REWRITE}
    ),
    "a varchar of up to 127 bytes widened past 255": Case(
        t().replace("b varchar(20)", "b varchar(300)"),
        t().replace("b varchar(20)", "b varchar(31)"),
        INSTANT,
    ),
    "a latin1 varchar widened": Case(
        t().replace("b varchar(20)", "b varchar(255) CHARACTER SET latin1"),
        t().replace("b varchar(20)", "b varchar(200) CHARACTER SET latin1"),
        INSTANT,
    ),
    "a varbinary widened": Case(
        t(", x varbinary(255)"), t(", x varbinary(100)"), INSTANT, lacks={H.TABLE_REWRITE}
    ),
    "an indexed varchar widened": Case(
        t(", KEY kb (b)").replace("b varchar(20)", "b varchar(50)"), t(", KEY kb (b)"), INSTANT
    ),
    "a varchar widened with a new default": Case(
        t().replace("b varchar(20)", "b varchar(50) DEFAULT 'q'"), t(), INSTANT
    ),
    "comments on AUTO_INCREMENT, virtual and foreign key columns": Case(
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY "
        "COMMENT 'k', a int COMMENT 'fk', v int AS (a + 1) VIRTUAL COMMENT 'v', "
        "CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id))",
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, "
        "a int, v int AS (a + 1) VIRTUAL, CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id))",
        INSTANT,
    ),
    "statistics options and the default character set": Case(
        t(options=" STATS_PERSISTENT=1 DEFAULT CHARSET=latin1"),
        t()
        .replace("b varchar(20)", "b varchar(20) CHARACTER SET latin1")
        .replace("c text", "c text CHARACTER SET latin1"),
        INSTANT,
    ),
    "enum and set members appended": Case(
        t(", e enum('x','y','z') DEFAULT 'z', s set('p','q','r')"),
        t(", e enum('x','y'), s set('p','q')"),
        INSTANT,
        lacks={H.TABLE_REWRITE},
    ),
    "table comment and counter": Case(
        "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, a int, b varchar(20), c text) "
        "COMMENT='the t' AUTO_INCREMENT=5000",
        "CREATE TABLE t (id int AUTO_INCREMENT PRIMARY KEY, a int, b varchar(20), c text)",
        INSTANT,
    ),
    "a check dropped": Case(t(), t(", CONSTRAINT ck CHECK (a >= 0)"), INSTANT),
    "an index ignored": Case(t(", KEY ka (a) IGNORED"), t(", KEY ka (a)"), INSTANT),
    "a column added to a partitioned table": Case(
        "CREATE TABLE t (id int PRIMARY KEY, a int, k int) PARTITION BY HASH (id) PARTITIONS 3",
        "CREATE TABLE t (id int PRIMARY KEY, a int) PARTITION BY HASH (id) PARTITIONS 3",
        INSTANT,
    ),
    "a column added beside a SPATIAL index": Case(
        "CREATE TABLE t (id int PRIMARY KEY, p point NOT NULL, a int, SPATIAL KEY sp (p))",
        "CREATE TABLE t (id int PRIMARY KEY, p point NOT NULL, SPATIAL KEY sp (p)); "
        "INSERT INTO t SELECT seq, point(seq, seq) FROM seq_1_to_300",
        INSTANT,
    ),
    # ALGORITHM=INPLACE, LOCK=NONE without a rebuild
    "indexes added": Case(
        t(", UNIQUE KEY ua (a), KEY kb (b(10) DESC) COMMENT 'by b', KEY kc (c(20))"),
        t(),
        INPLACE,
        has={H.NEEDS_VALIDATION},
        lacks={H.TABLE_REWRITE, *LOCKS},
    ),
    "an index over a virtual column": Case(
        t(", v int AS (a + 1) VIRTUAL, KEY kv (v)"), t(", v int AS (a + 1) VIRTUAL"), INPLACE
    ),
    "indexes dropped, one of them FULLTEXT": Case(
        t(), t(", KEY ka (a), FULLTEXT KEY ft (c)"), INPLACE, lacks={H.TABLE_REWRITE}
    ),
    "an index added to a FULLTEXT table": Case(
        t(", FULLTEXT KEY ft (c), KEY ka (a)"), t(", FULLTEXT KEY ft (c)"), INPLACE
    ),
    "an index added to a partitioned table": Case(
        "CREATE TABLE t (id int PRIMARY KEY, a int, KEY ka (a)) PARTITION BY KEY () PARTITIONS 2",
        "CREATE TABLE t (id int PRIMARY KEY, a int) PARTITION BY KEY () PARTITIONS 2",
        INPLACE,
    ),
    "a foreign key's index, then the key": Case(
        "CREATE TABLE p (id int PRIMARY KEY); "
        + t(", CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id)"),
        "CREATE TABLE p (id int PRIMARY KEY); " + t(),
        INPLACE,  # the index; the foreign key itself is added by a copy (checked below)
    ),
    # ALGORITHM=INPLACE, LOCK=NONE rebuilding the table
    "a column added with an index": Case(
        t(", d int, KEY kd (d)"), t(), INPLACE, has={H.TABLE_REWRITE}, lacks=LOCKS
    ),
    "NOT NULL with a constant default, and NULL again": Case(
        t()
        .replace("a int", "a int NOT NULL DEFAULT 0")
        .replace("b varchar(20)", "b varchar(20) NULL"),
        t().replace("b varchar(20)", "b varchar(20) NOT NULL DEFAULT ''")
        + ROWS.replace("(id)", "(id, a)").replace("seq FROM", "seq, 1 FROM"),
        INPLACE,
        has={H.TABLE_REWRITE, H.NEEDS_VALIDATION},
        lacks=LOCKS,
    ),
    "a primary key added": Case(
        t(),
        "CREATE TABLE t (id int NOT NULL, a int, b varchar(20), c text)",
        INPLACE,
        has={H.TABLE_REWRITE, H.NEEDS_VALIDATION},
        lacks=LOCKS,
    ),
    "a primary key moved": Case(
        "CREATE TABLE t (id int NOT NULL, a int NOT NULL DEFAULT 0, b varchar(20), c text, "
        "PRIMARY KEY (id, a))",
        "CREATE TABLE t (id int NOT NULL, a int NOT NULL DEFAULT 0, b varchar(20), c text, "
        "PRIMARY KEY (id))",
        INPLACE,
        has={H.TABLE_REWRITE},
        lacks=LOCKS,
    ),
    "an indexed column dropped": Case(
        "CREATE TABLE t (id int PRIMARY KEY, b varchar(20), c text, KEY kb (b))",
        t(", KEY kab (a, b), KEY kb (b)"),
        INPLACE,
        has={H.TABLE_REWRITE, H.DATA_LOSS},
        lacks=LOCKS,
    ),
    "a new row format": Case(
        t(options=" ROW_FORMAT=COMPACT"),
        t(options=" ROW_FORMAT=DYNAMIC"),
        INPLACE,
        {H.TABLE_REWRITE},
    ),
    "the row format back to the default": Case(
        t(), t(options=" ROW_FORMAT=COMPACT"), INPLACE, has={H.TABLE_REWRITE}
    ),
    "a new key block size": Case(
        t(options=" ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=4"),
        t(options=" ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8"),
        INPLACE,
        has={H.TABLE_REWRITE},
    ),
    "a column added to a compressed table": Case(
        t(", d int", " ROW_FORMAT=COMPRESSED"),
        t(options=" ROW_FORMAT=COMPRESSED"),
        INPLACE,
        has={H.TABLE_REWRITE},
        lacks=LOCKS,
    ),
    # No clause: the server copies the table (or is not known to do better)
    "a wider integer": Case(
        t().replace("a int", "a bigint"), t(), None, {H.TABLE_REWRITE, H.LONG_LOCK}
    ),
    "a stored generated column": Case(
        t(", s int AS (a + 1) STORED"), t(), None, {H.TABLE_REWRITE, H.LONG_LOCK}
    ),
    "a check added": Case(
        t(", CONSTRAINT ck CHECK (id > 0)"), t(), None, {H.TABLE_REWRITE, H.NEEDS_VALIDATION}
    ),
    "another engine": Case(t(options=" ENGINE=MyISAM"), t(), None, {H.TABLE_REWRITE}),
    "the primary key dropped": Case(
        "CREATE TABLE t (id int NOT NULL, a int, b varchar(20), c text)",
        t(),
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
    "a column added to a FULLTEXT table": Case(
        t(", d int, FULLTEXT KEY ft (c)"),
        t(", FULLTEXT KEY ft (c)"),
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
    "a column dropped from a FULLTEXT table": Case(
        "CREATE TABLE t (id int PRIMARY KEY, b varchar(20), c text, FULLTEXT KEY ft (c))",
        t(", FULLTEXT KEY ft (c)"),
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
    "a primary key added to a FULLTEXT table": Case(
        t(", FULLTEXT KEY ft (c)"),
        "CREATE TABLE t (id int NOT NULL, a int, b varchar(20), c text, FULLTEXT KEY ft (c))",
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
    "a FULLTEXT index added": Case(
        t(", FULLTEXT KEY ft (c)"), t(), None, {H.TABLE_REWRITE, H.LONG_LOCK}
    ),
    "a column added to a MyISAM table": Case(
        t(", d int", " ENGINE=MyISAM"),
        t(options=" ENGINE=MyISAM"),
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
    "a varchar widened past its length bytes": Case(
        t().replace("b varchar(20)", "b varchar(70)"),
        t().replace("b varchar(20)", "b varchar(60)"),
        None,
        {H.TABLE_REWRITE},
    ),
    "a virtual column with other changes": Case(
        t(", v int AS (a * 2) VIRTUAL, d int"), t(), None, {H.TABLE_REWRITE}
    ),
    "NOT NULL with an expression default": Case(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20), c text, "
        "ts timestamp NOT NULL DEFAULT current_timestamp())",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20), c text, ts timestamp NULL)",
        None,
        {H.TABLE_REWRITE},
    ),
    "a column added beside an indexed virtual column": Case(
        t(", v int AS (a + 1) VIRTUAL, d int, KEY kv (v)"),
        t(", v int AS (a + 1) VIRTUAL, KEY kv (v)"),
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
    "a column dropped beside an indexed virtual column": Case(
        "CREATE TABLE t (id int PRIMARY KEY, a int, c text, v int AS (a + 1) VIRTUAL, KEY kv (v))",
        "CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(20), c text, "
        "v int AS (a + 1) VIRTUAL, KEY kv (v))",
        None,
        {H.TABLE_REWRITE, H.LONG_LOCK},
    ),
}


def _with_rows(sql: str) -> str:
    return sql if "INSERT" in sql else sql + ROWS


@pytest.mark.parametrize("name", list(CASES))
async def test_online_ddl(my_pair: MyPair, name: str) -> None:
    case = CASES[name]
    script = await migrate(my_pair, case.source, _with_rows(case.target))
    altered = [s for s in script.statements if s.sql.startswith("ALTER TABLE t\n")]
    assert altered, script.sql()
    main = altered[0]
    clause = next((c for c in (INSTANT, INPLACE) if main.sql.endswith(f"{c};")), None)
    assert clause == case.clause, main.sql
    assert case.has <= set(main.hazards), (main.hazards, main.sql)
    assert not case.lacks & set(main.hazards), (main.hazards, main.sql)


async def test_a_foreign_key_is_added_by_a_copy_and_dropped_instantly(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        *(
            CASES["a foreign key's index, then the key"].source,
            _with_rows(CASES["a foreign key's index, then the key"].target),
        ),
    )
    added = script.statements[-1]
    assert added.sql.startswith("ALTER TABLE t\n    ADD CONSTRAINT fk FOREIGN KEY")
    assert "ALGORITHM" not in added.sql and H.TABLE_REWRITE in added.hazards
    dropped = next(s for s in script.reverse_statements if "DROP FOREIGN KEY" in s.sql)
    assert dropped.sql.endswith(f"{INSTANT};")
