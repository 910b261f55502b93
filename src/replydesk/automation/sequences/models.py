"""Tables of follow-up sequences (owner: ``automation.sequences.service``, statements in its
``repository``). Citus-ready: every key starts with ``workspace_id``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from replydesk.automation.sequences.vocabulary import (
    FollowupState,
    SequenceTrigger,
    StepStatus,
    StopReason,
)
from replydesk.core.base import Base, created_at_column, tenant_foreign_key
from replydesk.core.sql import sql_values
from replydesk.leads.vocabulary import Channel


class Sequence(Base):
    """A follow-up sequence: its steps (channel, delay, subject, template) as validated JSON."""

    __tablename__ = "sequences"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    trigger: Mapped[str] = mapped_column(Text, nullable=False)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        PrimaryKeyConstraint("workspace_id", "id"),
        CheckConstraint(f"trigger IN {sql_values(SequenceTrigger)}", name="trigger"),
    )


class Followup(Base):
    """One lead enrolled in one sequence (unique: enrolling twice is the same enrolment).
    ``current_step`` is the index of the next step to send; ``next_step_at`` when it is due."""

    __tablename__ = "followups"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(), nullable=False)
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sequence_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    current_step: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # What the first delay counts from: the campaign send that started it, or the enrolment.
    # A reply stops the sequence only when it came after this.
    started_at: Mapped[datetime] = created_at_column()
    next_step_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Out of office: the next step waits until this (then goes on by itself).
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_reason: Mapped[str | None] = mapped_column(Text)
    sent_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    skipped_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    failed_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # Errors of our own on the current step (reset when it moves on); bounded retries.
    step_failures: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # When the current step was first held back by a gated provider (bounded wait).
    held_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_skip_reason: Mapped[str | None] = mapped_column(Text)
    started_by_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        PrimaryKeyConstraint("workspace_id", "id"),
        UniqueConstraint("workspace_id", "lead_id", "sequence_id"),
        tenant_foreign_key("followups", "lead_id", "leads", "CASCADE"),
        ForeignKeyConstraint(
            ["workspace_id", "sequence_id"],
            ["sequences.workspace_id", "sequences.id"],
            ondelete="CASCADE",
        ),
        # The tick's claim: due active enrolments, oldest due first.
        Index(
            "ix_followups_due",
            "next_step_at",
            postgresql_where=text("state = 'active'"),
        ),
        CheckConstraint(f"state IN {sql_values(FollowupState)}", name="state"),
        CheckConstraint(
            f"stop_reason IS NULL OR stop_reason IN {sql_values(StopReason)}", name="stop_reason"
        ),
    )


class FollowupStep(Base):
    """A step taken: one row per lead x sequence x step (the primary key), written in the
    transaction that queues its reply, so a replayed or concurrent tick never sends twice."""

    __tablename__ = "followup_steps"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sequence_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    followup_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    reply_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        PrimaryKeyConstraint("workspace_id", "lead_id", "sequence_id", "step"),
        tenant_foreign_key("followup_steps", "lead_id", "leads", "CASCADE"),
        tenant_foreign_key("followup_steps", "reply_message_id", "messages", "SET NULL"),
        ForeignKeyConstraint(
            ["workspace_id", "followup_id"],
            ["followups.workspace_id", "followups.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(f"status IN {sql_values(StepStatus)}", name="status"),
        CheckConstraint(f"channel IN {sql_values(Channel)}", name="channel"),
    )
