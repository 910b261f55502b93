"""alert outbox, EmailBison reconciliation cursors, provider activity, lead syncs

``alerts`` becomes the one alert outbox: queue dead letters and integration health alerts,
one row per (workspace, integration, category, UTC day) through its unique ``dedupe_key``,
with a delivery state so a Slack post happens at most once per row. Rows recorded before
delivery existed are marked ``failed`` (never sent, and not sent now: they are old news).

``emailbison_reconcile`` holds each workspace's reply cursor and what reconciliation recovered;
``provider_activity`` the last webhook and the usual gap per workspace x provider (computed by a
periodic task from ``webhook_events``, not on the request path); ``lead_syncs`` the per-lead
sync sequence (the dedupe key of a pending sync) and its last result.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ALERT_DELIVERY = ("pending", "sending", "delivered", "no_destination", "failed", "unknown")


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.add_column(
        "alerts", sa.Column("integration", sa.Text(), nullable=False, server_default="queue")
    )
    op.add_column("alerts", sa.Column("message", sa.Text(), nullable=True))
    op.add_column(
        "alerts",
        sa.Column("delivery_status", sa.Text(), nullable=False, server_default="pending"),
    )
    op.add_column(
        "alerts",
        sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("alerts", sa.Column("delivery_error", sa.Text(), nullable=True))
    op.add_column(
        "alerts", sa.Column("delivery_queued_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE alerts SET delivery_status = 'failed', "
        "delivery_error = 'recorded before alert delivery existed'"
    )
    op.create_check_constraint(
        op.f("ck_alerts_delivery_status"), "alerts", f"delivery_status IN {_values(ALERT_DELIVERY)}"
    )
    op.create_index(
        "ix_alerts_to_queue",
        "alerts",
        ["id"],
        postgresql_where=sa.text("delivery_status = 'pending' AND delivery_queued_at IS NULL"),
    )

    op.create_table(
        "emailbison_reconcile",
        sa.Column("workspace_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=True),
        sa.Column("runs", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("recovered_total", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_recovered", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_seen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_complete", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id"),
    )
    op.create_table(
        "provider_activity",
        sa.Column("workspace_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("last_webhook_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("usual_gap_s", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("silent_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "provider"),
    )
    op.create_table(
        "lead_syncs",
        sa.Column("workspace_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", postgresql.JSONB(), nullable=True),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id", "lead_id"),
    )
    # The silence task reads a workspace x provider's recent webhooks newest first.
    op.create_index(
        "ix_webhook_events_workspace_id_provider_received_at",
        "webhook_events",
        ["workspace_id", "provider", "received_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_workspace_id_provider_received_at", "webhook_events")
    op.drop_table("lead_syncs")
    op.drop_table("provider_activity")
    op.drop_table("emailbison_reconcile")
    op.drop_index("ix_alerts_to_queue", "alerts")
    op.drop_constraint(op.f("ck_alerts_delivery_status"), "alerts")
    for column in (
        "delivery_queued_at",
        "delivery_error",
        "delivery_attempts",
        "delivery_status",
        "message",
        "integration",
    ):
        op.drop_column("alerts", column)
