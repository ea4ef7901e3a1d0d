"""Compare two catalogs: which operations make TARGET's schema equal SOURCE's (desired) one.

One small comparator per kind of object (:mod:`schemashift.consumers.comparator.compare`),
Alembic-style, run in dependency order over a shared context. Operations come out in no particular
order; :func:`schemashift.consumers.generator.order.plan` orders them. Beyond plain differences, the
comparators also *rebuild* unchanged dependents that a change would otherwise break: foreign keys
over a column whose type changes or over a key that is recreated, indexes and constraints over a
column that must be dropped and re-added, views over altered columns or recreated functions,
triggers and policies of recreated relations.
"""

from __future__ import annotations

from schemashift.consumers.common.gcpause import gc_paused
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.operations import Operation

from .compare.collations import compare_collations
from .compare.comments import compare_comments
from .compare.common import Context, Unsupported, UnsupportedByTarget
from .compare.events import compare_events
from .compare.foreign_keys import compare_foreign_keys
from .compare.functions import compare_functions
from .compare.policies import compare_policies
from .compare.privileges import compare_privileges, keep_recreated_privileges
from .compare.schemas import compare_extensions, compare_schemas
from .compare.sequences import compare_sequences
from .compare.statistics import compare_statistics
from .compare.tables import compare_tables
from .compare.triggers import compare_triggers
from .compare.types import (
    compare_composite_types,
    compare_domains,
    compare_enums,
    compare_range_types,
)
from .compare.views import compare_views, rebuild_for_reverse_swaps
from .rules import rules_for

__all__ = ["Unsupported", "UnsupportedByTarget", "diff"]

# In dependency order: each comparator may read what the earlier ones put in the context.
_COMPARATORS = (
    compare_schemas,
    compare_extensions,
    compare_collations,
    compare_domains,
    compare_composite_types,
    compare_range_types,
    compare_sequences,
    compare_functions,
    compare_tables,
    compare_enums,  # converts the columns that compare_tables keeps
    compare_foreign_keys,
    compare_views,
    compare_triggers,
    compare_policies,
    compare_statistics,
    compare_events,
)


def diff(source: Catalog, target: Catalog, *, privileges: bool = False) -> list[Operation]:
    """Operations that turn ``target`` into ``source``; empty when the schemas are equal.

    With ``privileges``, GRANT/REVOKE differences are included too (roles must exist);
    without, objects the migration recreates keep the privileges they have in the target.
    Raises :class:`Unsupported` when it cannot produce the migration safely, in particular
    :class:`UnsupportedByTarget` when the target's server version cannot run the
    definitions the migration needs.
    """
    if source.dialect is not target.dialect:
        raise Unsupported(
            f"a {source.dialect} source cannot be compared with a {target.dialect} target: "
            "the engine migrates between databases of one dialect"
        )
    rules = rules_for(target.dialect)
    with gc_paused():
        source, target = rules.comparable(source, target)
        ctx = Context(source=source, target=target)
        ops: list[Operation] = []
        for compare in _COMPARATORS:
            ops += compare(ctx)
        ops += compare_privileges(ctx) if privileges else keep_recreated_privileges(ctx)
        ops += rebuild_for_reverse_swaps(ctx)
        ops += compare_comments(ctx, ops)
        ops = rules.operations(ops, source, target)
        rules.check_versions(ops, target)
        return ops
