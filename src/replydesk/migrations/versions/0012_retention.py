"""retention: partial indexes for pruning finished queue items and delivered alerts

The retention tasks (queue.tasks, auth.tasks) delete or shrink old rows in bounded batches;
each statement picks the oldest rows through one of these partial indexes, so finished rows
cost nothing to find and pending/dead rows are never scanned. Sessions and throttles already
have their indexes (0004).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINISHED = "status IN ('succeeded', 'ignored')"


def upgrade() -> None:
    op.create_index(
        "ix_webhook_events_finished",
        "webhook_events",
        ["received_at"],
        postgresql_where=sa.text(FINISHED),
    )
    op.create_index(
        "ix_webhook_events_payload_kept",
        "webhook_events",
        ["received_at"],
        postgresql_where=sa.text(f"{FINISHED} AND payload <> '{{}}'::jsonb"),
    )
    op.create_index("ix_jobs_finished", "jobs", ["created_at"], postgresql_where=sa.text(FINISHED))
    op.create_index(
        "ix_alerts_delivered_at",
        "alerts",
        ["delivered_at"],
        postgresql_where=sa.text("delivered_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_alerts_delivered_at", table_name="alerts")
    op.drop_index("ix_jobs_finished", table_name="jobs")
    op.drop_index("ix_webhook_events_payload_kept", table_name="webhook_events")
    op.drop_index("ix_webhook_events_finished", table_name="webhook_events")
