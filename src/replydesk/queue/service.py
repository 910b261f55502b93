"""The queue's service API: enqueue, replay, stats and alerts. All run in the caller's transaction.

Stable names used by other domains (see docs/queue.md): ``enqueue``, ``replay``,
``replay_matching``, ``count_matching``, ``discard_matching``, ``queue_stats``, ``record_alert``,
``record_alert_once``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.queue import repository, retention_repository
from replydesk.queue.models import QUEUE_STATUSES
from replydesk.queue.queues import TABLES, WEBHOOK_EVENTS, QueueTable, table_named
from replydesk.queue.vocabulary import ALERT_DELIVER_JOB, QUEUE_INTEGRATION, AlertDelivery

# Statuses an item can be replayed from (pending/running items are already queued).
REPLAYABLE = ("dead", "succeeded", "ignored")


async def enqueue(
    session: AsyncSession,
    type: str,
    payload: dict[str, Any],
    dedupe_key: str | None,
    *,
    run_at: datetime | None = None,
    workspace_id: uuid.UUID | None = None,
    max_attempts: int | None = None,
) -> int | None:
    """Insert a job in the caller's transaction: it commits (or not) with the data it refers to.

    ``INSERT … ON CONFLICT (workspace_id, dedupe_key) DO NOTHING``: returns the new job id, or
    None when a job with this key exists in the workspace (instance jobs: among instance jobs),
    in any status: keys are permanent, so a finished job is never enqueued again under the
    same key. Keys embed the ids they are about, which are global, so in practice a key is
    unique across workspaces too.
    """
    return await repository.insert_job(
        session,
        type,
        payload,
        dedupe_key,
        run_at=run_at,
        workspace_id=workspace_id,
        max_attempts=max_attempts,
    )


async def enqueue_many(
    session: AsyncSession,
    jobs: list[tuple[str, dict[str, Any], str, uuid.UUID | None]],
) -> None:
    """``enqueue`` for several jobs (type, payload, dedupe key, workspace id) in one
    statement, each once per workspace and dedupe key (the first of a repeated one is kept)."""
    unique: dict[tuple[str, str], tuple[str, str, str, uuid.UUID | None]] = {}
    for job_type, payload, dedupe_key, workspace_id in jobs:
        unique.setdefault(
            (dedupe_key, str(workspace_id)),
            (job_type, json.dumps(payload), dedupe_key, workspace_id),
        )
    if unique:
        await repository.insert_jobs(session, [unique[k] for k in sorted(unique)])


@dataclass(frozen=True)
class ReplayResult:
    id: int
    previous_status: str
    status: str  # "pending" when replayed, else unchanged
    replayed: bool


async def replay(
    session: AsyncSession,
    item_id: int,
    *,
    table: str = WEBHOOK_EVENTS.name,
    workspace_id: uuid.UUID | None = None,
) -> ReplayResult | None:
    """Put one finished item (dead, succeeded or ignored) back to pending with fresh attempts.

    Returns None when no such item exists (in ``workspace_id``, when given). A pending or
    running item is left alone (``replayed=False``). Reprocessing is safe: every handler is
    idempotent by its unique keys. ``last_error`` is kept as history until the next failure.
    """
    t = table_named(table)
    old = await repository.lock_status(session, t, item_id, workspace_id)
    if old is None:
        return None
    if old not in REPLAYABLE:
        return ReplayResult(item_id, old, old, replayed=False)
    await repository.reset_to_pending(session, t, item_id)
    return ReplayResult(item_id, old, "pending", replayed=True)


@dataclass(frozen=True)
class Selection:
    """Which finished items a bulk replay touches: one table, one status, optional filters."""

    table: str
    status: str = "dead"
    provider: str | None = None
    job_type: str | None = None
    since: datetime | None = None

    def where(self) -> tuple[QueueTable, str, dict[str, Any]]:
        t = table_named(self.table)
        if self.status not in REPLAYABLE:
            raise ValueError(f"can only replay items in status {', '.join(REPLAYABLE)}")
        where, params = repository.matching(
            t, self.status, self.provider, self.job_type, self.since
        )
        return t, where, params


async def count_matching(session: AsyncSession, selection: Selection) -> int:
    t, where, params = selection.where()
    return await repository.count_where(session, t, where, params)


async def replay_matching(
    session: AsyncSession, selection: Selection, *, after_id: int = 0, limit: int = 500
) -> list[int]:
    """Replay at most ``limit`` matching items with id > ``after_id`` (ascending); returns their
    ids. Callers loop in small transactions, passing the last id back as ``after_id``."""
    t, where, params = selection.where()
    return await repository.replay_where(session, t, where, params, after_id=after_id, limit=limit)


async def discard_matching(
    session: AsyncSession, selection: Selection, *, after_id: int = 0, limit: int = 500
) -> list[int]:
    """Delete at most ``limit`` matching **dead** items with id > ``after_id``; returns their
    ids (ascending). The dedupe key goes with the row: a re-delivery of a discarded webhook
    event is accepted and processed again (idempotently, by the domain's unique keys)."""
    if selection.status != "dead":
        raise ValueError("only dead items can be discarded")
    t, where, params = selection.where()
    return await retention_repository.discard_where(
        session, t, where, params, after_id=after_id, limit=limit
    )


async def queue_stats(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Counts by status for every queue table, plus the age of the oldest due pending item."""
    result: dict[str, dict[str, Any]] = {}
    for t in TABLES.values():
        counts: dict[str, Any] = dict.fromkeys(QUEUE_STATUSES, 0)
        counts.update(await repository.status_counts(session, t))
        age = await repository.oldest_due_pending_s(session, t)
        counts["oldest_due_pending_s"] = round(age, 3) if age is not None else None
        result[t.name] = counts
    return result


async def record_alert(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID | None,
    error_class: str,
    source: str,
    item_id: int | None,
    error: str | None,
    integration: str = QUEUE_INTEGRATION,
    message: str | None = None,
) -> int:
    """Record (or count a repeat of) the alert for this workspace, integration, category
    (``error_class``) and UTC day: the one alert outbox (dead letters use integration
    ``queue``). The row is posted to Slack at most once, by the ``alert.deliver`` job.

    Returns the alert's count for the day: 1 means this is the first occurrence.
    """
    params = {
        "ws": workspace_id,
        "cls": error_class,
        "source": source,
        "item_id": item_id,
        "error": error,
        "integration": integration,
        "message": message,
    }
    return await repository.upsert_alert(session, params)


async def record_alert_once(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    integration: str,
    error_class: str,
    source: str,
    message: str,
) -> bool:
    """Record the workspace's alert for this integration, category and UTC day only if there
    is none yet (``INSERT … ON CONFLICT DO NOTHING`` on the same dedupe key as
    ``record_alert``): a replayed or concurrent writer changes nothing. True when recorded."""
    params = {
        "ws": workspace_id,
        "integration": integration,
        "cls": error_class,
        "source": source,
        "message": message,
    }
    return await repository.insert_alert_once(session, params)


def alert_key_infix(integration: str, error_class: str) -> str:
    """The middle of a workspace's alert dedupe key: ``{ws}{infix}{UTC day}``."""
    return f":{integration}:{error_class}:"


def alert_delivery_key(alert_id: int) -> str:
    """One delivery job per alert row, ever (job keys are permanent)."""
    return f"{ALERT_DELIVER_JOB}:{alert_id}"


async def queue_alert_deliveries(session: AsyncSession, limit: int, max_attempts: int) -> int:
    """Queue one ``alert.deliver`` job for each alert not yet queued (at most ``limit``)."""
    queued = 0
    for alert_id, workspace_id in await repository.alerts_to_queue(session, limit):
        job = await enqueue(
            session,
            ALERT_DELIVER_JOB,
            {"alert_id": alert_id},
            alert_delivery_key(alert_id),
            workspace_id=workspace_id,
            max_attempts=max_attempts,
        )
        queued += job is not None
    return queued


async def claim_alert_delivery(session: AsyncSession, alert_id: int) -> dict[str, Any] | None:
    """Mark a pending alert ``sending`` (commit before posting); None if it is not pending
    (delivered, being delivered, or given up): then nothing may be posted."""
    return await repository.claim_alert(session, alert_id)


async def release_alert_delivery(session: AsyncSession, alert_id: int, error: str) -> bool:
    """Back to pending after a post that certainly did not reach Slack (429, refused
    connection): the job's retry may claim it again."""
    return await repository.release_alert(session, alert_id, error)


async def finish_alert_delivery(
    session: AsyncSession, alert_id: int, status: AlertDelivery, error: str | None = None
) -> bool:
    return await repository.finish_alert(session, alert_id, status.value, error)


async def alert_delivery_counts(session: AsyncSession) -> dict[str, int]:
    counts = dict.fromkeys((s.value for s in AlertDelivery), 0)
    counts.update(await repository.alert_delivery_counts(session))
    return counts


@dataclass(frozen=True)
class Attempt:
    attempt: int
    worker: str | None
    started_at: datetime | None
    finished_at: datetime
    outcome: str  # queue.vocabulary.AttemptOutcome
    category: str | None
    error: str | None  # queue.errors.error_text: no values, secrets and PII masked


async def attempt_history(
    session: AsyncSession, item_id: int, *, table: str = "webhook_events", limit: int = 200
) -> tuple[list[Attempt], bool]:
    """The item's attempts, oldest first (the newest ``limit`` of them), and whether older
    ones were left out. The caller has checked the item is visible to it."""
    rows = await repository.attempts_of(session, table_named(table), item_id, limit + 1)
    truncated = len(rows) > limit
    return [Attempt(**r) for r in reversed(rows[:limit])], truncated
