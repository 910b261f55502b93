"""outbound replies: message status and send state, channel quarantines, health gates

- messages: ``status`` (received | queued | sent | failed; every existing row and every row a
  provider records is ``received``), the failure (category, message, unknown delivery), the
  reply request's ``idempotency_key`` (unique per workspace), ``send_started_at`` (a send call
  may be in flight: never send again without checking the provider) and ``send_holds``.
- lead_channel_quarantines: a lead's channel the provider said cannot reach them; one row per
  failed send (unique message id), lifted by an operator.
- integration_health: ``limited_until`` (rate_limited until then) and ``failure_streak``
  (consecutive send errors; degraded from a threshold).

Value lists are written out (see 0005); tests/core/test_vocabulary.py keeps them equal to the
enums.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE_STATUS = ("received", "queued", "sent", "failed")
CHANNEL = ("email", "sms", "linkedin")
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "messages": (("status", MESSAGE_STATUS),),
    "lead_channel_quarantines": (("channel", CHANNEL),),
}


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.add_column(
        "messages", sa.Column("status", sa.Text(), server_default="received", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_messages_status"), "messages", f"status IN {_values(MESSAGE_STATUS)}"
    )
    op.add_column("messages", sa.Column("failure_category", sa.Text(), nullable=True))
    op.add_column("messages", sa.Column("failure_message", sa.Text(), nullable=True))
    op.add_column(
        "messages",
        sa.Column(
            "unknown_delivery", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column("messages", sa.Column("idempotency_key", sa.Text(), nullable=True))
    op.add_column(
        "messages", sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "messages", sa.Column("send_holds", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_index(
        "uq_messages_workspace_id_idempotency_key",
        "messages",
        ["workspace_id", "idempotency_key"],
        unique=True,
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )

    op.create_table(
        "lead_channel_quarantines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_user_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            f"channel IN {_values(CHANNEL)}", name=op.f("ck_lead_channel_quarantines_channel")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_lead_channel_quarantines_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_channel_quarantines_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_lead_channel_quarantines_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by_user_id"],
            ["users.id"],
            name=op.f("fk_lead_channel_quarantines_lifted_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_channel_quarantines")),
    )
    # Recording a quarantine is idempotent per failed send.
    op.create_index(
        "uq_lead_channel_quarantines_workspace_id_message_id",
        "lead_channel_quarantines",
        ["workspace_id", "message_id"],
        unique=True,
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
    # A lead's channel states (GET lead, the reply gate) and the leads FK cascade.
    op.create_index(
        "ix_lead_channel_quarantines_active",
        "lead_channel_quarantines",
        ["lead_id", "channel"],
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    # The messages FK (SET NULL on delete).
    op.create_index(
        "ix_lead_channel_quarantines_message_id", "lead_channel_quarantines", ["message_id"]
    )

    op.add_column(
        "integration_health",
        sa.Column("limited_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "integration_health",
        sa.Column("failure_streak", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("integration_health", "failure_streak")
    op.drop_column("integration_health", "limited_until")
    op.drop_index("ix_lead_channel_quarantines_message_id", table_name="lead_channel_quarantines")
    op.drop_index(
        "ix_lead_channel_quarantines_active",
        table_name="lead_channel_quarantines",
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.drop_index(
        "uq_lead_channel_quarantines_workspace_id_message_id",
        table_name="lead_channel_quarantines",
        postgresql_where=sa.text("message_id IS NOT NULL"),
    )
    op.drop_table("lead_channel_quarantines")
    op.drop_index(
        "uq_messages_workspace_id_idempotency_key",
        table_name="messages",
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    for column in (
        "send_holds",
        "send_started_at",
        "idempotency_key",
        "unknown_delivery",
        "failure_message",
        "failure_category",
    ):
        op.drop_column("messages", column)
    op.drop_constraint(op.f("ck_messages_status"), "messages", type_="check")
    op.drop_column("messages", "status")
