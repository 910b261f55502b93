"""Inbox tables and the indexes the inbox reads need on other domains' tables.

The statements that use each index live in ``inbox/repository.py``; migration 0004 creates
them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, SmallInteger, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from replydesk.core.base import Base
from replydesk.core.sql import sql_values
from replydesk.ingest.models import WebhookEvent
from replydesk.leads.models import Lead
from replydesk.leads.vocabulary import OUT_OF_ATTENTION

# The requires-attention predicate minus the snooze (now() cannot be in an index predicate):
# awaiting a reply, not unsubscribed/closed, and the newest inbound message is not an
# out-of-office auto-reply (migration 0013). Literal constants, not bound parameters: the
# planner must see the index's own predicate.
ATTENTION_PREDICATE = (
    f"awaiting_reply AND status NOT IN {sql_values(OUT_OF_ATTENTION)} "
    "AND (out_of_office_at IS NULL OR last_inbound_at > out_of_office_at)"
)

# Counted in inbox_counters (migration 0014 writes the same text into its triggers): requires
# attention with the snooze as its stored flag. A lead whose snooze has ended but is not yet
# woken (leads.snooze_wake) is added at read time from ix_leads_snooze_ended.
COUNTED_PREDICATE = f"{ATTENTION_PREDICATE} AND NOT snooze_active"
UNKNOWN_CHANNEL = "unknown"
UNCATEGORIZED = "uncategorized"

# Slots per workspace in workspace_lead_totals: concurrent lead inserts of one workspace
# spread over this many counter rows instead of queueing on one row lock.
LEAD_TOTAL_SLOTS = 8


class InboxCountsCache(Base):
    """Last good counts per workspace: the fallback when the counts query times out."""

    __tablename__ = "inbox_counts_cache"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class WorkspaceLeadTotal(Base):
    """Number of leads per workspace, kept by statement-level triggers on ``leads``.

    ``total_leads`` is then a sum over at most LEAD_TOTAL_SLOTS rows instead of a count
    over every lead of the workspace.
    """

    __tablename__ = "workspace_lead_totals"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    lead_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class InboxCounter(Base):
    """Leads requiring attention per workspace, slot and (channel, category), kept by
    statement-level triggers on ``leads`` (migration 0014) in the writing transaction.

    ``channel`` is the lead's newest inbound channel or ``unknown``; ``category`` its
    category or ``uncategorized``. A slot is one open transaction's own (advisory lock, see
    ``inbox_counter_slot``); counts are ``sum(n)`` over the workspace's rows. ``n`` of one
    row may be negative (a slot that only saw leads leave); the sums never are.
    """

    __tablename__ = "inbox_counters"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    category: Mapped[str] = mapped_column(Text, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


_leads = Lead.__table__
_events = WebhookEvent.__table__

# Requires attention: one partial index serves both reads. The counts query scans only the
# workspace's entries (index-only: snooze, channel and category are INCLUDEd), and the
# requires_attention lead list walks it in (last_message_at DESC, id DESC) keyset order.
Index(
    "ix_leads_attention",
    _leads.c.workspace_id,
    text("last_message_at DESC NULLS LAST"),
    text("id DESC"),
    postgresql_include=["snoozed_until", "last_inbound_channel", "category"],
    postgresql_where=text(ATTENTION_PREDICATE),
)
# Counts: snoozes of the workspace that have ended but are not woken yet (a few rows: only
# snoozed leads are in it, and the wake-up task keeps the ended ones few).
Index(
    "ix_leads_snooze_ended",
    _leads.c.workspace_id,
    _leads.c.snoozed_until,
    postgresql_where=text("snooze_active"),
)
# The attention SLA (migration 0018): leads requiring attention by how long they have waited
# (newest inbound message), so the counts read counts the workspace's breaches with one
# bounded index-only range scan (the snooze is INCLUDEd) and filter=sla_breached walks it.
Index(
    "ix_leads_attention_waiting",
    _leads.c.workspace_id,
    _leads.c.last_inbound_at,
    postgresql_include=["snoozed_until"],
    postgresql_where=text(ATTENTION_PREDICATE),
)
# sort=oldest_waiting: leads awaiting a reply, oldest newest-inbound first.
Index(
    "ix_leads_waiting",
    _leads.c.workspace_id,
    _leads.c.last_inbound_at,
    _leads.c.id,
    postgresql_where=text("awaiting_reply"),
)
# The per-user unread count walks the workspace's leads with an inbound message, newest
# first, and stops at UNREAD_COUNT_CAP unread ones.
Index(
    "ix_leads_last_inbound",
    _leads.c.workspace_id,
    text("last_inbound_at DESC"),
    text("id DESC"),
    postgresql_where=text("last_inbound_at IS NOT NULL"),
)
# Prefix search (q=) on e-mail, "first last", last name and company. text_pattern_ops so
# LIKE 'abc%' uses the index whatever the database collation.
Index(
    "ix_leads_search_email",
    _leads.c.workspace_id,
    _leads.c.email,
    postgresql_ops={"email": "text_pattern_ops"},
)
Index(
    "ix_leads_search_full_name",
    _leads.c.workspace_id,
    # Parenthesised as PostgreSQL prints it back, so the drift check can compare it.
    func.lower(text("(coalesce(first_name, '') || ' ') || coalesce(last_name, '')")).label(
        "full_name"
    ),
    postgresql_ops={"full_name": "text_pattern_ops"},
)
Index(
    "ix_leads_search_last_name",
    _leads.c.workspace_id,
    func.lower(_leads.c.last_name).label("last_name"),
    postgresql_ops={"last_name": "text_pattern_ops"},
)
Index(
    "ix_leads_search_company",
    _leads.c.workspace_id,
    func.lower(_leads.c.company).label("company"),
    postgresql_ops={"company": "text_pattern_ops"},
)
# Operator list of webhook events without a status filter, newest first (the foundation's
# (workspace_id, status, id) index only orders within one status).
Index("ix_webhook_events_workspace_id_id", _events.c.workspace_id, _events.c.id)
