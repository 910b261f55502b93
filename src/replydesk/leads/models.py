from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import BigInteger, Boolean, Date, DateTime, Float, Integer, SmallInteger, Text

from replydesk.core.base import (
    Base,
    created_at_column,
    tenant_foreign_key,
    tenant_primary_key,
)
from replydesk.core.sql import sql_values
from replydesk.leads.vocabulary import (
    CategorySource,
    Channel,
    Direction,
    IdentityKind,
    LeadCategory,
    LeadEventKind,
    LeadStatus,
    MergeKind,
    MessageStatus,
    SentBy,
    SuggestionReason,
)


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    email: Mapped[str | None] = mapped_column(Text)  # normalised: trimmed, lower-case
    phone_e164: Mapped[str | None] = mapped_column(Text)
    linkedin_provider_id: Mapped[str | None] = mapped_column(Text)
    linkedin_profile_url: Mapped[str | None] = mapped_column(Text)
    ghl_contact_id: Mapped[str | None] = mapped_column(Text)
    emailbison_lead_id: Mapped[int | None] = mapped_column(BigInteger)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="active")
    category: Mapped[str | None] = mapped_column(Text)  # LeadCategory
    # Who set the category, how sure it was (0-1; null when not given), the time of what set
    # it (the inbound message's time for automatic ones: a newer message wins whatever order
    # the jobs run in) and the inbound message an automatic category came from (no foreign
    # key: a split may move that message to another lead; it is a reference for evaluation).
    category_source: Mapped[str | None] = mapped_column(Text)  # CategorySource
    category_confidence: Mapped[float | None] = mapped_column(Float)
    category_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    category_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The return date the newest out-of-office reply stated, and that reply's time: while
    # the newest inbound message is an auto-reply the lead does not require attention.
    out_of_office_until: Mapped[date | None] = mapped_column(Date)
    out_of_office_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sentiment: Mapped[str | None] = mapped_column(Text)
    # The lead.score job's result (0-100 and why), when, by what (ai | heuristic) and after
    # which inbound message (an older job never overwrites a newer score).
    score: Mapped[int | None] = mapped_column(SmallInteger)
    score_reasons: Mapped[list[str] | None] = mapped_column(JSONB)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    score_source: Mapped[str | None] = mapped_column(Text)
    score_message_id: Mapped[int | None] = mapped_column(BigInteger)
    untracked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The snooze as a stored flag: set by a BEFORE row trigger whenever snoozed_until is
    # written (true while it is in the future), cleared by the leads.snooze_wake task when
    # the time has passed, so the end of a snooze is a row change the inbox counter
    # triggers see (migration 0014). Never written by the application otherwise.
    snooze_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    assignee_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    open_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    bounce_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # Rollups, maintained with GREATEST() in the transaction that inserts the message.
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_outbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_team_outbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Channel of the newest inbound message (ties: greatest channel name), so inbox counts
    # can break "requires attention" down by channel without reading messages.
    last_inbound_channel: Mapped[str | None] = mapped_column(Text)
    # The lead wrote last and no team/AI answer is newer; the inbox's partial indexes
    # (inbox/models.py) are built on it. Stored, so it is never recomputed on read.
    awaiting_reply: Mapped[bool] = mapped_column(
        Boolean,
        Computed(
            "last_inbound_at IS NOT NULL AND "
            "(last_team_outbound_at IS NULL OR last_inbound_at > last_team_outbound_at)",
            persisted=True,
        ),
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        # Identity keys live in lead_identities (one lead per kind + value); these columns
        # are the lead's display values. E-mail keeps its prefix-search index (inbox, 0004).
        # Lead list: keyset pagination on (last_message_at DESC, id) within a workspace.
        Index(
            "ix_leads_workspace_id_last_message_at_id",
            "workspace_id",
            text("last_message_at DESC NULLS LAST"),
            text("id DESC"),
        ),
        # GET leads?sort=score: keyset on (score DESC NULLS LAST, id DESC) within a workspace.
        Index(
            "ix_leads_workspace_id_score_id",
            "workspace_id",
            text("score DESC NULLS LAST"),
            text("id DESC"),
        ),
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        # Snoozes whose time has passed, oldest first: the leads.snooze_wake task.
        Index("ix_leads_snooze_wake", "snoozed_until", postgresql_where=text("snooze_active")),
        CheckConstraint("NOT snooze_active OR snoozed_until IS NOT NULL", name="snooze_active"),
        CheckConstraint(f"status IN {sql_values(LeadStatus)}", name="status"),
        CheckConstraint(f"category IN {sql_values(LeadCategory)}", name="category"),
        CheckConstraint(f"category_source IN {sql_values(CategorySource)}", name="category_source"),
        CheckConstraint(
            "category_confidence >= 0 AND category_confidence <= 1", name="category_confidence"
        ),
        # NULL passes a CHECK: no inbound message yet, no channel.
        CheckConstraint(
            f"last_inbound_channel IN {sql_values(Channel)}", name="last_inbound_channel"
        ),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    direction: Mapped[str] = mapped_column(Text, nullable=False)
    sent_by: Mapped[str] = mapped_column(Text, nullable=False)
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    # Renderings, made when the message is stored (worker path): the provider's HTML, a
    # plain-text rendering of it (or the provider's own text), and the visible part of that
    # text (quoted history and signature folded away by the reply parser).
    body_html: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_visible: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Provider ids; each unique per workspace so replays and races cannot duplicate.
    emailbison_reply_id: Mapped[int | None] = mapped_column(BigInteger)
    emailbison_scheduled_email_id: Mapped[int | None] = mapped_column(BigInteger)
    ghl_message_id: Mapped[str | None] = mapped_column(Text)
    unipile_message_id: Mapped[str | None] = mapped_column(Text)
    ai_draft_id: Mapped[str | None] = mapped_column(Text)
    # The identity the message came through (its sender/recipient): a split moves it along.
    identity_id: Mapped[int | None] = mapped_column(BigInteger)
    # Our replies: queued → sent | failed (MessageStatus); provider-recorded rows: received.
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="received")
    failure_category: Mapped[str | None] = mapped_column(Text)
    failure_message: Mapped[str | None] = mapped_column(Text)
    # The send may have reached the provider but could not be confirmed (never re-sent).
    unknown_delivery: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("false")
    )
    # The Idempotency-Key of the reply request (unique per workspace).
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    # Set before a send call leaves, cleared when its outcome is recorded: a send job that
    # finds it set does not send again, it checks the provider first.
    send_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # How often the send was held (rate limit, gate, provider error): its jobs' dedupe keys.
    send_holds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # A reply: the inbound message it answers (a draft's message, or the lead's newest
    # inbound one for a manual reply). Unique among replies that did not fail: at most one
    # send per inbound message (an approved draft, an auto-send, a manual reply).
    answers_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("messages", "lead_id", "leads", "CASCADE"),
        tenant_foreign_key("messages", "identity_id", "lead_identities", "SET NULL"),
        tenant_foreign_key("messages", "answers_message_id", "messages", "SET NULL"),
        Index(
            "uq_messages_workspace_id_idempotency_key",
            "workspace_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        *(
            Index(
                f"uq_messages_workspace_id_{col}",
                "workspace_id",
                col,
                unique=True,
                postgresql_where=text(f"{col} IS NOT NULL"),
            )
            for col in (
                "emailbison_reply_id",
                "emailbison_scheduled_email_id",
                "ghl_message_id",
                "unipile_message_id",
                "ai_draft_id",
            )
        ),
        Index(
            "uq_messages_workspace_id_answers_message_id",
            "workspace_id",
            "answers_message_id",
            unique=True,
            postgresql_where=text(
                f"answers_message_id IS NOT NULL AND status <> '{MessageStatus.FAILED}'"
            ),
        ),
        # Conversation timeline of one lead, paged by (occurred_at, id).
        Index("ix_messages_lead_id_occurred_at_id", "lead_id", "occurred_at", "id"),
        Index("ix_messages_identity_id", "identity_id"),
        CheckConstraint(f"channel IN {sql_values(Channel)}", name="channel"),
        CheckConstraint(f"direction IN {sql_values(Direction)}", name="direction"),
        CheckConstraint(f"sent_by IN {sql_values(SentBy)}", name="sent_by"),
        CheckConstraint(f"status IN {sql_values(MessageStatus)}", name="status"),
    )


