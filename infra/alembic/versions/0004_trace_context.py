"""The trace context of work that waits: a queued comparison request, a script awaiting approval.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("comparison_queue", sa.Column("trace_context", postgresql.JSONB))
    op.add_column("executions", sa.Column("script_trace_context", postgresql.JSONB))


def downgrade() -> None:
    op.drop_column("executions", "script_trace_context")
    op.drop_column("comparison_queue", "trace_context")
