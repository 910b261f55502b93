"""Tables of the sync domain (one writer: ``integrations.sync.service``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from replydesk.core.base import Base


class EmailBisonReconcile(Base):
    """A workspace's EmailBison reply cursor (the newest reply id seen by polling) and what
    reconciliation recovered (replies no webhook had delivered)."""

    __tablename__ = "emailbison_reconcile"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[int | None] = mapped_column(BigInteger)
    runs: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    recovered_total: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    last_recovered: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_seen: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    # False: the page bound ran out before the cursor was reached (a gap was skipped).
    last_complete: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ProviderActivity(Base):
    """Last webhook and usual gap per workspace x provider, computed by the silence task from
    ``webhook_events`` (never written on the request path)."""

    __tablename__ = "provider_activity"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    last_webhook_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    usual_gap_s: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    silent_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class LeadSync(Base):
    """Per lead: ``seq`` (the dedupe key of the pending sync job; a finished sync bumps it)
    and the last sync's result."""

    __tablename__ = "lead_syncs"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    lead_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
