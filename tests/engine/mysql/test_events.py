"""Scheduled events on the server: each case migrates the target, checks convergence by the
independent snapshot (which holds every event's schedule in UTC, state, completion, comment and
body) and a second diff, then undoes it. The scheduler stays as the server has it (off on the
test server): no event runs."""

from __future__ import annotations

import asyncio

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql import introspect_connection
from schemashift.consumers.executor.apply import Applied
from schemashift.consumers.generator.render import generate, renderer_for
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from tests.support.mysql_engine import (
    MyPair,
    apply,
    assert_converged,
    execute,
    migrate,
    rows,
    run_client,
    snapshot,
    sql_of,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.mysql,
    pytest.mark.filterwarnings("ignore:Event scheduler is switched off"),
]

TABLE = "CREATE TABLE records (id int PRIMARY KEY, created_at datetime);"
DAILY = (
    "CREATE EVENT cleanup ON SCHEDULE EVERY 1 DAY "
    "DO DELETE FROM records WHERE created_at < NOW() - INTERVAL 30 DAY"
)
COMPOUND = (
    "CREATE EVENT sweep ON SCHEDULE EVERY '1 4' DAY_HOUR STARTS '2035-01-01 00:00:00' "
    "ENDS '2036-01-01 00:00:00' ON COMPLETION PRESERVE DISABLE COMMENT 'twice' DO\nBEGIN\n"
    "  DELETE FROM records WHERE id < 0;\n  DELETE FROM records WHERE created_at IS NULL;\nEND"
)
# This database's events (information_schema shows those of every database the user may see).
HERE = "FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE()"
ONCE = "CREATE EVENT once ON SCHEDULE AT '2035-01-01 00:00:00' ON COMPLETION PRESERVE DO SELECT 1"


async def test_events_are_created_and_dropped(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        f"{TABLE} {DAILY}; {COMPOUND}; {ONCE};",
        f"{TABLE} CREATE EVENT gone ON SCHEDULE EVERY 1 HOUR DO SELECT 1;",
    )
    statements = sql_of(script).splitlines()
    utc = "'+00:00', @@time_zone)"
    assert statements == [
        "DROP EVENT gone;",
        "CREATE EVENT `cleanup` ON SCHEDULE EVERY 1 DAY ON COMPLETION NOT PRESERVE ENABLE "
        "DO DELETE FROM records WHERE created_at < NOW() - INTERVAL 30 DAY;",
        f"CREATE EVENT `once` ON SCHEDULE AT CONVERT_TZ('2035-01-01 00:00:00', {utc} "
        "ON COMPLETION PRESERVE ENABLE DO SELECT 1;",
        "CREATE EVENT `sweep` ON SCHEDULE EVERY '1 4' DAY_HOUR "
        f"STARTS CONVERT_TZ('2035-01-01 00:00:00', {utc} "
        f"ENDS CONVERT_TZ('2036-01-01 00:00:00', {utc} ON COMPLETION PRESERVE DISABLE "
        "COMMENT 'twice' DO BEGIN DELETE FROM records WHERE id < 0; "
        "DELETE FROM records WHERE created_at IS NULL; END;",
    ]
    assert all(s.hazards == [Hazard.NOT_TRANSACTIONAL] for s in script.statements)
    reverse = [" ".join(s.sql.split()[:3]) for s in script.reverse_statements]
    assert reverse == [
        "DROP EVENT cleanup;",
        "DROP EVENT once;",
        "DROP EVENT sweep;",
        "CREATE EVENT `gone`",
    ]


