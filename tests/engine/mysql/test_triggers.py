"""The order of triggers on the server: several of one table, timing and event run in
ACTION_ORDER, which a migration keeps (and fixes where the target's differs). Each case migrates
the target, checks convergence by the independent snapshot (which holds every trigger's
ACTION_ORDER) and a second diff, then undoes it."""

from __future__ import annotations

import pytest

from schemashift.schemas.hazards import Hazard
from tests.support.mysql_engine import MyPair, migrate, rows, sql_of

pytestmark = [pytest.mark.integration, pytest.mark.mysql]

TABLE = "CREATE TABLE t (id int PRIMARY KEY, a int);"


def _triggers(*specs: str) -> str:
    """Triggers ``name[:body]`` of t, BEFORE INSERT, created in the given order."""
    out = []
    for spec in specs:
        name, _, value = spec.partition(":")
        out.append(
            f"CREATE TRIGGER {name} BEFORE INSERT ON t FOR EACH ROW "
            f"SET NEW.a = NEW.a * 10 + {value or 1};"
        )
    return TABLE + " ".join(out)


async def _order(my_pair: MyPair) -> list[str]:
    found = await rows(
        my_pair.target,
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
        "ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
    )
    return [r["TRIGGER_NAME"] for r in found]


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (["a", "b", "c"], ["a", "c", "b"]),  # another order
        (["a:2", "b", "c"], ["a", "b", "c"]),  # the first one changes
        (["a", "b:2", "c"], ["a", "b", "c"]),  # one in the middle changes
        (["a", "b", "c"], ["a", "c"]),  # one added in the middle
        (["b", "a"], ["a", "x", "b"]),  # one goes, the others swap
        (["c", "a", "b"], ["a", "b", "c"]),
    ],
    ids=["reordered", "first-changed", "middle-changed", "inserted", "dropped-swapped", "rotated"],
)
async def test_triggers_keep_their_order(
    my_pair: MyPair, source: list[str], target: list[str]
) -> None:
    await migrate(my_pair, _triggers(*source), _triggers(*target), reverse=False)
    assert await _order(my_pair) == [s.split(":")[0] for s in source]
    await migrate(my_pair, _triggers(*target), _triggers(*source), reverse=False)
    assert await _order(my_pair) == [s.split(":")[0] for s in target]
    await migrate(my_pair, _triggers(*source), _triggers(*target))  # and the reverse script


async def test_a_kept_first_trigger_is_not_touched(my_pair: MyPair) -> None:
    script = await migrate(my_pair, _triggers("a", "b:2", "c"), _triggers("a", "b", "c"))
    assert [s.object.split(".")[-1] for s in script.statements] == ["b", "c", "b", "c"]
    assert Hazard.DEPENDENT_REBUILD in script.statements[1].hazards
    assert "FOLLOWS b" in sql_of(script).splitlines()[-1].replace("`", "")


async def test_each_table_timing_and_event_has_its_own_order(my_pair: MyPair) -> None:
    events = (
        "CREATE TABLE u (id int PRIMARY KEY, a int);"
        "CREATE TRIGGER u1 BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = 1;"
        "CREATE TRIGGER u2 BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = 2;"
        "CREATE TRIGGER w1 AFTER INSERT ON t FOR EACH ROW SET @w = 1;"
        "CREATE TRIGGER v1 BEFORE INSERT ON u FOR EACH ROW SET NEW.a = 1;"
    )
    script = await migrate(my_pair, _triggers("b", "a") + events, TABLE, reverse=False)
    follows = [s for s in sql_of(script).splitlines() if "FOLLOWS" in s]
    assert [s.split()[2] for s in follows] == ["a", "u2"]
    assert await _order(my_pair) == ["w1", "b", "a", "u1", "u2", "v1"]
