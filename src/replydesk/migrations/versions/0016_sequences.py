"""sequences: follow-up sequences, enrolments of leads, the steps taken

- sequences: a workspace's follow-up sequences (name, trigger, steps as JSON, enabled).
- followups: one lead enrolled in one sequence (unique per workspace x lead x sequence),
  its state (active | paused | stopped | completed), next step and when it is due, the stop
  reason, counts.
- followup_steps: one row per workspace x lead x sequence x step (the primary key): a step
  is queued into the reply path, skipped or failed once, never twice.

Every primary and unique key starts with workspace_id (tests/core/test_tenant_scoping.py).
Value lists are written out (see 0005).

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = ("no_reply_after_outbound", "manual")
FOLLOWUP_STATE = ("active", "paused", "stopped", "completed")
STOP_REASON = ("replied", "unsubscribed", "meeting_booked", "lead_closed", "manual")
STEP_STATUS = ("queued", "skipped", "failed")
CHANNEL = ("email", "sms", "linkedin")
# table -> (column, allowed values) (tests/core/test_vocabulary.py).
CHECKS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "sequences": (("trigger", TRIGGER),),
    "followups": (("state", FOLLOWUP_STATE),),
    "followup_steps": (("status", STEP_STATUS), ("channel", CHANNEL)),
}


def _values(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _workspace_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id"],
        ["workspaces.id"],
        name=op.f(f"fk_{table}_workspace_id_workspaces"),
        ondelete="CASCADE",
    )


def _lead_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["lead_id"], ["leads.id"], name=op.f(f"fk_{table}_lead_id_leads"), ondelete="CASCADE"
    )


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="SET NULL"
    )


def upgrade() -> None:
    op.create_table(
        "sequences",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("steps", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _workspace_fk("sequences"),
        _user_fk("sequences", "updated_by"),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_sequences")),
        sa.CheckConstraint(f"trigger IN {_values(TRIGGER)}", name=op.f("ck_sequences_trigger")),
    )
    op.create_table(
        "followups",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("sequence_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), server_default="active", nullable=False),
        sa.Column("current_step", sa.Integer(), server_default="0", nullable=False),
        _timestamp("started_at"),
        sa.Column("next_step_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("sent_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("step_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("held_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_skip_reason", sa.Text(), nullable=True),
        sa.Column("started_by_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        _workspace_fk("followups"),
        _lead_fk("followups"),
        _user_fk("followups", "created_by"),
        sa.ForeignKeyConstraint(
            ["workspace_id", "sequence_id"],
            ["sequences.workspace_id", "sequences.id"],
            name=op.f("fk_followups_workspace_id_sequences"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "id", name=op.f("pk_followups")),
        sa.UniqueConstraint(
            "workspace_id",
            "lead_id",
            "sequence_id",
            name=op.f("uq_followups_workspace_id_lead_id_sequence_id"),
        ),
        sa.CheckConstraint(f"state IN {_values(FOLLOWUP_STATE)}", name=op.f("ck_followups_state")),
        sa.CheckConstraint(
            f"stop_reason IS NULL OR stop_reason IN {_values(STOP_REASON)}",
            name=op.f("ck_followups_stop_reason"),
        ),
    )
    op.create_index(
        "ix_followups_due",
        "followups",
        ["next_step_at"],
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_table(
        "followup_steps",
        sa.Column("workspace_id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.BigInteger(), nullable=False),
        sa.Column("sequence_id", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reply_message_id", sa.BigInteger(), nullable=True),
        _timestamp("created_at"),
        _workspace_fk("followup_steps"),
        _lead_fk("followup_steps"),
        sa.ForeignKeyConstraint(
            ["workspace_id", "followup_id"],
            ["followups.workspace_id", "followups.id"],
            name=op.f("fk_followup_steps_workspace_id_followups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reply_message_id"],
            ["messages.id"],
            name=op.f("fk_followup_steps_reply_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "lead_id", "sequence_id", "step", name=op.f("pk_followup_steps")
        ),
        sa.CheckConstraint(
            f"status IN {_values(STEP_STATUS)}", name=op.f("ck_followup_steps_status")
        ),
        sa.CheckConstraint(
            f"channel IN {_values(CHANNEL)}", name=op.f("ck_followup_steps_channel")
        ),
    )


def downgrade() -> None:
    op.drop_table("followup_steps")
    op.drop_index("ix_followups_due", table_name="followups")
    op.drop_table("followups")
    op.drop_table("sequences")
