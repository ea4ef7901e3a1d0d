"""The SHOW CREATE TABLE cross-check, on rows fed to ``build_catalog``: a table whose text
disagrees with its information_schema rows is refused with the table and the fact named; texts
that agree are read however hostile their names and comments, in MariaDB's and MySQL's
spellings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.comparator.introspect.mysql import build_catalog
from schemashift.consumers.comparator.introspect.mysql_showcreate import (
    KeyPart,
    ShowCreateUnreadable,
    parse,
)
from schemashift.schemas.catalog import Catalog

TABLE = "o`rder, x"
COMMENT = 'it\'s `a` "c", (x) -- ; /* no */'


def _column(name: str, column_type: str, position: int, **fields: Any) -> dict[str, Any]:
    return {
        "TABLE_NAME": TABLE,
        "COLUMN_NAME": name,
        "ORDINAL_POSITION": position,
        "COLUMN_TYPE": column_type,
        "IS_NULLABLE": fields.get("nullable", "YES"),
        "COLUMN_DEFAULT": fields.get("default", "NULL"),
        "EXTRA": fields.get("extra", ""),
        "IS_GENERATED": fields.get("is_generated", "NEVER"),
        "GENERATION_EXPRESSION": fields.get("expression"),
        "CHARACTER_SET_NAME": fields.get("charset"),
        "COLLATION_NAME": fields.get("collation"),
        "COLUMN_COMMENT": fields.get("comment", ""),
    }


def _stat(index: str, column: str | None, seq: int, **fields: Any) -> dict[str, Any]:
    return {
        "TABLE_NAME": TABLE,
        "INDEX_NAME": index,
        "SEQ_IN_INDEX": seq,
        "COLUMN_NAME": column,
        "SUB_PART": fields.get("sub_part"),
        "COLLATION": fields.get("collation", "A"),
        "INDEX_TYPE": fields.get("type", "BTREE"),
        "NON_UNIQUE": fields.get("non_unique", 1),
        "INDEX_COMMENT": fields.get("comment", ""),
        **({"EXPRESSION": fields["expression"]} if "expression" in fields else {}),
    }


SHOW_CREATE = f"""CREATE TABLE `o``rder, x` (
  `id` int(11) NOT NULL AUTO_INCREMENT COMMENT 'it''s `a` "c", (x) -- ; /* no */',
  `na,me` varchar(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT 'a,b)' COMMENT ')',
  `g``v` int(11) GENERATED ALWAYS AS (char_length(`na,me`)) VIRTUAL,
  `s` varchar(5) GENERATED ALWAYS AS (left(`na,me`,5)) STORED,
  `j` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`j`)),
  `e` enum('x,y','it''s') NOT NULL DEFAULT 'x,y',
  PRIMARY KEY (`id`),
  UNIQUE KEY `u``q` (`na,me`(10),`g``v` DESC),
  KEY `p k` (`e`) USING HASH COMMENT 'KEY `fake` (`x`), )',
  FULLTEXT KEY `ft` (`j`),
  CONSTRAINT `f``k` FOREIGN KEY (`id`) REFERENCES `p` (`id`) ON DELETE CASCADE,
  CONSTRAINT `c, 1` CHECK (`id` > 0 and `na,me` <> ')')
) ENGINE=InnoDB AUTO_INCREMENT=1000 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci \
COMMENT='{COMMENT.replace("'", "''")} PARTITION BY HASH (x)'"""


