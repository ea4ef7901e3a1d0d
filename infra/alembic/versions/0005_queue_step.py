"""The comparator's queue step as one function: one round trip instead of five or six.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In READ COMMITTED each statement of a PL/pgSQL function reads a new snapshot, so the
    # head is read after the target's lock is held, as the statements sent one by one did.
    op.execute(
        """
        CREATE FUNCTION comparison_queue_step(
            p_target text, p_arrived uuid, p_request jsonb, p_trace_context jsonb, p_ended uuid
        ) RETURNS TABLE (request jsonb, trace_context jsonb)
        LANGUAGE plpgsql AS $$
        DECLARE
            head record;
        BEGIN
            IF p_arrived IS NOT NULL THEN
                INSERT INTO comparison_queue (migration_id, target, request, trace_context)
                VALUES (p_arrived, p_target, p_request, p_trace_context)
                ON CONFLICT (migration_id) DO NOTHING;
            END IF;
            PERFORM pg_advisory_xact_lock(hashtextextended('schemashift.queue:' || p_target, 0));
            IF p_ended IS NOT NULL THEN
                UPDATE comparison_queue SET state = 'ended' WHERE migration_id = p_ended;
            END IF;
            SELECT q.migration_id, q.request, q.trace_context, q.state, q.compared_at
            INTO head
            FROM comparison_queue q
            WHERE q.target = p_target AND q.state IN ('active', 'queued')
            ORDER BY q.state <> 'active', q.seq
            LIMIT 1;
            IF NOT FOUND OR (head.state = 'active' AND head.compared_at IS NOT NULL) THEN
                RETURN;
            END IF;
            IF head.state = 'queued' THEN
                UPDATE comparison_queue SET state = 'active' WHERE migration_id = head.migration_id;
            END IF;
            RETURN QUERY SELECT head.request, head.trace_context;
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION comparison_queue_step(text, uuid, jsonb, jsonb, uuid)")