class LeadChannelQuarantine(Base):
    """A lead's channel the provider said cannot reach them (e.g. Unipile 422
    ``invalid_recipient``): replies on it are refused until an operator lifts it.

    One row per failed send (``message_id`` unique), so recording it is idempotent and a
    merge can move rows of both leads without conflicts; the channel is quarantined while
    any row of it is not lifted. Lead-owned (``merge_repository.LEAD_OWNED_TABLES``)."""

    __tablename__ = "lead_channel_quarantines"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)  # the provider's error type
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = created_at_column()
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lifted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("lead_channel_quarantines", "lead_id", "leads", "CASCADE"),
        tenant_foreign_key("lead_channel_quarantines", "message_id", "messages", "SET NULL"),
        Index(
            "uq_lead_channel_quarantines_workspace_id_message_id",
            "workspace_id",
            "message_id",
            unique=True,
            postgresql_where=text("message_id IS NOT NULL"),
        ),
        Index(
            "ix_lead_channel_quarantines_active",
            "lead_id",
            "channel",
            postgresql_where=text("lifted_at IS NULL"),
        ),
        Index("ix_lead_channel_quarantines_message_id", "message_id"),
        CheckConstraint(f"channel IN {sql_values(Channel)}", name="channel"),
    )


class LeadEvent(Base):
    """A timeline event of a lead: a provider event (open, click, bounce, unsubscribe), an
    operator change (status, category, assignee) or a merge/split.

    Provider events carry ``external_id`` (from the webhook's dedupe key) and are inserted
    with ``ON CONFLICT DO NOTHING``, so a re-delivered event is one entry; the open/bounce
    counters are incremented only when the row is inserted. Operator events have no
    external id: each change is its own entry.
    """

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # LeadEventKind
    external_id: Mapped[str | None] = mapped_column(Text)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("lead_events", "lead_id", "leads", "CASCADE"),
        Index(
            "uq_lead_events_workspace_id_kind_external_id",
            "workspace_id",
            "kind",
            "external_id",
            unique=True,
        ),
        # The leads FK cascade and the timeline, paged by (occurred_at, id).
        Index("ix_lead_events_lead_id_occurred_at_id", "lead_id", "occurred_at", "id"),
        CheckConstraint(f"kind IN {sql_values(LeadEventKind)}", name="kind"),
    )


