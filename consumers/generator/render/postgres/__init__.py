"""Render ordered operations as PostgreSQL statements, each annotated with its hazards.

One small renderer per kind of object, registered in :data:`_RENDERERS`. Identifiers are quoted
by SQLAlchemy's PostgreSQL identifier preparer; SQL text that came from the catalog (types,
defaults, constraint/index/view/function/trigger definitions) is PostgreSQL's own rendering and
is used verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from schemashift.consumers.generator import postgres_order
from schemashift.consumers.generator.render.base import Renderer
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import ObjectType, Operation, Statement

from .collations import render_collation
from .comments import render_comment
from .common import Emit, RenderContext, literal, q, qn
from .constraints import render_constraint, render_index
from .functions import render_function
from .policies import render_policy
from .privileges import render_privilege
from .schemas import render_extension, render_schema
from .sequences import render_sequence
from .statistics import render_statistics
from .tables import column_definition, render_column, render_inheritance, render_table
from .tables import type_change_hazards as type_change_hazards
from .triggers import render_trigger
from .types import render_composite_type, render_domain, render_enum, render_range_type
from .views import render_view

__all__ = [
    "RENDERER",
    "PostgresRenderer",
    "RenderContext",
    "column_definition",
    "literal",
    "q",
    "qn",
    "render_operation",
    "type_change_hazards",
]

_RENDERERS: dict[ObjectType, Callable[[Operation, RenderContext, Emit], None]] = {
    ObjectType.SCHEMA: render_schema,
    ObjectType.EXTENSION: render_extension,
    ObjectType.COLLATION: render_collation,
    ObjectType.ENUM: render_enum,
    ObjectType.DOMAIN: render_domain,
    ObjectType.COMPOSITE_TYPE: render_composite_type,
    ObjectType.RANGE_TYPE: render_range_type,
    ObjectType.SEQUENCE: render_sequence,
    ObjectType.FUNCTION: render_function,
    ObjectType.TABLE: render_table,
    ObjectType.INHERITANCE: render_inheritance,
    ObjectType.COLUMN: render_column,
    ObjectType.CONSTRAINT: render_constraint,
    ObjectType.FOREIGN_KEY: render_constraint,
    ObjectType.INDEX: render_index,
    ObjectType.VIEW: render_view,
    ObjectType.MATERIALIZED_VIEW: render_view,
    ObjectType.TRIGGER: render_trigger,
    ObjectType.POLICY: render_policy,
    ObjectType.STATISTICS: render_statistics,
    ObjectType.PRIVILEGE: render_privilege,
    ObjectType.COMMENT: render_comment,
}


class PostgresRenderer(Renderer[RenderContext]):
    """PostgreSQL's statements: one operation at a time (ALTER TABLE needs no merging)."""

    dialect = Dialect.POSTGRESQL
    order_rules = postgres_order.RULES

    def context(self, ops: list[Operation], *, concurrent_indexes: bool) -> RenderContext:
        return RenderContext.of(ops, concurrent_indexes=concurrent_indexes)

    def render_unit(self, unit: Sequence[Operation], context: RenderContext) -> list[Statement]:
        (op,) = unit
        return render_operation(op, context)


RENDERER = PostgresRenderer()


def render_operation(op: Operation, ctx: RenderContext) -> list[Statement]:
    """The statements of one operation. Those of an object dropped and created again only
    because something it depends on changes (``op.dependent``) carry ``dependent_rebuild``."""
    out: list[Statement] = []
    rebuild = (Hazard.DEPENDENT_REBUILD,) if op.dependent else ()

    def emit(sql: str, *hazards: Hazard, transactional: bool = True) -> None:
        hazards += rebuild
        out.append(
            Statement(
                sql=sql + ";",
                kind=op.label,
                object=op.qualified_name,
                hazards=list(dict.fromkeys(hazards)),
                transactional=transactional,
            )
        )

    _RENDERERS[op.object_type](op, ctx, emit)
    return out
