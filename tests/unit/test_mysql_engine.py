"""The MySQL dialect's rules and renderer without a server: narrowing type changes, the
version rules, one ALTER TABLE per table with its clauses in dependency order."""

from __future__ import annotations

import random
import re
from datetime import datetime

import pytest

from schemashift.consumers.common.drivers import IntrospectionError
from schemashift.consumers.comparator.compare.common import UnsupportedByTarget
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql_events import build_events
from schemashift.consumers.comparator.introspect.mysql_routines import (
    aggregate_candidates,
    build_routines,
    is_aggregate,
)
from schemashift.consumers.comparator.rules.mysql import check_versions, comparable
from schemashift.consumers.comparator.rules.mysql_triggers import follows
from schemashift.consumers.generator.render import generate, renderer_for
from schemashift.consumers.generator.render.mysql.script import compound, delimiter_for
from schemashift.consumers.generator.render.mysql.tables import (
    alter_options,
    column_definition,
    narrows,
)
from schemashift.schemas.catalog import (
    Catalog,
    Column,
    ForeignKey,
    Function,
    Index,
    PrimaryKey,
    ScheduledEvent,
    Table,
    Trigger,
    View,
)
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import Statement

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


# --- trigger order -------------------------------------------------------------------------


def _with(catalog: Catalog, **fields: object) -> Catalog:
    return catalog.model_copy(update=fields)


TRIGGER_TABLE = _table("db", "t", Column(name="a", type="int(11)"))


def _chain(order: list[str], bodies: dict[str, int]) -> list[Trigger]:
    """Triggers of t, BEFORE INSERT, in ``order``, as the introspector writes them."""
    out = []
    for i, name in enumerate(order):
        follows = f"FOLLOWS `{order[i - 1]}` " if i else ""
        out.append(
            Trigger(
                schema_name="db",
                table="t",
                name=name,
                definition=f"BEFORE INSERT ON `t` FOR EACH ROW {follows}SET NEW.a = {bodies[name]}",
                function=[],
            )
        )
    return out


_DROP = re.compile(r"DROP TRIGGER (\w+);")
_CREATE = re.compile(
    r"CREATE TRIGGER (\w+) BEFORE INSERT ON `t` FOR EACH ROW (?:FOLLOWS `(\w+)` )?(.*);"
)


def _run(group: list[tuple[str, str]], statements: list) -> list[tuple[str, str]]:
    """The server's list of (trigger, body) after ``statements``: a trigger without FOLLOWS
    goes last, one with FOLLOWS right after that one (which must exist)."""
    group = list(group)
    for statement in statements:
        if dropped := _DROP.fullmatch(statement.sql):
            group = [g for g in group if g[0] != dropped.group(1)]
            continue
        created = _CREATE.fullmatch(statement.sql)
        assert created, statement.sql
        name, follows, body = created.groups()
        assert name not in [g[0] for g in group], f"{name} exists"
        if follows is None:
            group.append((name, body))
        else:
            at = [g[0] for g in group].index(follows)  # ValueError: it does not exist
            group.insert(at + 1, (name, body))
    return group


def _body_of(trigger: Trigger) -> str:
    return trigger.definition.split("FOR EACH ROW ", 1)[1].removeprefix(
        f"FOLLOWS `{follows(trigger)}` " if follows(trigger) else ""
    )


