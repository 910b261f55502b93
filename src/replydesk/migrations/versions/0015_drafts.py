"""drafts: AI/template drafts with their audit, automation settings, the AI integration

- drafts: one per inbound message (unique), status (pending_review | approved | sent |
  rejected | superseded | failed), source (ai | template), the verifier's status (passed |
  failed | skipped | timeout | truncated) and notes, the audit (model, prompt version,
  context hash, tokens, timings, approver/rejecter, the edit's diff), the reply it queued.
- automation_settings: a workspace's PUT settings/automation body and its PUT
  settings/availability body.
- slot_offers: how often each meeting slot was offered (least-offered first).
- meetings: meetings booked with a lead (POST leads/{id}/meeting); leads.status gains
  ``meeting_booked``.
- integration_credentials / integration_health: ``openai`` joins the providers.

Value lists are written out (see 0005).

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DRAFT_STATUS = ("pending_review", "approved", "sent", "rejected", "superseded", "failed")
DRAFT_SOURCE = ("ai", "template")
VERIFIER_STATUS = ("passed", "failed", "skipped", "timeout", "truncated")
CHANNEL = ("email", "sms", "linkedin")
OLD_LEAD_STATUS = ("active", "bounced", "unsubscribed", "closed")
LEAD_STATUS = ("active", "meeting_booked", "bounced", "unsubscribed", "closed")
# table -> (column, allowed values); re-created here (tests/core/test_vocabulary.py).
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "leads": (("status", LEAD_STATUS),),
}
OLD_INTEGRATION = ("emailbison", "ghl", "unipile", "slack")
NEW_INTEGRATION = (*OLD_INTEGRATION, "openai")


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _integrations(values: tuple[str, ...], *, upgrading: bool) -> None:
    """0007 named these through the naming convention (``ck_<t>_ck_<t>_provider``); the new
    ones get the models' names (``ck_<t>_provider``), and a downgrade restores 0007's."""
    for table in ("integration_credentials", "integration_health"):
        old, new = f"ck_{table}_ck_{table}_provider", f"ck_{table}_provider"
        if not upgrading:
            old, new = new, old
        op.drop_constraint(op.f(old), table, type_="check")
        op.create_check_constraint(op.f(new), table, f"provider IN {_values(values)}")


def _user_fk(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_drafts_{column}_users"), ondelete="SET NULL"
    )


def _lead_status(values: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_leads_status"), "leads", type_="check")
    op.create_check_constraint(op.f("ck_leads_status"), "leads", f"status IN {_values(values)}")


def upgrade() -> None:
    _integrations(NEW_INTEGRATION, upgrading=True)
    _lead_status(LEAD_STATUS)
    op.create_table(
        "automation_settings",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column(
            "settings",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("availability", sa.dialects.postgresql.JSONB(), nullable=True),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_automation_settings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_automation_settings_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_automation_settings")),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("in_reply_to_message_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("generated_body", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending_review", nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("category_confidence", sa.Float(), nullable=True),
        sa.Column("verifier_status", sa.Text(), nullable=False),
        sa.Column(
            "verifier_notes",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("prompt_version", sa.Text(), nullable=False),
        sa.Column("context_hash", sa.Text(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column(
            "timings",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=True),
        sa.Column("auto_send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_sent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("edit_diff", sa.Text(), nullable=True),
        sa.Column("rejected_by", sa.UUID(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by_message_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "offered_slots",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_drafts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_drafts_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["in_reply_to_message_id"],
            ["messages.id"],
            name=op.f("fk_drafts_in_reply_to_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reply_message_id"],
            ["messages.id"],
            name=op.f("fk_drafts_reply_message_id_messages"),
            ondelete="SET NULL",
        ),
        _user_fk("approved_by"),
        _user_fk("rejected_by"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint(
            "workspace_id",
            "in_reply_to_message_id",
            name=op.f("uq_drafts_workspace_id_in_reply_to_message_id"),
        ),
        sa.CheckConstraint(f"status IN {_values(DRAFT_STATUS)}", name=op.f("ck_drafts_status")),
        sa.CheckConstraint(f"source IN {_values(DRAFT_SOURCE)}", name=op.f("ck_drafts_source")),
        sa.CheckConstraint(
            f"verifier_status IN {_values(VERIFIER_STATUS)}", name=op.f("ck_drafts_verifier_status")
        ),
        sa.CheckConstraint(f"channel IN {_values(CHANNEL)}", name=op.f("ck_drafts_channel")),
    )
    op.create_index(
        "ix_drafts_pending_review",
        "drafts",
        ["workspace_id", "created_at", "id"],
        postgresql_where=sa.text("status = 'pending_review'"),
    )
    op.create_index("ix_drafts_lead_id_created_at", "drafts", ["lead_id", "created_at"])
    op.create_table(
        "slot_offers",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_slot_offers_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "slot_start", name=op.f("pk_slot_offers")),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_meetings_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_meetings_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["booked_by"],
            ["users.id"],
            name=op.f("fk_meetings_booked_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint(
            "workspace_id", "lead_id", "start", name=op.f("uq_meetings_workspace_id_lead_id_start")
        ),
    )


def downgrade() -> None:
    op.drop_table("meetings")
    op.drop_table("slot_offers")
    op.drop_table("drafts")
    op.drop_table("automation_settings")
    op.execute("DELETE FROM integration_credentials WHERE provider = 'openai'")
    _integrations(OLD_INTEGRATION, upgrading=False)
    op.execute("UPDATE leads SET status = 'active' WHERE status = 'meeting_booked'")
    _lead_status(OLD_LEAD_STATUS)
