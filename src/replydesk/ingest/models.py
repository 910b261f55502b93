from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from replydesk.core.base import Base, tenant_primary_key
from replydesk.core.sql import sql_values
from replydesk.integrations.base import ProviderName
from replydesk.queue.models import FINISHED_SQL, QueueItem, queue_indexes, queue_status_check


class WebhookEvent(QueueItem, Base):
    """The durable inbox: every accepted webhook delivery, exactly once per dedupe key."""

    __tablename__ = "webhook_events"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("workspace_id", "dedupe_key"),
        *queue_indexes("webhook_events", "received_at"),
        # Retention: finished events whose payload is still kept (migration 0012).
        Index(
            "ix_webhook_events_payload_kept",
            "received_at",
            postgresql_where=text(f"{FINISHED_SQL} AND payload <> '{{}}'::jsonb"),
        ),
        # Operator list of a workspace's events, newest first, optionally by status.
        Index("ix_webhook_events_workspace_id_status_id", "workspace_id", "status", "id"),
        # Silence detection (integrations/sync): a workspace x provider's newest webhooks.
        Index(
            "ix_webhook_events_workspace_id_provider_received_at",
            "workspace_id",
            "provider",
            "received_at",
        ),
        queue_status_check(),
        CheckConstraint(f"provider IN {sql_values(ProviderName)}", name="provider"),
    )
