"""The metadata database: connections, the append-only event log, migrations, executions.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("dialect", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", _TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("migration_id", sa.Uuid, nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("occurred_at", _TZ, nullable=False),
        sa.Column("recorded_at", _TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("causation_id", sa.Uuid),
        sa.Column("producer", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("body", postgresql.JSONB, nullable=False),
    )
    op.create_index("ix_events_migration", "events", ["migration_id", "seq"])
    op.create_index("ix_events_target", "events", ["target", "seq"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    # Append-only: the log is the source of truth, so the database itself refuses edits.
    op.execute(
        """
        CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP;
        END $$;
        """
    )
    op.execute(
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events "
        "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()"
    )
    op.create_table(
        "migrations",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("source", sa.String(128)),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("mode", sa.String(16)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("allow_hazards", postgresql.JSONB, nullable=False, server_default="[]"),
        sa.Column("summary", postgresql.JSONB),
        sa.Column("statements", postgresql.JSONB),
        sa.Column("reverse_statements", postgresql.JSONB),
        sa.Column("hazards", postgresql.JSONB),
        sa.Column("checksum", sa.String(64)),
        sa.Column("target_fingerprint", sa.String(64)),
        sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total", sa.Integer),
        sa.Column("error", postgresql.JSONB),
        sa.Column("approved_by", sa.String(128)),
        sa.Column("approved", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.Column("applied_at", _TZ),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_migrations_target_created", "migrations", ["target", "created_at"])
    op.create_index("ix_migrations_status", "migrations", ["status"])
    op.create_table(
        "executions",
        sa.Column("migration_id", sa.Uuid, primary_key=True),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("script_event", postgresql.JSONB),
        sa.Column("approved", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("approval_event", postgresql.JSONB),
        sa.Column("outcome_event", postgresql.JSONB),
        sa.Column("updated_at", _TZ, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("executions")
    op.drop_table("migrations")
    op.execute("DROP TRIGGER events_append_only ON events")
    op.execute("DROP FUNCTION events_append_only()")
    op.drop_table("events")
    op.drop_table("connections")
