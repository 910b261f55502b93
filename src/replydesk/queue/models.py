from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from replydesk.core.base import Base

# pending → running → succeeded | pending (retry) | dead; ignored = stored, never processed.
QUEUE_STATUSES = ("pending", "running", "succeeded", "dead", "ignored")


class QueueItem:
    """Columns every queue table has; the engine in queue/ works on any of them."""

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Permanent: a delivered or finished item still blocks its duplicates.
    dedupe_key: Mapped[str | None] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="8")
    run_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_by: Mapped[str | None] = mapped_column(Text)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


def queue_indexes(table: str) -> tuple[Index, ...]:
    """Indexes every queue table needs, named after the table."""
    return (
        # Claim: the oldest due pending rows. Partial, so finished rows cost nothing.
        Index(f"ix_{table}_claim", "run_at", "id", postgresql_where=text("status = 'pending'")),
        # Rescuer: running rows whose lease ran out.
        Index(f"ix_{table}_lease", "lease_expires_at", postgresql_where=text("status = 'running'")),
        # Stats and the dead-letter list: counts and scans by status.
        Index(f"ix_{table}_status_id", "status", "id"),
    )


class Job(QueueItem, Base):
    """Background work that later features enqueue (follow-ups, AI drafts, alerts)."""

    __tablename__ = "jobs"

    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    __table_args__ = queue_indexes("jobs")