def _rows() -> dict[str, Any]:
    """MariaDB's rows of the table above, as the introspection queries return them."""
    return {
        "tables": [
            {
                "TABLE_NAME": TABLE,
                "TABLE_TYPE": "BASE TABLE",
                "ENGINE": "InnoDB",
                "TABLE_COLLATION": "utf8mb4_general_ci",
                "CREATE_OPTIONS": "",
                "TABLE_COMMENT": COMMENT + " PARTITION BY HASH (x)",
                "CREATE_TABLE": SHOW_CREATE,
            },
            {
                "TABLE_NAME": "p",
                "TABLE_TYPE": "BASE TABLE",
                "ENGINE": "InnoDB",
                "TABLE_COLLATION": "utf8mb4_general_ci",
                "CREATE_OPTIONS": "",
                "TABLE_COMMENT": "",
            },
        ],
        "collations": [
            {"COLLATION_NAME": "utf8mb4_general_ci", "CHARACTER_SET_NAME": "utf8mb4"},
            {"COLLATION_NAME": "latin1_swedish_ci", "CHARACTER_SET_NAME": "latin1"},
            {"COLLATION_NAME": "utf8mb4_bin", "CHARACTER_SET_NAME": "utf8mb4"},
        ],
        "columns": [
            _column(
                "id",
                "int(11)",
                1,
                nullable="NO",
                default=None,
                extra="auto_increment",
                comment=COMMENT,
            ),
            _column(
                "na,me",
                "varchar(20)",
                2,
                default="'a,b)'",
                charset="latin1",
                collation="latin1_swedish_ci",
                comment=")",
            ),
            _column(
                "g`v",
                "int(11)",
                3,
                default=None,
                extra="VIRTUAL GENERATED",
                is_generated="ALWAYS",
                expression="char_length(`na,me`)",
            ),
            _column(
                "s",
                "varchar(5)",
                4,
                default=None,
                extra="STORED GENERATED",
                is_generated="ALWAYS",
                expression="left(`na,me`,5)",
                charset="utf8mb4",
                collation="utf8mb4_general_ci",
            ),
            _column("j", "longtext", 5, charset="utf8mb4", collation="utf8mb4_bin"),
            _column(
                "e",
                "enum('x,y','it''s')",
                6,
                nullable="NO",
                default="'x,y'",
                charset="utf8mb4",
                collation="utf8mb4_general_ci",
            ),
            {**_column("id", "int(11)", 1), "TABLE_NAME": "p", "IS_NULLABLE": "NO"},
        ],
        "statistics": [
            _stat("PRIMARY", "id", 1, non_unique=0),
            _stat("u`q", "na,me", 1, non_unique=0, sub_part=10),
            _stat("u`q", "g`v", 2, non_unique=0, collation="D"),
            _stat("p k", "e", 1, comment="KEY `fake` (`x`), )"),
            _stat("ft", "j", 1, type="FULLTEXT", collation=None),
            {**_stat("PRIMARY", "id", 1, non_unique=0), "TABLE_NAME": "p"},
        ],
        "constraints": [
            {"TABLE_NAME": TABLE, "CONSTRAINT_NAME": "PRIMARY", "CONSTRAINT_TYPE": "PRIMARY KEY"},
            {"TABLE_NAME": TABLE, "CONSTRAINT_NAME": "f`k", "CONSTRAINT_TYPE": "FOREIGN KEY"},
            {"TABLE_NAME": TABLE, "CONSTRAINT_NAME": "c, 1", "CONSTRAINT_TYPE": "CHECK"},
            {"TABLE_NAME": TABLE, "CONSTRAINT_NAME": "j", "CONSTRAINT_TYPE": "CHECK"},
        ],
        "key_columns": [
            {
                "TABLE_NAME": TABLE,
                "CONSTRAINT_NAME": "f`k",
                "COLUMN_NAME": "id",
                "REFERENCED_TABLE_SCHEMA": "db",
                "REFERENCED_TABLE_NAME": "p",
                "REFERENCED_COLUMN_NAME": "id",
            }
        ],
        "referential": [
            {
                "TABLE_NAME": TABLE,
                "CONSTRAINT_NAME": "f`k",
                "UPDATE_RULE": "RESTRICT",
                "DELETE_RULE": "CASCADE",
            }
        ],
        "checks": [
            {
                "TABLE_NAME": TABLE,
                "CONSTRAINT_NAME": "c, 1",
                "CHECK_CLAUSE": "`id` > 0 and `na,me` <> ')'",
                "LEVEL": "Table",
            },
            {
                "TABLE_NAME": TABLE,
                "CONSTRAINT_NAME": "j",
                "CHECK_CLAUSE": "json_valid(`j`)",
                "LEVEL": "Column",
            },
        ],
    }


def _build(rows: dict[str, Any], **fields: Any) -> Catalog:
    return build_catalog(
        version=fields.pop("version", "10.11.19-MariaDB"),
        database="db",
        mariadb=fields.pop("mariadb", True),
        **rows,
        **fields,
    )


