"""The queue tables the engine knows, and the item a worker holds while it runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class QueueTable:
    """A table with the ``QueueItem`` columns. Names come from this list only (no user input)."""

    name: str
    channel: str  # NOTIFY channel of its insert trigger (migration 0001)
    extra: tuple[str, ...]  # columns a claim returns besides the common ones
    kind_sql: str  # the handler key, as an SQL expression over the row
    created_column: str = "created_at"  # when a row came in: retention windows count from it

    def __post_init__(self) -> None:
        assert self.name.isidentifier()


WEBHOOK_EVENTS = QueueTable(
    name="webhook_events",
    channel="replydesk_webhook_events",
    extra=("workspace_id", "provider", "event_type", "received_at"),
    kind_sql="provider || ':' || event_type",
    created_column="received_at",
)
JOBS = QueueTable(
    name="jobs",
    channel="replydesk_jobs",
    extra=("workspace_id", "type", "created_at"),
    kind_sql="type",
)
TABLES: dict[str, QueueTable] = {t.name: t for t in (WEBHOOK_EVENTS, JOBS)}


def table_named(name: str) -> QueueTable:
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown queue table {name!r}; one of {sorted(TABLES)}") from None


@dataclass
class ClaimedItem:
    """A row this worker claimed: ``attempts`` already counts the current attempt."""

    table: str
    id: int
    kind: str  # "emailbison:EMAIL_SENT" for events, the job type for jobs
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    workspace_id: uuid.UUID | None
    worker: str
    fields: dict[str, Any] = field(default_factory=dict)  # the table's extra columns
    prepared: Any = None  # what the handler's prepare step returned
    claimed_at: datetime | None = None  # when this attempt started (the claim's locked_at)
