"""API tokens; connection URLs encrypted at rest.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from schemashift.consumers.common.redact import redact_url
    from schemashift.consumers.common.secrets import encrypt

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("scopes", postgresql.JSONB, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.add_column("connections", sa.Column("url_encrypted", sa.Text))
    op.add_column("connections", sa.Column("display_url", sa.Text))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT name, url FROM connections")).all()
    for name, url in rows:  # existing plaintext URLs are encrypted with the configured key
        bind.execute(
            sa.text(
                "UPDATE connections SET url_encrypted = :encrypted, display_url = :display "
                "WHERE name = :name"
            ),
            {"encrypted": encrypt(url), "display": redact_url(url), "name": name},
        )
    op.alter_column("connections", "url_encrypted", nullable=False)
    op.alter_column("connections", "display_url", nullable=False)
    op.drop_column("connections", "url")


def downgrade() -> None:
    from schemashift.consumers.common.secrets import decrypt

    op.add_column("connections", sa.Column("url", sa.Text))
    bind = op.get_bind()
    for name, encrypted in bind.execute(sa.text("SELECT name, url_encrypted FROM connections")):
        bind.execute(
            sa.text("UPDATE connections SET url = :url WHERE name = :name"),
            {"url": decrypt(encrypted), "name": name},
        )
    op.alter_column("connections", "url", nullable=False)
    op.drop_column("connections", "display_url")
    op.drop_column("connections", "url_encrypted")
    op.drop_table("api_tokens")