@pytest.mark.parametrize("seed", range(40))
def test_triggers_end_in_the_sources_order_both_ways(seed: int) -> None:
    """Random orders and bodies on both sides: the script, run on a model of the server's
    trigger list, leaves the source's order, and the reverse script the target's."""
    rng = random.Random(seed)
    names = ["a", "b", "c", "d", "e"]
    old = rng.sample(names, rng.randint(0, 5))
    new = rng.sample(names, rng.randint(1, 5))
    old_bodies = {n: rng.randint(1, 2) for n in names}
    new_bodies = {n: old_bodies[n] if rng.random() < 0.7 else 3 for n in names}
    target = _with(_catalog("db", TRIGGER_TABLE), triggers=_chain(old, old_bodies))
    source = _with(_catalog("db", TRIGGER_TABLE), triggers=_chain(new, new_bodies))
    script = generate(diff(source, target), Dialect.MYSQL)
    before = [(t.name, _body_of(t)) for t in target.triggers]
    after = [(t.name, _body_of(t)) for t in source.triggers]
    assert _run(before, script.statements) == after, (old, new)
    assert _run(after, script.reverse_statements) == before, (old, new)


def test_triggers_kept_at_the_start_are_left_alone() -> None:
    bodies = {"a": 1, "b": 1, "c": 1}
    target = _with(_catalog("db", TRIGGER_TABLE), triggers=_chain(["a", "b", "c"], bodies))
    source = _with(
        _catalog("db", TRIGGER_TABLE), triggers=_chain(["a", "b", "c"], {**bodies, "c": 2})
    )
    ops = diff(source, target)
    assert [(o.label, o.name) for o in ops] == [("drop_trigger", "c"), ("create_trigger", "c")]
    assert diff(source, _with(source, triggers=list(reversed(source.triggers)))) == []


def test_several_triggers_of_one_event_need_a_version_that_orders_them() -> None:
    bodies = {"a": 1, "b": 1}
    source = _with(_catalog("db", TRIGGER_TABLE), triggers=_chain(["a", "b"], bodies))
    old = _with(_catalog("db", TRIGGER_TABLE, version="10.2.2-MariaDB"), triggers=[])
    with pytest.raises(UnsupportedByTarget, match=r"several triggers.*MariaDB 10\.2\.3"):
        diff(source, old)
    assert len(diff(source, _with(old, server_version="10.2.3-MariaDB"))) == 2


# --- routines ------------------------------------------------------------------------------

COLLATIONS = [
    {"COLLATION_NAME": "utf8mb4_general_ci", "CHARACTER_SET_NAME": "utf8mb4", "IS_DEFAULT": "Yes"},
    {"COLLATION_NAME": "utf8mb4_bin", "CHARACTER_SET_NAME": "utf8mb4", "IS_DEFAULT": ""},
    {"COLLATION_NAME": "latin1_swedish_ci", "CHARACTER_SET_NAME": "latin1", "IS_DEFAULT": "Yes"},
]


def _routine_row(name: str, routine_type: str, body: str, **extra: object) -> dict:
    row = {
        "ROUTINE_NAME": name,
        "SPECIFIC_NAME": name,
        "ROUTINE_TYPE": routine_type,
        "ROUTINE_DEFINITION": body,
        "DTD_IDENTIFIER": None,
        "CHARACTER_SET_NAME": None,
        "COLLATION_NAME": None,
        "SQL_DATA_ACCESS": "CONTAINS SQL",
        "IS_DETERMINISTIC": "NO",
        "SECURITY_TYPE": "DEFINER",
        "ROUTINE_COMMENT": "",
        "DATABASE_COLLATION": "utf8mb4_general_ci",
        "DEFINER": "someone@%",
    }
    return {**row, **extra}


def _parameter(routine: str, routine_type: str, position: int, name: str, dtd: str, **extra):
    return {
        "SPECIFIC_NAME": routine,
        "ROUTINE_TYPE": routine_type,
        "ORDINAL_POSITION": position,
        "PARAMETER_MODE": "IN",
        "PARAMETER_NAME": name,
        "DTD_IDENTIFIER": dtd,
        "CHARACTER_SET_NAME": None,
        "COLLATION_NAME": None,
        **extra,
    }


