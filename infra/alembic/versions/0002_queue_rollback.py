"""Per-target comparison queue; rollbacks and rejections in the migrations table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparison_queue",
        sa.Column("migration_id", sa.Uuid, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False, unique=True),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("request", postgresql.JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("compared_at", sa.DateTime(timezone=True)),
        sa.Column(
            "enqueued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_comparison_queue_target", "comparison_queue", ["target", "state", "seq"])
    op.add_column("migrations", sa.Column("operations", postgresql.JSONB))
    op.add_column("migrations", sa.Column("source_fingerprint", sa.String(64)))
    op.add_column("migrations", sa.Column("rollback_of", sa.Uuid))
    op.add_column("migrations", sa.Column("rejected_by", sa.String(128)))


def downgrade() -> None:
    for column in ("rejected_by", "rollback_of", "source_fingerprint", "operations"):
        op.drop_column("migrations", column)
    op.drop_table("comparison_queue")
