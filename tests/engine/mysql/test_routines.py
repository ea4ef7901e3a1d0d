"""Stored functions and procedures on the server: each case migrates the target, checks
convergence by the independent snapshot (which holds every routine and its parameters) and a
second diff, then undoes it. Last, the printed script is run by the ``mariadb`` client."""

from __future__ import annotations

import pymysql
import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql import introspect_connection
from schemashift.consumers.generator.render import generate, renderer_for
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from tests.support.mysql_engine import (
    MyPair,
    assert_converged,
    execute,
    migrate,
    rows,
    run_client,
    sql_of,
)

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

ADD = (
    "CREATE FUNCTION add_one(a int) RETURNS int DETERMINISTIC NO SQL "
    "COMMENT 'adds one' RETURN a + 1"
)
TOTAL = (
    "CREATE PROCEDURE total(IN lo int, OUT n bigint) READS SQL DATA SQL SECURITY INVOKER\n"
    "BEGIN\n  SELECT count(*) INTO n FROM t WHERE id >= lo;\nEND"
)
TABLE = "CREATE TABLE t (id int PRIMARY KEY, a int);"


async def test_functions_and_procedures_are_created_and_dropped(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        f"{TABLE} {ADD}; {TOTAL};",
        f"{TABLE} CREATE FUNCTION gone() RETURNS int RETURN 1; CREATE PROCEDURE old() SELECT 1;",
    )
    statements = sql_of(script).splitlines()
    assert statements[:2] == [
        "CREATE FUNCTION `add_one`(`a` int(11)) RETURNS int(11) NO SQL DETERMINISTIC "
        "COMMENT 'adds one' RETURN a + 1;",
        "CREATE PROCEDURE `total`(IN `lo` int(11), OUT `n` bigint(20)) READS SQL DATA "
        "SQL SECURITY INVOKER BEGIN SELECT count(*) INTO n FROM t WHERE id >= lo; END;",
    ]
    assert sorted(statements[2:]) == ["DROP FUNCTION gone;", "DROP PROCEDURE old;"]
    assert all(s.hazards == [Hazard.NOT_TRANSACTIONAL] for s in script.statements)


async def test_a_changed_routine_is_replaced_in_place(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        f"{TABLE} CREATE FUNCTION f(a int, b varchar(10) CHARSET latin1) RETURNS bigint "
        "RETURN a * 2; CREATE PROCEDURE p(INOUT x int) SET x = x + 2;",
        f"{TABLE} CREATE FUNCTION f(a int) RETURNS int RETURN a; "
        "CREATE PROCEDURE p(INOUT x int) DETERMINISTIC SET x = x + 1;",
    )
    statements = sql_of(script).splitlines()
    assert [s.split("(")[0] for s in statements] == [
        "CREATE OR REPLACE FUNCTION `f`",
        "CREATE OR REPLACE PROCEDURE `p`",
    ]
    assert "`b` varchar(10) CHARSET latin1 COLLATE latin1_swedish_ci" in statements[0]


async def test_a_function_and_a_procedure_may_share_a_name(my_pair: MyPair) -> None:
    source, _ = await my_pair.load(
        "CREATE FUNCTION same() RETURNS int RETURN 1; CREATE PROCEDURE same() SELECT 1;", ""
    )
    assert [(f.name, f.identity_args, f.kind) for f in source.functions] == [
        ("same", "function", "function"),
        ("same", "procedure", "procedure"),
    ]
    await migrate(
        my_pair,
        "CREATE FUNCTION same() RETURNS int RETURN 2; CREATE PROCEDURE same() SELECT 1;",
        "CREATE PROCEDURE same() SELECT 2;",
    )


async def test_an_aggregate_function(my_pair: MyPair) -> None:
    aggregate = (
        "CREATE AGGREGATE FUNCTION total_of(x int) RETURNS int\nBEGIN\n"
        "  DECLARE s int DEFAULT 0;\n  DECLARE CONTINUE HANDLER FOR NOT FOUND RETURN s;\n"
        "  LOOP FETCH GROUP NEXT ROW; SET s = s + x; END LOOP;\nEND"
    )
    source, _ = await my_pair.load(aggregate, "")
    assert [f.kind for f in source.functions] == ["aggregate"]
    script = await migrate(
        my_pair, aggregate, "CREATE FUNCTION total_of(x int) RETURNS int RETURN x"
    )
    assert "AGGREGATE FUNCTION" in sql_of(script)