def test_routines_are_read_into_one_normal_form() -> None:
    routines = [
        _routine_row(
            "f",
            "FUNCTION",
            "RETURN a",
            DTD_IDENTIFIER="varchar(5)",
            CHARACTER_SET_NAME="utf8mb4",
            COLLATION_NAME="utf8mb4_bin",
            IS_DETERMINISTIC="YES",
            SQL_DATA_ACCESS="NO SQL",
            ROUTINE_COMMENT="it's",
        ),
        _routine_row(
            "p",
            "PROCEDURE",
            "BEGIN SELECT * FROM `db`.t; END",
            SECURITY_TYPE="INVOKER",
        ),
    ]
    parameters = [
        _parameter(
            "f",
            "FUNCTION",
            1,
            "a",
            "varchar(5)",
            CHARACTER_SET_NAME="utf8mb4",
            COLLATION_NAME="utf8mb4_general_ci",
        ),
        _parameter(
            "p",
            "PROCEDURE",
            2,
            "out",
            "text",
            PARAMETER_MODE="OUT",
            CHARACTER_SET_NAME="latin1",
            COLLATION_NAME="latin1_swedish_ci",
        ),
        _parameter("p", "PROCEDURE", 1, "x", "int(11)", PARAMETER_MODE="INOUT"),
    ]
    f, p = build_routines("db", routines, parameters, COLLATIONS)
    assert (f.key, f.kind, f.result) == (("db", "f", "function"), "function", None)
    assert f.definition == (
        "CREATE FUNCTION `f`(`a` varchar(5)) RETURNS varchar(5) CHARSET utf8mb4 COLLATE "
        "utf8mb4_bin\n    NO SQL\n    DETERMINISTIC\n    COMMENT 'it''s'\nRETURN a"
    )
    assert (p.key, p.kind) == (("db", "p", "procedure"), "procedure")
    assert p.definition == (
        "CREATE PROCEDURE `p`(INOUT `x` int(11), OUT `out` text CHARSET latin1 COLLATE "
        "latin1_swedish_ci)\n    SQL SECURITY INVOKER\nBEGIN SELECT * FROM t; END"
    )
    (aggregate,) = build_routines("db", routines[:1], [], COLLATIONS, {"f"})
    assert aggregate.kind == "aggregate"
    assert aggregate.definition.startswith("CREATE AGGREGATE FUNCTION `f`()")


def test_only_functions_fetching_group_rows_may_be_aggregate_ones() -> None:
    rows = [
        _routine_row("agg", "FUNCTION", "BEGIN LOOP FETCH  GROUP NEXT ROW; END LOOP; END"),
        _routine_row("plain", "FUNCTION", "RETURN 1"),
        _routine_row("proc", "PROCEDURE", "SELECT 'fetch group next row'"),
    ]
    assert aggregate_candidates(rows) == ["agg"]
    assert is_aggregate("CREATE DEFINER=`a`@`%` AGGREGATE FUNCTION `agg`(x int) RETURNS int")
    assert not is_aggregate("CREATE DEFINER=`a`@`%` FUNCTION `aggregate`(x int) RETURNS int")


def _function(db: str, name: str, body: str = "RETURN 1", routine: str = "function") -> Function:
    head = "PROCEDURE" if routine == "procedure" else "FUNCTION"
    returns = "" if routine == "procedure" else " RETURNS int(11)"
    return Function(
        schema_name=db,
        name=name,
        identity_args=routine,
        kind=routine,
        definition=f"CREATE {head} `{name}`(){returns}\n{body}",
    )


