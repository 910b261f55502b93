from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import BigInteger, Date, DateTime, Integer, Text

from replydesk.core.base import Base
from replydesk.core.sql import sql_values
from replydesk.queue.vocabulary import AlertDelivery, AttemptOutcome, QueueStatus

# The statuses as plain strings (stats keys, filter validation); see QueueStatus.
QUEUE_STATUSES = tuple(status.value for status in QueueStatus)


class QueueItem:
    """Columns every queue table has; the engine in queue/ works on any of them."""

    # The primary key is each table's: (id) for jobs, (id, workspace_id) for webhook_events.
    id: Mapped[int] = mapped_column(BigInteger, Identity())
    # Permanent: a delivered or finished item still blocks its duplicates. Unique per
    # workspace: each table's uq_<table>_workspace_id_dedupe_key (migration 0019).
    dedupe_key: Mapped[str | None] = mapped_column(Text)
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


# Finished items (retention prunes them; dead ones stay).
FINISHED_SQL = "status IN ('succeeded', 'ignored')"


def queue_indexes(table: str, created_column: str = "created_at") -> tuple[Index, ...]:
    """Indexes every queue table needs, named after the table."""
    return (
        # Retention: the oldest finished rows (migration 0012).
        Index(f"ix_{table}_finished", created_column, postgresql_where=text(FINISHED_SQL)),
        # Claim: the oldest due pending rows. Partial, so finished rows cost nothing.
        Index(f"ix_{table}_claim", "run_at", "id", postgresql_where=text("status = 'pending'")),
        # Rescuer: running rows whose lease ran out.
        Index(f"ix_{table}_lease", "lease_expires_at", postgresql_where=text("status = 'running'")),
        # Stats and the dead-letter list: counts and scans by status.
        Index(f"ix_{table}_status_id", "status", "id"),
    )


def queue_status_check() -> CheckConstraint:
    """``ck_<table>_status``: every queue table's status is a QueueStatus."""
    return CheckConstraint(f"status IN {sql_values(QueueStatus)}", name="status")


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

    __table_args__ = (
        # Instance jobs have no workspace: the key stays (id) (docs/scaling.md).
        PrimaryKeyConstraint("id"),
        # Instance jobs dedupe among themselves (NULLS NOT DISTINCT); a job without a
        # dedupe key is never deduplicated (partial). ON CONFLICT names the predicate.
        Index(
            "uq_jobs_workspace_id_dedupe_key",
            "workspace_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
            postgresql_nulls_not_distinct=True,
        ),
        *queue_indexes("jobs"),
        queue_status_check(),
    )


class Alert(Base):
    """The alert outbox: one row per workspace x integration x category x UTC day — a dead
    queue item (integration ``queue``, category = its error class) or an integration health
    change (``provider_auth``, ``provider_disconnected``, ``provider_silent``, ``reconnected`` …).

    Repeats on the same day increment ``count`` (INSERT … ON CONFLICT (workspace_id,
    dedupe_key) DO UPDATE).
    Each row is posted to the workspace's Slack at most once (``delivery_status``, see
    ``AlertDelivery``; the ``alert.deliver`` job, docs/queue.md "Alerts").
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # "{workspace_id or 'global'}:{error_class}:{day}"; unique per workspace, global alerts
    # (workspace NULL) among themselves: uq_alerts_workspace_id_dedupe_key.
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    error_class: Mapped[str] = mapped_column(Text, nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)  # queue table of the last item
    count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    last_item_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)  # redacted, truncated
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "queue" for dead letters, else the integration (emailbison, ghl, unipile, slack).
    integration: Mapped[str] = mapped_column(Text, nullable=False, server_default="queue")
    message: Mapped[str | None] = mapped_column(Text)  # what the Slack post says (no secrets)
    delivery_status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    delivery_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    delivery_error: Mapped[str | None] = mapped_column(Text)
    # Set when a delivery job was queued for the row (the sweep queues each row once).
    delivery_queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("workspace_id", "dedupe_key", postgresql_nulls_not_distinct=True),
        # A workspace's recent alerts; the workspaces FK cascade.
        Index("ix_alerts_workspace_id_day", "workspace_id", "day"),
        Index("ix_alerts_undelivered", "id", postgresql_where=text("delivered_at IS NULL")),
        # Retention of delivered alerts (migration 0012).
        Index(
            "ix_alerts_delivered_at",
            "delivered_at",
            postgresql_where=text("delivered_at IS NOT NULL"),
        ),
        # Rows the delivery sweep still has to queue.
        Index(
            "ix_alerts_to_queue",
            "id",
            postgresql_where=text("delivery_status = 'pending' AND delivery_queued_at IS NULL"),
        ),
        CheckConstraint(f"delivery_status IN {sql_values(AlertDelivery)}", name="delivery_status"),
    )


class QueueAttempt(Base):
    """One attempt at a queue item, written by the engine in the transaction that records
    its outcome (so a rolled-back attempt leaves no row): the dead-letter history.

    ``source`` is the queue table (``queues.TABLES``), ``item_id`` its row; no foreign key, so
    one table serves every queue table. Old rows are pruned (``queue_attempts_retention_days``).
    """

    __tablename__ = "queue_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    item_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The item's workspace (NULL for instance jobs, and for attempts older than migration 0019
    # whose item was already pruned), so a sharded database keeps attempts with their item.
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)  # the item's attempts then
    worker: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # claim time
    finished_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    outcome: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str | None] = mapped_column(Text)
    # queue.errors.error_text: no statement parameters or values, secrets and PII masked.
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # An item's history, in order.
        Index("ix_queue_attempts_source_item_id_id", "source", "item_id", "id"),
        # Pruning old attempts.
        Index("ix_queue_attempts_finished_at", "finished_at"),
        CheckConstraint(f"outcome IN {sql_values(AttemptOutcome)}", name="outcome"),
    )


class SchedulerRun(Base):
    """One row per periodic task per time slot: the worker whose INSERT wins runs the slot."""

    __tablename__ = "scheduler_runs"

    task: Mapped[str] = mapped_column(Text, primary_key=True)
    slot: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    worker: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    # Pruning old slots.
    __table_args__ = (Index("ix_scheduler_runs_slot", "slot"),)