CHANGES = {
    "schedule": (
        DAILY.replace("EVERY 1 DAY", "EVERY 2 HOUR"),
        "ALTER EVENT cleanup ON SCHEDULE EVERY 2 HOUR;",
    ),
    "start": (
        DAILY.replace("EVERY 1 DAY", "EVERY 1 DAY STARTS '2035-03-01 04:00:00'"),
        "ALTER EVENT cleanup ON SCHEDULE EVERY 1 DAY "
        "STARTS CONVERT_TZ('2035-03-01 04:00:00', '+00:00', @@time_zone);",
    ),
    "one time": (
        DAILY.replace("EVERY 1 DAY", "AT '2035-01-01 00:00:00'"),
        "ALTER EVENT cleanup ON SCHEDULE AT "
        "CONVERT_TZ('2035-01-01 00:00:00', '+00:00', @@time_zone);",
    ),
    "body": (
        DAILY.replace("30 DAY", "7 DAY"),
        "ALTER EVENT cleanup DO DELETE FROM records WHERE created_at < NOW() - INTERVAL 7 DAY;",
    ),
    "state": (DAILY.replace(" DO ", " DISABLE DO "), "ALTER EVENT cleanup DISABLE;"),
    "replica state": (
        DAILY.replace(" DO ", " DISABLE ON SLAVE DO "),
        "ALTER EVENT cleanup DISABLE ON SLAVE;",
    ),
    "comment": (
        DAILY.replace(" DO ", " COMMENT 'purge old rows' DO "),
        "ALTER EVENT cleanup COMMENT 'purge old rows';",
    ),
    "completion": (
        DAILY.replace(" DO ", " ON COMPLETION PRESERVE DO "),
        "ALTER EVENT cleanup ON COMPLETION PRESERVE;",
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_a_changed_event_is_altered_in_the_clauses_that_differ(
    my_pair: MyPair, change: str
) -> None:
    desired, statement = CHANGES[change]
    script = await migrate(my_pair, f"{TABLE} {desired};", f"{TABLE} {DAILY};")
    assert sql_of(script) == statement
    assert [s.hazards for s in script.statements] == [[Hazard.NOT_TRANSACTIONAL]]


async def test_several_changes_are_one_alter_event(my_pair: MyPair) -> None:
    script = await migrate(
        my_pair,
        f"{TABLE} CREATE EVENT cleanup ON SCHEDULE EVERY 2 HOUR ON COMPLETION PRESERVE "
        "COMMENT 'purge old data' DO DELETE FROM records;",
        f"{TABLE} {DAILY};",
    )
    assert sql_of(script) == (
        "ALTER EVENT cleanup ON SCHEDULE EVERY 2 HOUR ON COMPLETION PRESERVE "
        "COMMENT 'purge old data' DO DELETE FROM records;"
    )
    # The reverse removes the comment.
    assert "COMMENT ''" in script.reverse_statements[0].sql


@pytest.mark.filterwarnings("ignore:The user specified as a definer")
async def test_the_definer_is_no_difference(my_pair: MyPair) -> None:
    source, target = await my_pair.load(
        f"{TABLE} {DAILY.replace('CREATE EVENT', 'CREATE DEFINER = CURRENT_USER EVENT')}",
        f"{TABLE} {DAILY.replace('CREATE EVENT', 'CREATE DEFINER = `nobody_here`@`%` EVENT')}",
    )
    definers = await rows(
        my_pair.target,
        f"SELECT DEFINER {HERE}",
    )
    assert [d["DEFINER"] for d in definers] == ["nobody_here@%"]
    assert "DEFINER" not in source.scheduled_events[0].definition
    assert diff(source, target) == []


async def test_a_start_the_server_chose_is_no_difference(my_pair: MyPair) -> None:
    await my_pair.reset()
    await execute(my_pair.target, f"{TABLE} {DAILY}")
    await asyncio.sleep(1.1)  # the source's event starts a second later
    await execute(my_pair.source, f"{TABLE} {DAILY}")
    starts = [
        (await rows(conn, f"SELECT STARTS, CREATED {HERE}"))[0]
        for conn in (my_pair.source, my_pair.target)
    ]
    assert starts[0]["STARTS"] != starts[1]["STARTS"]
    assert all(s["STARTS"] == s["CREATED"] for s in starts)
    await assert_converged(my_pair)
    # A new schedule without STARTS starts when it is given: still the server's choice.
    await asyncio.sleep(1.1)
    await execute(my_pair.target, "ALTER EVENT cleanup ON SCHEDULE EVERY 1 DAY")
    await assert_converged(my_pair)
    # A STARTS that was given is compared.
    await execute(my_pair.target, "ALTER EVENT cleanup ON SCHEDULE EVERY 1 DAY STARTS '2035-01-01'")
    source = await introspect_connection(my_pair.source)
    target = await introspect_connection(my_pair.target)
    assert [o.label for o in diff(source, target)] == ["alter_event"]


async def test_times_compare_as_instants_whatever_the_time_zone(my_pair: MyPair) -> None:
    two_hours_east = f"SET time_zone = '+02:00'; {TABLE} {ONCE}; SET time_zone = DEFAULT"
    await my_pair.reset()
    await execute(my_pair.source, two_hours_east)
    await execute(my_pair.target, f"{TABLE} {ONCE}")
    source = await introspect_connection(my_pair.source)
    target = await introspect_connection(my_pair.target)
    (event,) = source.scheduled_events
    assert event.schedule == "AT CONVERT_TZ('2034-12-31 22:00:00', '+00:00', @@time_zone)"
    ops = diff(source, target)
    assert [o.label for o in ops] == ["alter_event"]
    # Created in the target's session, the event keeps the source's instant.
    await migrate(my_pair, two_hours_east, TABLE, reverse=False)
    shown = await rows(
        my_pair.target,
        f"SELECT EXECUTE_AT {HERE}",
    )
    assert str(shown[0]["EXECUTE_AT"]) == "2034-12-31 22:00:00"  # the server's zone is UTC


async def test_events_whose_time_has_passed(my_pair: MyPair) -> None:
    soon = "ON SCHEDULE AT CURRENT_TIMESTAMP + INTERVAL 1 SECOND"
    await my_pair.reset()
    await execute(
        my_pair.source,
        f"{TABLE} CREATE EVENT kept {soon} ON COMPLETION PRESERVE DO SELECT 1; "
        f"CREATE EVENT done {soon} DO SELECT 1",
    )
    await asyncio.sleep(2.1)
    present = await rows(
        my_pair.source,
        f"SELECT EVENT_NAME, STATUS {HERE}",
    )
    assert sorted((r["EVENT_NAME"], r["STATUS"]) for r in present) == [
        ("done", "ENABLED"),  # the scheduler is off: nothing has run or dropped them
        ("kept", "ENABLED"),
    ]
    source = await introspect_connection(my_pair.source)
    # The server would create the preserved one disabled and drop the other one at once.
    assert [(e.name, e.status) for e in source.scheduled_events] == [("kept", "DISABLE")]
    target = await introspect_connection(my_pair.target)
    script = generate(diff(source, target), Dialect.MYSQL)
    assert [s.kind for s in script.statements] == ["create_table", "create_event"]
    assert isinstance(await apply(my_pair.target, script.statements), Applied)
    target = await introspect_connection(my_pair.target)
    assert diff(source, target) == []


async def test_an_event_comes_after_the_routine_it_calls_and_goes_before_it(
    my_pair: MyPair,
) -> None:
    procedure = "CREATE PROCEDURE purge_old() DELETE FROM records WHERE created_at IS NULL"
    event = "CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO CALL purge_old()"
    script = await migrate(my_pair, f"{TABLE} {procedure}; {event};", "")
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


async def test_a_body_naming_its_own_database_compares_without_it(my_pair: MyPair) -> None:
    await my_pair.reset()
    for conn, name in zip((my_pair.source, my_pair.target), my_pair.names, strict=True):
        await execute(
            conn, f"{TABLE} CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM `{name}`.records"
        )
    source = await introspect_connection(my_pair.source)
    target = await introspect_connection(my_pair.target)
    assert source.scheduled_events[0].body == "DELETE FROM records"
    assert diff(source, target) == []


async def test_the_printed_script_with_a_compound_body_runs_in_the_client(my_pair: MyPair) -> None:
    changed = COMPOUND.replace("id < 0", "id < 10").replace("sweep ", "sweep_more ")
    await my_pair.load(
        f"{TABLE} {COMPOUND}; {changed};", f"{TABLE} {COMPOUND.replace('< 0', '< 1')};"
    )
    source = await introspect_connection(my_pair.source)
    target = await introspect_connection(my_pair.target)
    script = generate(diff(source, target), Dialect.MYSQL)
    assert [s.kind for s in script.statements] == ["alter_event", "create_event"]
    text = renderer_for(Dialect.MYSQL).script_text(script.statements)
    assert text.count("DELIMITER $$") == 2 and text.count("DELIMITER ;") == 2, text
    code, err = await run_client(my_pair.target_url, text)
    assert code == 0, (err, text)
    await assert_converged(my_pair)
    assert await snapshot(my_pair.target) == await snapshot(my_pair.source)