def test_a_changed_routine_is_replaced_on_mariadb_and_dropped_and_created_on_mysql() -> None:
    view = View(schema_name="db", name="v", definition="select `f`() AS `x`")
    source = _with(
        _catalog("db"),
        functions=[_function("db", "f", "RETURN 2"), _function("db", "p", "SELECT 2", "procedure")],
        views=[view],
    )
    target = _with(
        _catalog("db"),
        functions=[_function("db", "f"), _function("db", "p", "SELECT 1", "procedure")],
    )
    sqls = [s.sql.split("(")[0] for s in generate(diff(source, target), Dialect.MYSQL).statements]
    assert sqls == [
        "CREATE OR REPLACE FUNCTION `f`",
        "CREATE OR REPLACE PROCEDURE `p`",
        "CREATE VIEW v AS select `f`",
    ]
    mysql = _with(target, server_version="8.0.36")
    script = generate(diff(source, mysql), Dialect.MYSQL)
    sqls = [s.sql.split("(")[0] for s in script.statements]
    assert sqls == [
        "DROP FUNCTION f;",
        "CREATE FUNCTION `f`",
        "DROP PROCEDURE p;",
        "CREATE PROCEDURE `p`",
        "CREATE VIEW v AS select `f`",
    ]
    reverse = [s.sql.split("(")[0] for s in script.reverse_statements]
    assert reverse[:4] == sqls[:4] and reverse[4:] == ["DROP VIEW v;"]


def test_routines_are_dropped_after_the_views_over_them() -> None:
    view = View(schema_name="db", name="v", definition="select `f`() AS `x`")
    source = _catalog("db")
    target = _with(_catalog("db"), functions=[_function("db", "f")], views=[view])
    script = generate(diff(source, target), Dialect.MYSQL)
    assert [s.sql for s in script.statements] == ["DROP VIEW v;", "DROP FUNCTION f;"]
    assert [s.sql.split("(")[0] for s in script.reverse_statements] == [
        "CREATE FUNCTION `f`",
        "CREATE VIEW v AS select `f`",
    ]
    assert all(not s.transactional for s in script.statements)


# --- events -------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, 12, 0, 0)
CREATED = datetime(2026, 5, 1, 8, 30, 0)


def _event_row(name: str, **extra: object) -> dict:
    """A row of information_schema.EVENTS with the query's UTC columns; a recurring daily
    event created at CREATED without STARTS unless ``extra`` says otherwise."""
    row = {
        "EVENT_NAME": name,
        "EVENT_TYPE": "RECURRING",
        "EVENT_DEFINITION": "DELETE FROM t",
        "EXECUTE_AT": None,
        "INTERVAL_VALUE": "1",
        "INTERVAL_FIELD": "DAY",
        "STARTS": CREATED,
        "ENDS": None,
        "STATUS": "ENABLED",
        "ON_COMPLETION": "NOT PRESERVE",
        "EVENT_COMMENT": "",
        "TIME_ZONE": "SYSTEM",
        "DEFINER": "someone@%",
        "CREATED_UTC": CREATED,
        "LAST_ALTERED_UTC": CREATED,
        "NOW_UTC": NOW,
    }
    row.update(extra)
    for column in ("EXECUTE_AT", "STARTS", "ENDS"):
        row.setdefault(f"{column}_UTC", row[column])
    return row


def _utc(text: str) -> str:
    return f"CONVERT_TZ('{text}', '+00:00', @@time_zone)"


