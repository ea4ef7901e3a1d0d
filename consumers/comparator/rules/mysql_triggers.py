"""The order of MySQL's triggers: several of one table, timing and event run in a given order.

A trigger's definition names the one it follows (``FOR EACH ROW FOLLOWS `a` ...``, see the
introspector), so a trigger whose place changes differs and is created again after the one it
follows. That alone does not restore the order: a new trigger without FOLLOWS (the first of
its group) goes *last*, and the triggers the migration keeps must already be in the source's
order among themselves. So for every group, the triggers of the longest run both sides begin
with (the same triggers, in the same order, untouched) are kept, and every trigger after it is
created again in the source's order (:mod:`...generator.mysql_order` sorts the creations): an
unchanged one as a dependent rebuild. The script undoing it does the same the other way.
"""

from __future__ import annotations

import re
from collections import defaultdict

from schemashift.consumers.comparator.compare.common import pair
from schemashift.schemas.catalog import Catalog, Key, Trigger
from schemashift.schemas.operations import ObjectType, Operation

_FOLLOWS = re.compile(r"\bFOR EACH ROW FOLLOWS `((?:[^`]|``)+)`")

Group = tuple[str, str, str, str]  # schema, table, timing, event


def follows(trigger: Trigger) -> str | None:
    """The name of the trigger ``trigger`` runs after, when it is not the first of its group."""
    match = _FOLLOWS.search(trigger.definition)
    return match.group(1).replace("``", "`") if match else None


def _group(trigger: Trigger) -> Group:
    timing, event = [*trigger.definition.split(), "", ""][:2]
    return (trigger.schema_name, trigger.table, timing.upper(), event.upper())


def in_order(triggers: list[Trigger]) -> dict[Group, list[Trigger]]:
    """Each group's triggers in the order they run (by the chain of FOLLOWS; a trigger whose
    chain is broken goes after those whose chain is whole, in the catalog's order)."""
    groups: dict[Group, list[Trigger]] = defaultdict(list)
    for trigger in triggers:
        groups[_group(trigger)].append(trigger)
    ordered = {}
    for group, members in groups.items():
        after: dict[str | None, list[Trigger]] = defaultdict(list)
        for trigger in members:
            after[follows(trigger)].append(trigger)
        chain: list[Trigger] = []
        pending = list(after[None])
        while pending:
            current = pending.pop(0)
            chain.append(current)
            pending[:0] = after[current.name]
        placed = {t.name for t in chain}
        ordered[group] = chain + [t for t in members if t.name not in placed]
    return ordered


def keep_order(ops: list[Operation], source: Catalog, target: Catalog) -> list[Operation]:
    """``ops`` and the rebuilds of the unchanged triggers that must be created again for every
    group to end in the source's order (see the module)."""
    touched: set[Key] = {
        (o.schema_name or "", o.table or "", o.name)
        for o in ops
        if o.object_type is ObjectType.TRIGGER
    }
    wanted, present = in_order(source.triggers), in_order(target.triggers)
    rebuilds: list[Operation] = []
    for group in sorted(wanted):
        desired, existing = wanted[group], present.get(group, [])
        kept = 0
        while (
            kept < min(len(desired), len(existing))
            and desired[kept] == existing[kept]
            and desired[kept].key not in touched
        ):
            kept += 1
        old = {t.name: t for t in existing}
        for trigger in desired[kept:]:
            if trigger.key in touched or old.get(trigger.name) != trigger:
                continue
            rebuilds += pair(
                ObjectType.TRIGGER,
                trigger,
                trigger,
                trigger.name,
                schema_name=trigger.schema_name,
                table=trigger.table,
                reason="trigger order",
                dependent=True,
            )
    return ops + rebuilds
