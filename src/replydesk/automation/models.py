"""Tables of the automation domain (owner: ``automation.repository`` through its services):
drafts of replies and each workspace's automation settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from replydesk.automation.vocabulary import DraftSource, DraftStatus, VerifierStatus
from replydesk.core.base import (
    Base,
    created_at_column,
    tenant_foreign_key,
    tenant_primary_key,
)
from replydesk.core.sql import sql_values
from replydesk.leads.vocabulary import Channel


class AutomationSettings(Base):
    """``PUT settings/automation``: the whole validated body, as given."""

    __tablename__ = "automation_settings"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # PUT settings/availability (null: none given; meeting drafts offer no slots).
    availability: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = created_at_column()


class SlotOffer(Base):
    """How often a meeting slot was offered in a draft (least-offered first); incremented
    with ``INSERT … ON CONFLICT DO UPDATE SET offered = offered + 1``."""

    __tablename__ = "slot_offers"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = created_at_column()


class Meeting(Base):
    """A meeting booked with a lead (``POST leads/{id}/meeting``); a repeat is the same row."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    booked_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("meetings", "lead_id", "leads", "CASCADE"),
        UniqueConstraint("workspace_id", "lead_id", "start"),
    )


class Draft(Base):
    """One drafted reply to one inbound message (unique: the draft job is deduplicated and a
    replay inserts nothing), with its audit: model, prompt version, context hash, tokens,
    timings, verifier outcome, who approved/edited/rejected it and when."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    in_reply_to_message_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    generated_body: Mapped[str] = mapped_column(Text, nullable=False)  # before any edit
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending_review")
    source: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str | None] = mapped_column(Text)
    category_confidence: Mapped[float | None] = mapped_column(Float)
    verifier_status: Mapped[str] = mapped_column(Text, nullable=False)
    verifier_notes: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    model: Mapped[str | None] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(Text, nullable=False)
    context_hash: Mapped[str] = mapped_column(Text, nullable=False)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    timings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    # The queued reply an approval made (its status says sent or failed).
    reply_message_id: Mapped[int | None] = mapped_column(BigInteger)
    auto_send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    auto_sent: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"))
    approved_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edit_diff: Mapped[str | None] = mapped_column(Text)  # unified diff of the approver's edit
    rejected_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by_message_id: Mapped[int | None] = mapped_column(BigInteger)
    offered_slots: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("drafts", "lead_id", "leads", "CASCADE"),
        tenant_foreign_key("drafts", "in_reply_to_message_id", "messages", "CASCADE"),
        tenant_foreign_key("drafts", "reply_message_id", "messages", "SET NULL"),
        UniqueConstraint("workspace_id", "in_reply_to_message_id"),
        # The approval queue: oldest first, keyset-paged on (created_at, id).
        Index(
            "ix_drafts_pending_review",
            "workspace_id",
            "created_at",
            "id",
            postgresql_where=text("status = 'pending_review'"),
        ),
        Index("ix_drafts_lead_id_created_at", "lead_id", "created_at"),
        CheckConstraint(f"status IN {sql_values(DraftStatus)}", name="status"),
        CheckConstraint(f"source IN {sql_values(DraftSource)}", name="source"),
        CheckConstraint(f"verifier_status IN {sql_values(VerifierStatus)}", name="verifier_status"),
        CheckConstraint(f"channel IN {sql_values(Channel)}", name="channel"),
    )