def test_events_are_read_into_one_normal_form() -> None:
    later = datetime(2026, 5, 20, 10, 0, 0)
    rows = [
        _event_row("daily", EVENT_DEFINITION="DELETE FROM `db`.t"),
        _event_row(
            "compound",
            INTERVAL_VALUE="'1 4'",
            INTERVAL_FIELD="DAY_HOUR",
            STARTS=datetime(2030, 1, 1, 2),
            STARTS_UTC=datetime(2030, 1, 1),  # the event's time zone is two hours east
            ENDS=datetime(2031, 1, 1, 2),
            ENDS_UTC=datetime(2031, 1, 1),
            TIME_ZONE="+02:00",
            ON_COMPLETION="PRESERVE",
            STATUS="DISABLED",
            EVENT_COMMENT="it's",
            EVENT_DEFINITION="BEGIN DELETE FROM `db`.t; DELETE FROM u; END",
        ),
        _event_row("rescheduled", STARTS=later, LAST_ALTERED_UTC=later),
        _event_row("once", EVENT_TYPE="ONE TIME", EXECUTE_AT=datetime(2035, 1, 1), STARTS=None),
        _event_row("replica", STATUS="SLAVESIDE_DISABLED"),
        _event_row("replica84", STATUS="REPLICA_SIDE_DISABLED", INTERVAL_VALUE="90"),
    ]
    daily, compound, rescheduled, once, replica, replica84 = build_events("db", rows)
    assert daily.key == ("db", "daily")
    assert daily.definition == (
        "CREATE EVENT `daily`\n    ON SCHEDULE EVERY 1 DAY\n    ON COMPLETION NOT PRESERVE\n"
        "    ENABLE\n    DO DELETE FROM t"
    )
    assert (daily.schedule, daily.preserve, daily.status, daily.comment, daily.body) == (
        "EVERY 1 DAY",
        False,
        "ENABLE",
        None,
        "DELETE FROM t",
    )
    assert compound.schedule == (
        f"EVERY '1 4' DAY_HOUR STARTS {_utc('2030-01-01 00:00:00')} "
        f"ENDS {_utc('2031-01-01 00:00:00')}"
    )
    assert compound.definition.endswith(
        "ON COMPLETION PRESERVE\n    DISABLE\n    COMMENT 'it''s'\n"
        "    DO BEGIN DELETE FROM t; DELETE FROM u; END"
    )
    assert rescheduled.schedule == "EVERY 1 DAY"  # STARTS is when it was given the schedule
    assert once.schedule == f"AT {_utc('2035-01-01 00:00:00')}"
    assert [replica.status, replica84.status] == ["DISABLE ON SLAVE", "DISABLE ON SLAVE"]
    assert replica84.schedule == "EVERY 90 DAY"
    explicit = _event_row("explicit", STARTS=datetime(2020, 1, 1))
    (event,) = build_events("db", [explicit])
    assert event.schedule == f"EVERY 1 DAY STARTS {_utc('2020-01-01 00:00:00')}"


def test_events_whose_time_has_passed_are_read_as_the_server_would_create_them() -> None:
    past = datetime(2026, 1, 1)
    rows = [
        _event_row("gone", EVENT_TYPE="ONE TIME", EXECUTE_AT=past, STARTS=None),
        _event_row("ended", STARTS=datetime(2025, 1, 1), ENDS=past),
        _event_row(
            "kept", EVENT_TYPE="ONE TIME", EXECUTE_AT=past, STARTS=None, ON_COMPLETION="PRESERVE"
        ),
        _event_row(
            "kept_on_replica",
            EVENT_TYPE="ONE TIME",
            EXECUTE_AT=past,
            STARTS=None,
            ON_COMPLETION="PRESERVE",
            STATUS="SLAVESIDE_DISABLED",
        ),
        _event_row("ends_later", ENDS=datetime(2027, 1, 1)),
    ]
    events = build_events("db", rows)
    assert [(e.name, e.status) for e in events] == [
        ("kept", "DISABLE"),
        ("kept_on_replica", "DISABLE ON SLAVE"),
        ("ends_later", "ENABLE"),
    ]


def test_an_event_time_the_server_cannot_convert_is_refused() -> None:
    row = _event_row("e", TIME_ZONE="Europe/Berlin", STARTS=datetime(2030, 1, 1), STARTS_UTC=None)
    with pytest.raises(IntrospectionError, match="time zone Europe/Berlin"):
        build_events("db", [row])


def _event(db: str, name: str, **fields: object) -> ScheduledEvent:
    (event,) = build_events(db, [_event_row(name, **fields)])
    return event