def _with_text(old: str, new: str, rows: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = copy.deepcopy(rows or _rows())
    text = rows["tables"][0]["CREATE_TABLE"]
    assert old in text, old
    rows["tables"][0]["CREATE_TABLE"] = text.replace(old, new, 1)
    return rows


def test_a_table_whose_texts_agree_is_read_with_its_counter() -> None:
    catalog = _build(_rows())
    table = catalog.tables[0]
    assert table.name == TABLE and table.auto_increment == 1000
    assert [c.name for c in table.columns] == ["id", "na,me", "g`v", "s", "j", "e"]
    assert not any(o.startswith("PARTITION BY") for o in table.options)  # only in the comment
    assert catalog.tables[1].auto_increment is None  # no text: nothing to check or to read


DISAGREEMENTS = {
    "a column missing": (
        "  `s` varchar(5) GENERATED ALWAYS AS (left(`na,me`,5)) STORED,\n",
        "",
        "the columns (information_schema: id, na,me, g`v, s, j, e; "
        "SHOW CREATE TABLE: id, na,me, g`v, j, e)",
    ),
    "columns in another order": (
        "  `j` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK "
        "(json_valid(`j`)),\n  `e` enum('x,y','it''s') NOT NULL DEFAULT 'x,y',\n",
        "  `e` enum('x,y','it''s') NOT NULL DEFAULT 'x,y',\n  `j` longtext CHARACTER SET "
        "utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`j`)),\n",
        "the columns (information_schema: id, na,me, g`v, s, j, e; "
        "SHOW CREATE TABLE: id, na,me, g`v, s, e, j)",
    ),
    "a column's type": (
        "`na,me` varchar(20)",
        "`na,me` varchar(30)",
        "the type of column na,me (information_schema: varchar(20); "
        "SHOW CREATE TABLE: varchar(30))",
    ),
    "an enum's members": (
        "enum('x,y','it''s')",
        "enum('x,y','its')",
        "the type of column e (information_schema: enum('x,y','it''s'); "
        "SHOW CREATE TABLE: enum('x,y','its'))",
    ),
    "NOT NULL": (
        "`e` enum('x,y','it''s') NOT NULL",
        "`e` enum('x,y','it''s')",
        "whether column e is NOT NULL (information_schema: yes; SHOW CREATE TABLE: no)",
    ),
    "a generated column shown plain": (
        "`g``v` int(11) GENERATED ALWAYS AS (char_length(`na,me`)) VIRTUAL",
        "`g``v` int(11) DEFAULT NULL",
        "whether column g`v is generated (information_schema: virtual; SHOW CREATE TABLE: no)",
    ),
    "a stored column shown virtual": (
        "(left(`na,me`,5)) STORED",
        "(left(`na,me`,5)) VIRTUAL",
        "whether column s is generated (information_schema: stored; SHOW CREATE TABLE: virtual)",
    ),
    "the primary key's columns": (
        "PRIMARY KEY (`id`)",
        "PRIMARY KEY (`id`,`e`)",
        "the parts of index PRIMARY (information_schema: (id); SHOW CREATE TABLE: (id, e))",
    ),
    "an index's name": (
        "KEY `p k` (`e`)",
        "KEY `pk` (`e`)",
        "the keys and indexes (information_schema: PRIMARY, ft, p k, u`q; "
        "SHOW CREATE TABLE: PRIMARY, ft, pk, u`q)",
    ),
    "an index's prefix": (
        "(`na,me`(10),",
        "(`na,me`(12),",
        "the parts of index u`q (information_schema: (na,me(10), g`v DESC); "
        "SHOW CREATE TABLE: (na,me(12), g`v DESC))",
    ),
    "an index's order": (
        "`g``v` DESC)",
        "`g``v`)",
        "the parts of index u`q (information_schema: (na,me(10), g`v DESC); "
        "SHOW CREATE TABLE: (na,me(10), g`v))",
    ),
    "an index's kind": (
        "UNIQUE KEY `u``q`",
        "KEY `u``q`",
        "the kind of index u`q (information_schema: unique; SHOW CREATE TABLE: plain)",
    ),
    "a foreign key's name": (
        "CONSTRAINT `f``k` FOREIGN KEY",
        "CONSTRAINT `fk` FOREIGN KEY",
        "the foreign keys (information_schema: f`k; SHOW CREATE TABLE: fk)",
    ),
    "a foreign key's referenced table": (
        "REFERENCES `p` (`id`)",
        "REFERENCES `q` (`id`)",
        "foreign key f`k (information_schema: (id) references p (id); "
        "SHOW CREATE TABLE: (id) references q (id))",
    ),
    "a check's name": (
        "CONSTRAINT `c, 1` CHECK",
        "CONSTRAINT `c1` CHECK",
        "the checks (information_schema: c, 1; SHOW CREATE TABLE: c1)",
    ),
    "a column-level check": (
        " CHECK (json_valid(`j`))",
        "",
        "the columns with a check of their own (information_schema: j; SHOW CREATE TABLE: none)",
    ),
    "partitioning that information_schema does not state": (
        "COMMENT='it''s",
        "PARTITION BY HASH (`id`) PARTITIONS 2 COMMENT='it''s",
        "whether the table is partitioned (information_schema: no; SHOW CREATE TABLE: yes)",
    ),
}


@pytest.mark.parametrize("case", list(DISAGREEMENTS))
def test_a_disagreeing_table_is_refused_with_the_fact(case: str) -> None:
    old, new, fact = DISAGREEMENTS[case]
    with pytest.raises(IntrospectionError) as raised:
        _build(_with_text(old, new))
    reason = raised.value.reason
    assert reason.startswith(f"cannot read table {TABLE}: SHOW CREATE TABLE and "), reason
    assert fact in reason, reason
    assert reason.endswith("refusing to guess which is right")


def test_an_unreadable_text_is_refused() -> None:
    rows = _with_text("HASH (x)'", "HASH (x)")  # the comment's quote never ends
    with pytest.raises(IntrospectionError, match=rf"cannot read table {TABLE}: its SHOW CREATE"):
        _build(rows)


PARTITIONED = """CREATE TABLE `o``rder, x` (
  `id` int(11) NOT NULL,
  `y` int(11) NOT NULL,
  PRIMARY KEY (`id`,`y`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
 PARTITION BY RANGE  COLUMNS(`y`)
SUBPARTITION BY HASH (`id`)
SUBPARTITIONS 2
(PARTITION `p 1` VALUES LESS THAN (10) COMMENT = 'a)b, PARTITION `x`' ENGINE = InnoDB,
 PARTITION `pm` VALUES LESS THAN (MAXVALUE) ENGINE = InnoDB)"""


def _partitioned(text: str = PARTITIONED) -> dict[str, Any]:
    rows = _rows()
    rows["tables"] = [
        {
            **rows["tables"][0],
            "CREATE_OPTIONS": "partitioned",
            "TABLE_COMMENT": "",
            "CREATE_TABLE": text,
        }
    ]
    rows["columns"] = [
        _column("id", "int(11)", 1, nullable="NO", default=None),
        _column("y", "int(11)", 2, nullable="NO", default=None),
    ]
    rows["statistics"] = [
        _stat("PRIMARY", "id", 1, non_unique=0),
        _stat("PRIMARY", "y", 2, non_unique=0),
    ]
    rows["constraints"] = rows["key_columns"] = rows["referential"] = rows["checks"] = []
    rows["tables"][0]["PARTITION_ROWS"] = [
        {
            "TABLE_NAME": TABLE,
            "PARTITION_NAME": name,
            "PARTITION_METHOD": "RANGE COLUMNS",
            "PARTITION_EXPRESSION": "`y`",
            "SUBPARTITION_METHOD": "HASH",
            "SUBPARTITION_EXPRESSION": "`id`",
        }
        for name in ("p 1", "p 1", "pm", "pm")
    ]
    return rows


def test_a_partitioned_table_is_read_whole() -> None:
    (table,) = _build(_partitioned()).tables
    assert "PARTITION BY=RANGE COLUMNS(`y`) SUBPARTITION BY HASH (`id`) SUBPARTITIONS 2 (" in (
        " ".join(table.options)
    )


@pytest.mark.parametrize(
    ("old", "new", "fact"),
    [
        ("RANGE  COLUMNS(`y`)", "LIST  COLUMNS(`y`)", "the partitioning method (information"),
        ("COLUMNS(`y`)", "COLUMNS(`id`)", "the partitioning expression (information_schema: `y`"),
        (" PARTITION `pm`", " PARTITION `pz`", "the partitions (information_schema: p 1, pm;"),
        ("SUBPARTITION BY HASH (`id`)\n", "", "the subpartitioning method (information_schema"),
        ("HASH (`id`)", "HASH (`y`)", "the subpartitioning expression (information_schema"),
    ],
)
def test_a_partitioning_that_disagrees_is_refused(old: str, new: str, fact: str) -> None:
    with pytest.raises(IntrospectionError, match=r"cannot read table o`rder, x") as raised:
        _build(_partitioned(PARTITIONED.replace(old, new, 1)))
    assert fact in raised.value.reason


def test_a_hash_partitioning_is_counted() -> None:
    text = PARTITIONED.split(" PARTITION BY")[0] + "\n PARTITION BY HASH (`id`)\nPARTITIONS 3"
    rows = _partitioned(text)
    rows["tables"][0]["PARTITION_ROWS"] = [
        {
            "TABLE_NAME": TABLE,
            "PARTITION_NAME": f"p{i}",
            "PARTITION_METHOD": "HASH",
            "PARTITION_EXPRESSION": "`id`",
        }
        for i in range(3)
    ]
    assert _build(rows).tables
    rows["tables"][0]["PARTITION_ROWS"].pop()
    with pytest.raises(IntrospectionError, match=r"the number of partitions \(information_sch"):
        _build(rows)


MYSQL_SHOW_CREATE = """CREATE TABLE `o``rder, x` (
  `id` int NOT NULL,
  `a` int DEFAULT NULL /*!80023 INVISIBLE */,
  `t` timestamp NULL DEFAULT CURRENT_TIMESTAMP,
  `u` varchar(36) DEFAULT (uuid()),
  `p` point NOT NULL /*!80003 SRID 4326 */,
  PRIMARY KEY (`id`),
  KEY `f` (((`a` + 1)) DESC),
  CONSTRAINT `t_chk_1` CHECK ((`a` > 0)) /*!80016 NOT ENFORCED */
) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci
/*!50100 PARTITION BY HASH (`id`)
PARTITIONS 2 */"""


def test_mysql_spellings_agree() -> None:
    """Version comments, functional index parts, expression defaults (DEFAULT_GENERATED,
    which is no generated column) and checks without a level, as MySQL 8 writes them."""
    rows = _rows()
    rows["tables"] = [
        {
            **rows["tables"][0],
            "CREATE_OPTIONS": "partitioned",
            "TABLE_COMMENT": "",
            "TABLE_COLLATION": "utf8mb4_0900_ai_ci",
            "CREATE_TABLE": MYSQL_SHOW_CREATE,
            "PARTITION_ROWS": [
                {
                    "TABLE_NAME": TABLE,
                    "PARTITION_NAME": f"p{i}",
                    "PARTITION_METHOD": "HASH",
                    "PARTITION_EXPRESSION": "`id`",
                }
                for i in range(2)
            ],
        }
    ]
    rows["collations"].append(
        {"COLLATION_NAME": "utf8mb4_0900_ai_ci", "CHARACTER_SET_NAME": "utf8mb4"}
    )
    rows["columns"] = [
        _column("id", "int", 1, nullable="NO", default=None),
        _column("a", "int", 2, default=None, extra="INVISIBLE"),
        _column("t", "timestamp", 3, default="CURRENT_TIMESTAMP", extra="DEFAULT_GENERATED"),
        _column(
            "u",
            "varchar(36)",
            4,
            default="uuid()",
            extra="DEFAULT_GENERATED",
            charset="utf8mb4",
            collation="utf8mb4_0900_ai_ci",
        ),
        _column("p", "point", 5, nullable="NO", default=None),
    ]
    for c in rows["columns"]:
        del c["IS_GENERATED"]  # MySQL has no such column
        c["GENERATION_EXPRESSION"] = ""
    rows["statistics"] = [
        _stat("PRIMARY", "id", 1, non_unique=0),
        _stat("f", None, 1, collation="D", expression="(`a` + 1)"),
    ]
    rows["constraints"] = [
        {
            "TABLE_NAME": TABLE,
            "CONSTRAINT_NAME": "t_chk_1",
            "CONSTRAINT_TYPE": "CHECK",
            "ENFORCED": "NO",
        }
    ]
    rows["checks"] = [{"CONSTRAINT_NAME": "t_chk_1", "CHECK_CLAUSE": "(`a` > 0)"}]
    rows["key_columns"] = rows["referential"] = []
    (table,) = _build(rows, version="8.0.36", mariadb=False).tables
    assert table.auto_increment == 7
    assert "PARTITION BY=HASH (`id`) PARTITIONS 2" in table.options
    columns = {c.name: c for c in table.columns}
    assert columns["t"].generated is None and columns["t"].default == "current_timestamp()"
    assert columns["u"].generated is None and columns["u"].default == "uuid()"
    # The functional part is one expression, DESC, on either side.
    with pytest.raises(IntrospectionError, match=r"index f \(information_schema: \(\(expr"):
        _build(_with_text("((`a` + 1)) DESC", "(`a`)", rows), version="8.0.36", mariadb=False)


def test_ansi_quotes_and_no_backslash_escapes() -> None:
    text = SHOW_CREATE.replace("`o``rder, x`", '"o`rder, x"').replace(
        "`g``v` int(11) GENERATED", '"g`v" int(11) GENERATED'
    )
    assert _build(_with_text(SHOW_CREATE, text)).tables[0].name == TABLE
    # Without backslash escapes, a backslash before a quote ends nothing.
    rows = _with_text("COMMENT ')'", "COMMENT ')\\'")
    rows["columns"][1]["COLUMN_COMMENT"] = ")\\"
    assert _build(rows, sql_mode="STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES").tables
    with pytest.raises(IntrospectionError, match=r"cannot read table o`rder, x: SHOW CREATE"):
        _build(rows)  # read with escapes, the comment swallows the rest: refused, not guessed


def test_the_parser_reads_key_parts_and_comments() -> None:
    shown = parse(SHOW_CREATE)
    assert [i.name for i in shown.indexes] == ["PRIMARY", "u`q", "p k", "ft"]
    assert shown.indexes[1].parts == (
        KeyPart(column="na,me", length=10, descending=False),
        KeyPart(column="g`v", length=None, descending=True),
    )
    assert shown.foreign_keys == {"f`k": (("id",), "p", ("id",))}
    assert shown.checks == ("c, 1",) and shown.partitioning is None
    assert shown.auto_increment == 1000
    with pytest.raises(ShowCreateUnreadable):
        parse("CREATE VIEW `v` AS SELECT 1")


async def test_the_comparator_fails_the_migration_with_the_reason(monkeypatch) -> None:
    """A refused table is a failed migration (not a crash, not a guess), with the reason."""
    import uuid

    from schemashift.consumers.comparator import app
    from schemashift.schemas.events import (
        ComparisonRequested,
        Event,
        EventType,
        MigrationFailed,
        Stage,
    )

    async def resolve_all(engine: object, names: list[str]) -> list[str]:
        return [f"mariadb://user@db.example/{name}" for name in names]

    async def introspect(url: str, **_: object) -> Catalog:
        return _build(_with_text("`na,me` varchar(20)", "`na,me` varchar(30)"))

    monkeypatch.setattr(app.connections, "resolve_all", resolve_all)
    monkeypatch.setattr(app, "introspect", introspect)
    monkeypatch.setattr(app.role, "_engine", object())  # resolve_all() above reads no database
    requested = Event(
        type=EventType.COMPARISON_REQUESTED,
        migration_id=uuid.uuid4(),
        target="prod",
        payload=ComparisonRequested(source="dev", target="prod"),
    )
    outcome = (await app.compare(requested)).payload
    assert isinstance(outcome, MigrationFailed) and outcome.stage is Stage.COMPARE
    assert outcome.reason.startswith(f"cannot read table {TABLE}: SHOW CREATE TABLE and ")
    assert "the type of column na,me" in outcome.reason
