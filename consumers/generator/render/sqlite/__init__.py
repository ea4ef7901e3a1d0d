"""Render ordered operations as SQLite statements, each annotated with its hazards.

Identifiers are quoted by SQLAlchemy's SQLite identifier preparer; the text that came from the
catalog (types, defaults, constraint definitions, the stored text of indexes, views and
triggers) is SQLite's own and is used verbatim.

The comparator's SQLite rules already made each operation one that SQLite runs as it is: a
table change SQLite's ALTER TABLE cannot make arrives as one rebuild of the table (an ALTER of
the table holding both whole tables), so every unit is one operation. A script with a rebuild
turns foreign key enforcement off before its transaction (``PRAGMA foreign_keys`` does nothing
inside one), checks every foreign key at the end of the transaction, failing it when a row
violates one, and turns enforcement on again after it.

Printed (:meth:`SQLiteRenderer.script_text`), the script holds its own transaction: the
statements the executor runs in one are between ``BEGIN IMMEDIATE`` and ``COMMIT``, and the
first line, ``.bail on``, makes the ``sqlite3`` shell stop at the first error (it would
otherwise go on and commit the statements before it), so that ``sqlite3 file.db < script.sql``
applies all of it or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from schemashift.consumers.generator.order import SharedRules
from schemashift.consumers.generator.render.base import Renderer
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.hazards import Hazard
from schemashift.schemas.operations import ObjectType, Operation, OpKind, Statement

from .common import Emit, RenderContext, q
from .objects import render_index, render_trigger, render_view
from .tables import column_definition, create_table_sql, render_column, render_table

__all__ = ["RENDERER", "SQLiteRenderer", "column_definition", "create_table_sql"]

_RENDERERS: dict[ObjectType, Callable[[Operation, RenderContext, Emit], None]] = {
    ObjectType.TABLE: render_table,
    ObjectType.COLUMN: render_column,
    ObjectType.INDEX: render_index,
    ObjectType.VIEW: render_view,
    ObjectType.TRIGGER: render_trigger,
}

FK_CHECK_TABLE = "_schemashift_fk_check"
# The kind of the statements that set foreign key enforcement (a setting of the connection).
PRAGMA_KIND = "pragma"
_VIOLATED = "a foreign key is violated: PRAGMA foreign_key_check lists the rows"


def _statement(sql: str, kind: str, *hazards: Hazard, transactional: bool = True) -> Statement:
    return Statement(
        sql=sql + ";",
        kind=kind,
        object="main",
        hazards=list(hazards),
        transactional=transactional,
    )


def foreign_key_check() -> list[Statement]:
    """Statements that fail the transaction when a row violates a foreign key: the rows
    ``pragma_foreign_key_check`` lists go into a temporary table whose CHECK refuses any."""
    table = f"temp.{q(FK_CHECK_TABLE)}"
    return [
        _statement(
            f'CREATE TEMP TABLE {q(FK_CHECK_TABLE)} ("table" TEXT, "rowid" INTEGER, '
            f'parent TEXT, fkid INTEGER, CONSTRAINT {q(_VIOLATED)} CHECK ("table" IS NULL))',
            "foreign_key_check",
        ),
        _statement(
            f"INSERT INTO {table} SELECT * FROM pragma_foreign_key_check",
            "foreign_key_check",
            Hazard.NEEDS_VALIDATION,
        ),
        _statement(f"DROP TABLE {table}", "foreign_key_check"),
    ]


def _is_rebuild(op: Operation) -> bool:
    return op.object_type is ObjectType.TABLE and op.kind is OpKind.ALTER


class SQLiteRenderer(Renderer[RenderContext]):
    """SQLite's statements, one operation at a time (see the module)."""

    dialect = Dialect.SQLITE
    order_rules = SharedRules()

    def render(self, ops: list[Operation], *, concurrent_indexes: bool = False) -> list[Statement]:
        statements = super().render(ops, concurrent_indexes=concurrent_indexes)
        if not any(_is_rebuild(op) for op in ops):
            return statements
        off = _statement(
            "PRAGMA foreign_keys = OFF", PRAGMA_KIND, Hazard.NOT_TRANSACTIONAL, transactional=False
        )
        on = _statement(
            "PRAGMA foreign_keys = ON", PRAGMA_KIND, Hazard.NOT_TRANSACTIONAL, transactional=False
        )
        return [off, *statements, *foreign_key_check(), on]

    def context(self, ops: list[Operation], *, concurrent_indexes: bool) -> RenderContext:
        return RenderContext.of(ops)

    def render_unit(self, unit: Sequence[Operation], context: RenderContext) -> list[Statement]:
        (op,) = unit
        out: list[Statement] = []
        rebuild = (Hazard.DEPENDENT_REBUILD,) if op.dependent else ()

        def emit(sql: str, *hazards: Hazard, transactional: bool = True) -> None:
            out.append(
                Statement(
                    sql=sql + ";",
                    kind=op.label,
                    object=op.qualified_name,
                    hazards=list(dict.fromkeys(hazards + rebuild)),
                    transactional=transactional,
                )
            )

        render = _RENDERERS.get(op.object_type)
        if render is None:
            raise ValueError(f"SQLite has no {op.object_type.value} objects ({op.label})")
        render(op, context, emit)
        return out

    def script_text(self, statements: list[Statement]) -> str:
        """The script as ``sqlite3 file.db < script.sql`` runs it: all of it or nothing."""
        parts: list[str] = [".bail on"] if statements else []
        open_transaction = False
        for statement in statements:
            if statement.transactional and not open_transaction:
                parts.append("BEGIN IMMEDIATE;")
                open_transaction = True
            elif not statement.transactional and open_transaction:
                parts.append("COMMIT;")
                open_transaction = False
            parts.append(statement.annotated())
        if open_transaction:
            parts.append("COMMIT;")
        return "\n\n".join(parts)


RENDERER = SQLiteRenderer()