def test_a_changed_event_is_altered_in_the_clauses_that_differ() -> None:
    old = _event("tgt", "e")
    new = _event(
        "src",
        "e",
        INTERVAL_VALUE="2",
        INTERVAL_FIELD="HOUR",
        STATUS="DISABLED",
        EVENT_COMMENT="x",
        EVENT_DEFINITION="DELETE FROM `src`.t WHERE a",
    )
    source = _with(_catalog("src"), scheduled_events=[new])
    target = _with(_catalog("tgt"), scheduled_events=[old])
    script = generate(diff(source, target), Dialect.MYSQL)
    assert [s.sql for s in script.statements] == [
        "ALTER EVENT e\n    ON SCHEDULE EVERY 2 HOUR\n    DISABLE\n    COMMENT 'x'\n"
        "    DO DELETE FROM t WHERE a;"
    ]
    assert [s.sql for s in script.reverse_statements] == [
        "ALTER EVENT e\n    ON SCHEDULE EVERY 1 DAY\n    ENABLE\n    COMMENT ''\n"
        "    DO DELETE FROM t;"
    ]
    assert diff(_with(_catalog("src"), scheduled_events=[_event("src", "e")]), target) == []


def test_events_are_created_after_and_dropped_before_the_objects_they_use() -> None:
    table = _table("db", "t", Column(name="a", type="int(11)"))
    procedure = _function("db", "p", "SELECT 1", "procedure")
    event = _event("db", "e", EVENT_DEFINITION="CALL p()")
    source = _with(_catalog("db", table), functions=[procedure], scheduled_events=[event])
    script = generate(diff(source, _catalog("db")), Dialect.MYSQL)
    assert [s.kind for s in script.statements] == [
        "create_function",
        "create_table",
        "create_event",
    ]
    assert [s.kind for s in script.reverse_statements] == [
        "drop_event",
        "drop_table",
        "drop_function",
    ]


# --- invisible columns ---------------------------------------------------------------------


def test_invisible_columns_need_a_version_that_has_them() -> None:
    hidden = Column(name="b", type="int(11)", invisible=True)
    assert column_definition(hidden) == "b int(11) NULL INVISIBLE"
    table = _table("db", "t", Column(name="a", type="int(11)"), hidden)
    source = _catalog("db", table)
    for version in ("10.3.3-MariaDB", "8.0.23"):
        assert [o.label for o in diff(source, _catalog("db", version=version))] == ["create_table"]
    for version, wanted in (("10.3.2-MariaDB", r"MariaDB 10\.3\.3"), ("8.0.22", r"MySQL 8\.0\.23")):
        with pytest.raises(UnsupportedByTarget, match=rf"invisible columns.*{wanted} or later"):
            diff(source, _catalog("db", version=version))
    # Made visible: nothing an older server could not run.
    shown = _table(
        "db", "t", Column(name="a", type="int(11)"), hidden.model_copy(update={"invisible": False})
    )
    ops = diff(_catalog("db", shown), _catalog("db", table, version="10.2.44-MariaDB"))
    assert [o.label for o in ops] == ["alter_column"]


# --- the printed script -------------------------------------------------------------------


def test_the_printed_script_delimits_compound_statements() -> None:
    procedure = Statement(
        sql="CREATE PROCEDURE p()\nBEGIN\n  SELECT '$$';\n  SELECT 2;\nEND;",
        kind="create_function",
        object="db.p",
        hazards=[Hazard.NOT_TRANSACTIONAL],
        transactional=False,
    )
    plain = Statement(sql="DROP VIEW v;", kind="drop_view", object="db.v", transactional=False)
    text = renderer_for(Dialect.MYSQL).script_text([plain, procedure])
    assert text.split("\n\n") == [
        "-- runs on its own, outside the migration's transaction\nDROP VIEW v;",
        "-- hazards: not_transactional\n-- runs on its own, outside the migration's "
        "transaction\nDELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT '$$';\n  SELECT 2;"
        "\nEND//\nDELIMITER ;",
    ]
    assert delimiter_for("$$ // ;; $$$ /// @@") == "$$$$"
    assert not compound("CREATE TRIGGER t BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;")


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