class LeadNote(Base):
    """An operator's note on a lead; in the timeline at ``created_at``."""

    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("lead_notes", "lead_id", "leads", "CASCADE"),
        Index("ix_lead_notes_lead_id_created_at_id", "lead_id", "created_at", "id"),
    )


class Tag(Base):
    """A workspace's tag; names are unique per workspace (as written, trimmed)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        Index("uq_tags_workspace_id_name", "workspace_id", "name", unique=True),
    )


class LeadTag(Base):
    """A tag attached to a lead (attach/detach are idempotent on the primary key)."""

    __tablename__ = "lead_tags"

    lead_id: Mapped[int] = mapped_column(BigInteger)
    tag_id: Mapped[int] = mapped_column(BigInteger)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_foreign_key("lead_tags", "lead_id", "leads", "CASCADE"),
        tenant_foreign_key("lead_tags", "tag_id", "tags", "CASCADE"),
        PrimaryKeyConstraint("workspace_id", "lead_id", "tag_id"),
        # The tag:<name> filter and the tags FK cascade.
        Index("ix_lead_tags_tag_id_lead_id", "tag_id", "lead_id"),
    )


class LeadRead(Base):
    """A user's read mark on a lead: unread when the lead's newest inbound message is newer.

    No row means never read; marking unread deletes the row.
    """

    __tablename__ = "lead_reads"

    lead_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    __table_args__ = (
        tenant_foreign_key("lead_reads", "lead_id", "leads", "CASCADE"),
        PrimaryKeyConstraint("workspace_id", "user_id", "lead_id"),
        # The leads FK cascade.
        Index("ix_lead_reads_lead_id", "lead_id"),
    )


class LeadIdentity(Base):
    """A hard identity of a person: events carrying it attach to its lead.

    Unique per workspace and (kind, value): claiming one is ``INSERT … ON CONFLICT DO
    NOTHING``, so two concurrent events can never give one identity two leads.
    """

    __tablename__ = "lead_identities"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # IdentityKind
    value: Mapped[str] = mapped_column(Text, nullable=False)  # normalised (leads.identity)
    # linkedin_id only: the Unipile chat of its last processed message (what a sync pulls).
    unipile_chat_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("lead_identities", "lead_id", "leads", "CASCADE"),
        Index(
            "uq_lead_identities_workspace_id_kind_value",
            "workspace_id",
            "kind",
            "value",
            unique=True,
        ),
        Index("ix_lead_identities_lead_id", "lead_id"),
        # q= prefix search over every identity (text_pattern_ops: LIKE 'abc%' in any collation).
        Index(
            "ix_lead_identities_search",
            "workspace_id",
            "value",
            postgresql_ops={"value": "text_pattern_ops"},
        ),
        CheckConstraint(f"kind IN {sql_values(IdentityKind)}", name="kind"),
    )


class LeadMerge(Base):
    """A recorded merge or split: who, when, and the ids of every row it moved, so it can be
    undone exactly. ``absorbed_lead_id`` has no foreign key: a merged lead is deleted (its id
    answers 301 while the merge stands)."""

    __tablename__ = "lead_merges"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # MergeKind
    surviving_lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    absorbed_lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Split: the identity split off.
    identity_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # {table: [row ids]} moved from absorbed to surviving (merge) or to the new lead (split).
    moved: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # Merge: the absorbed lead's row as it was; the surviving lead's columns the merge changed
    # ({column: [before, after]}).
    absorbed_row: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    surviving_changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at_column()
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    __table_args__ = (
        tenant_primary_key(),
        # GET leads/{absorbed} → 301: at most one standing merge absorbed a given lead.
        Index(
            "uq_lead_merges_absorbed_lead_id",
            "workspace_id",
            "absorbed_lead_id",
            unique=True,
            postgresql_where=text("undone_at IS NULL AND kind = 'merge'"),
        ),
        Index("ix_lead_merges_surviving_lead_id", "workspace_id", "surviving_lead_id"),
        CheckConstraint(f"kind IN {sql_values(MergeKind)}", name="kind"),
    )


class LeadMergeSuggestion(Base):
    """Two leads one event's hard identities pointed at (never merged automatically).

    Stored once per pair (lower id first); name matches are computed when asked for."""

    __tablename__ = "lead_merge_suggestions"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger)
    other_lead_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, nullable=False)  # SuggestionReason
    identity_kind: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        PrimaryKeyConstraint("workspace_id", "lead_id", "other_lead_id"),
        tenant_foreign_key("lead_merge_suggestions", "lead_id", "leads", "CASCADE"),
        tenant_foreign_key("lead_merge_suggestions", "other_lead_id", "leads", "CASCADE"),
        Index("ix_lead_merge_suggestions_other_lead_id", "other_lead_id"),
        CheckConstraint("lead_id < other_lead_id", name="ordered_pair"),
        CheckConstraint(f"reason IN {sql_values(SuggestionReason)}", name="reason"),
    )


class CategoryOverride(Base):
    """An operator's change of an automatic category: a labelled example for evaluating the
    categoriser (what automation said, what the operator said, about which message, when)."""

    __tablename__ = "category_overrides"

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The inbound message the automatic category came from (no foreign key, as on leads).
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    automatic_category: Mapped[str] = mapped_column(Text, nullable=False)
    automatic_source: Mapped[str] = mapped_column(Text, nullable=False)
    automatic_confidence: Mapped[float | None] = mapped_column(Float)
    manual_category: Mapped[str] = mapped_column(Text, nullable=False)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (
        tenant_primary_key(),
        tenant_foreign_key("category_overrides", "lead_id", "leads", "CASCADE"),
        Index("ix_category_overrides_lead_id", "lead_id"),
        Index("ix_category_overrides_workspace_id_created_at", "workspace_id", "created_at"),
        CheckConstraint(
            f"automatic_category IN {sql_values(LeadCategory)}", name="automatic_category"
        ),
        CheckConstraint(f"manual_category IN {sql_values(LeadCategory)}", name="manual_category"),
        CheckConstraint(
            f"automatic_source IN {sql_values(CategorySource)}", name="automatic_source"
        ),
    )
