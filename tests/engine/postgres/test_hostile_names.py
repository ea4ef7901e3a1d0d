"""Hostile identifiers through the engine: every generated statement must quote (or
literal-escape) what it names. A name that is not quoted either fails to parse, names another
object, or (with a semicolon) runs SQL of its own. Convergence is checked with an independent
catalog reader (tests.support.schema_snapshot) as well as an empty re-diff."""

from __future__ import annotations

import pytest

from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.generator.render import generate
from tests.support.engine import apply_at, assert_no_difference
from tests.support.hostile import SOURCE, TARGET
from tests.support.schema_snapshot import assert_same_schema, snapshot

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


async def test_engine_migrates_hostile_names_both_ways(new_database) -> None:
    source_url = await new_database(SOURCE)
    target_url = await new_database(TARGET)
    source, target = await introspect(source_url), await introspect(target_url)

    # The names come back exactly as PostgreSQL stores them.
    order = source.table('a"b', "order")
    assert order is not None
    assert [c.name for c in order.columns] == [
        "user",
        "select",
        "Mixed Case",
        "1col",
        "col;drop table x;--",
        "é",
        "🚀",
        "trail ",
        'quote"d',
    ]
    assert {"trail ", "日本", "émoji 🚀", "with space", "semi;colon"} <= set(source.schemas)
    mood = next(e for e in source.enums if e.name == 'mood "q"')
    assert list(mood.labels) == [
        "it's",
        "semi;colon",
        '"dq"',
        "日本",
        "🚀",
        "trail ",
        " lead",
        "back\\slash",
        "new;one",
    ]

    before = await snapshot(target_url)
    ops = diff(source, target)
    assert ops
    script = generate(ops)
    await apply_at(target_url, script.statements)
    await assert_same_schema(source_url, target_url)
    assert_no_difference(source, await introspect(target_url))
    assert diff(source, await introspect(target_url)) == []

    # The reverse script brings the original target back (enum labels cannot be removed in
    # place: the engine recreates the type and converts its columns).
    await apply_at(target_url, script.reverse_statements)
    assert await snapshot(target_url) == before
    assert_no_difference(target, await introspect(target_url))


async def test_engine_creates_every_hostile_object_from_nothing(new_database) -> None:
    source_url = await new_database(SOURCE)
    target_url = await new_database()
    source, target = await introspect(source_url), await introspect(target_url)
    script = generate(diff(source, target))
    await apply_at(target_url, script.statements)
    await assert_same_schema(source_url, target_url)
    assert_no_difference(source, await introspect(target_url))
    # ...and drops every one of them again.
    await apply_at(target_url, script.reverse_statements)
    assert_no_difference(target, await introspect(target_url))
