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


class AlertDelivery(StrEnum):
    """``alerts.delivery_status``: where an alert's Slack post is. At most once: ``sending`` is
    committed before the post, so a crash mid-post leaves it ``sending`` (never posted twice)."""

    PENDING = "pending"  # to be queued for delivery (or back after a definite non-delivery)
    SENDING = "sending"  # claimed by a delivery job; the post may be under way
    DELIVERED = "delivered"
    NO_DESTINATION = "no_destination"  # the workspace has no Slack integration: recorded only
    FAILED = "failed"  # Slack refused for good, or the attempts ran out
    UNKNOWN = "unknown"  # the post may have reached Slack (a timeout after it left)


# The job type that delivers one alert (handled by integrations/alerts, queued by its task).
ALERT_DELIVER_JOB = "alert.deliver"
# ``alerts.integration`` of the queue's own dead-letter alerts.
QUEUE_INTEGRATION = "queue"
