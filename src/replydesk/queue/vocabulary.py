"""The queue's words, in one place: models, schemas, SQL and CHECK constraints use them."""

from __future__ import annotations

from enum import StrEnum


class QueueStatus(StrEnum):
    """Where a queued item (webhook event, job) is: pending → running → succeeded, or back to
    pending for a retry, or dead; ignored = stored for the record, never processed."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    IGNORED = "ignored"


class AttemptOutcome(StrEnum):
    """``queue_attempts.outcome``: how one attempt at an item ended."""

    SUCCEEDED = "succeeded"
    IGNORED = "ignored"  # nothing to do (the reason is the attempt's error text)
    RETRY = "retry"  # failed, back to pending after a backoff
    DEAD = "dead"  # failed permanently or on its last attempt
    LEASE_EXPIRED = "lease_expired"  # the worker stopped during the attempt (rescuer)
