"""attention SLA: an index for counting the leads that have waited too long

- ix_leads_attention_waiting: leads requiring attention (the ix_leads_attention predicate:
  awaiting a reply, not unsubscribed/closed, newest inbound not an out-of-office reply) by
  (workspace_id, last_inbound_at), the snooze INCLUDEd. The counts read counts a
  workspace's leads waiting since before ``now() - attention_sla_hours`` with one bounded
  index-only range scan of it (time-based, so no trigger can keep it as a counter row);
  ``GET leads?filter=sla_breached`` walks the same range.

The predicate is written out (see 0005); inbox/models.py keeps the same text.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTENTION = (
    "awaiting_reply AND status NOT IN ('unsubscribed', 'closed') "
    "AND (out_of_office_at IS NULL OR last_inbound_at > out_of_office_at)"
)


def upgrade() -> None:
    op.create_index(
        "ix_leads_attention_waiting",
        "leads",
        ["workspace_id", "last_inbound_at"],
        postgresql_include=["snoozed_until"],
        postgresql_where=sa.text(ATTENTION),
    )


def downgrade() -> None:
    op.drop_index("ix_leads_attention_waiting", table_name="leads")