@pytest.mark.filterwarnings("ignore:The user specified as a definer")
async def test_the_definer_is_no_difference(my_pair: MyPair) -> None:
    body = (
        "FUNCTION f() RETURNS int SQL SECURITY DEFINER RETURN 1; CREATE DEFINER = "
        "{definer} PROCEDURE p() SELECT 1; CREATE DEFINER = {definer} TRIGGER tr BEFORE INSERT "
        "ON t FOR EACH ROW SET NEW.a = 1"
    )
    source, target = await my_pair.load(
        f"{TABLE} CREATE DEFINER = CURRENT_USER " + body.format(definer="CURRENT_USER"),
        f"{TABLE} CREATE DEFINER = `nobody_here`@`localhost` "
        + body.format(definer="`nobody_here`@`localhost`"),
    )
    definers = await rows(
        my_pair.target,
        "SELECT DISTINCT DEFINER FROM information_schema.ROUTINES "
        "WHERE ROUTINE_SCHEMA = DATABASE()",
    )
    assert [d["DEFINER"] for d in definers] == ["nobody_here@localhost"]
    assert len(source.functions) == 2 and "DEFINER" not in source.functions[0].definition
    assert diff(source, target) == []


async def test_a_body_naming_its_own_database_compares_without_it(my_pair: MyPair) -> None:
    await my_pair.reset()
    for conn, name in zip((my_pair.source, my_pair.target), my_pair.names, strict=True):
        await execute(
            conn,
            f"{TABLE} CREATE PROCEDURE p() SELECT count(*) FROM `{name}`.t",
        )
    source = await introspect_connection(my_pair.source)
    target = await introspect_connection(my_pair.target)
    assert source.functions[0].definition.endswith("SELECT count(*) FROM t")
    assert diff(source, target) == []


async def test_a_view_over_a_function_comes_after_it_and_goes_before_it(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        f"{TABLE} {ADD}; CREATE VIEW v AS SELECT id, add_one(a) AS b FROM t;",
        TABLE,
    )
    statements = sql_of(script).splitlines()
    assert [s.split(" ")[1] for s in statements] == ["FUNCTION", "VIEW"]
    reverse = [" ".join(s.sql.split()[:2]) for s in script.reverse_statements]
    assert reverse == ["DROP VIEW", "DROP FUNCTION"]
    # Changing the function keeps the view over it (the server keeps no dependency).
    changed = await migrate(
        my_pair,
        f"{TABLE} {ADD.replace('a + 1', 'a + 2')}; CREATE VIEW v AS SELECT add_one(a) AS b FROM t;",
        f"{TABLE} {ADD}; CREATE VIEW v AS SELECT add_one(a) AS b FROM t;",
    )
    assert [s.kind for s in changed.statements] == ["alter_function"]


async def test_generated_columns_checks_and_defaults_cannot_call_stored_functions(
    my_pair: MyPair,
) -> None:
    # Hence no order to keep between routines and columns or checks: the server refuses these.
    await my_pair.load(ADD, "")
    for ddl in (
        "CREATE TABLE g (a int, b int AS (add_one(a)) VIRTUAL)",
        "CREATE TABLE c (a int, CHECK (add_one(a) > 0))",
        "CREATE TABLE d (a int DEFAULT (add_one(1)))",
    ):
        with pytest.raises(pymysql.err.MySQLError) as refused:
            await execute(my_pair.source, ddl)
        assert refused.value.args[0] == 1901, ddl  # ER_GENERATED_COLUMN_FUNCTION_IS_NOT_ALLOWED


COMPOUND_TRIGGER = (
    "CREATE TRIGGER clamp BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n"
    "  IF NEW.a < 0 THEN\n    SET NEW.a = 0;\n  END IF;\n  SET NEW.a = NEW.a + 1;\nEND"
)


@pytest.mark.parametrize("comments", [False, True], ids=["plain", "with-comments"])
async def test_the_printed_script_runs_in_the_client(my_pair: MyPair, comments: bool) -> None:
    await my_pair.load(
        f"{TABLE} {COMPOUND_TRIGGER}; "
        "CREATE TRIGGER after_clamp BEFORE INSERT ON t FOR EACH ROW SET NEW.a = NEW.a * 2; "
        f"{ADD};",
        f"{TABLE} CREATE TRIGGER after_clamp BEFORE INSERT ON t FOR EACH ROW "
        "SET NEW.a = NEW.a * 2;",
    )
    note = "  -- counts rows\n" if comments else ""
    async with my_pair.source.cursor() as cur:  # whole: the test's loader drops comments
        await cur.execute(TOTAL.replace("BEGIN\n", f"BEGIN\n{note}"))
    source = await introspect_connection(my_pair.source)
    target = await introspect_connection(my_pair.target)
    script = generate(diff(source, target), Dialect.MYSQL)
    text = renderer_for(Dialect.MYSQL).script_text(script.statements)
    assert text.count("DELIMITER $$") == 2 and text.count("DELIMITER ;") == 2, text
    assert ("--comments" in text.splitlines()[0]) is comments
    options = ("--comments",) if comments else ()
    code, err = await run_client(my_pair.target_url, text, *options)
    assert code == 0, (err, text)
    await assert_converged(my_pair)
    await execute(my_pair.target, "INSERT INTO t VALUES (1, -5)")
    assert (await rows(my_pair.target, "SELECT a FROM t"))[0]["a"] == 2  # clamp, then double
