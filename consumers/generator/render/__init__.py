"""Script generation: order operations, render them for a dialect, and derive the reverse."""

from __future__ import annotations

from typing import Any

from schemashift.consumers.common.gcpause import gc_paused
from schemashift.consumers.generator.order import plan
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Operation, Script, Statement

from . import mysql, postgres, sqlite
from .base import Renderer

__all__ = ["RENDERERS", "Renderer", "UnsupportedDialect", "generate", "renderer_for"]

# Each dialect's renderer has its own context type, which only it sees: hence ``Renderer[Any]``.
RENDERERS: dict[Dialect, Renderer[Any]] = {
    Dialect.POSTGRESQL: postgres.RENDERER,
    Dialect.SQLITE: sqlite.RENDERER,
    Dialect.MYSQL: mysql.RENDERER,
}


class UnsupportedDialect(ValueError):
    """No renderer exists for the requested dialect."""


def renderer_for(dialect: Dialect | str) -> Renderer[Any]:
    """The renderer of ``dialect``; :class:`UnsupportedDialect` when there is none."""
    try:
        return RENDERERS[Dialect(dialect)]
    except (KeyError, ValueError):
        raise UnsupportedDialect(f"no SQL renderer for dialect {dialect!r}") from None


def generate(
    ops: list[Operation],
    dialect: Dialect | str = Dialect.POSTGRESQL,
    *,
    concurrent_indexes: bool = False,
    reverse: bool = True,
) -> Script:
    """Ordered statements applying ``ops`` and, separately, the statements undoing them.

    The reverse script is rendered from the reversed operations, ordered by the same rules, so
    it is as safe to apply as the forward one (``reverse=False`` leaves it out, for a caller
    that only shows the forward script). With ``concurrent_indexes``, indexes on existing
    tables are created and dropped CONCURRENTLY, as statements that run on their own.
    """
    renderer = renderer_for(dialect)
    rules = renderer.order_rules
    with gc_paused():
        forward: list[Statement] = renderer.render(
            plan([op for op in ops if op.forward], rules), concurrent_indexes=concurrent_indexes
        )
        backward: list[Statement] = []
        if reverse:
            undo = [op.reverse() for op in ops if op.direction != "forward"]
            backward = renderer.render(plan(undo, rules), concurrent_indexes=concurrent_indexes)
    return Script(statements=forward, reverse_statements=backward)
