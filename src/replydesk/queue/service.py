"""The queue's service API: enqueue, replay, stats and alerts. All run in the caller's transaction.

Stable names used by other domains (see docs/queue.md): ``enqueue``, ``replay``,
``replay_matching``, ``count_matching``, ``queue_stats``, ``record_alert``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.queue.models import QUEUE_STATUSES, Job
from replydesk.queue.tables import JOBS, TABLES, WEBHOOK_EVENTS, table_named

_ENQUEUE = text(
    f"""
    INSERT INTO jobs (type, payload, dedupe_key, workspace_id, run_at, max_attempts)
    VALUES (:type, :payload, :dedupe_key, :ws, coalesce(:run_at, now()),
            coalesce(:max_attempts, {Job.__table__.c.max_attempts.server_default.arg}))
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("payload", type_=JSONB))

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

    ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING``: returns the new job id, or None when a
    job with this key exists (in any status: keys are permanent, so a finished job is never
    enqueued again under the same key).
    """
    params = {
        "type": type,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "ws": workspace_id,
        "run_at": run_at,
        "max_attempts": max_attempts,
    }
    job_id: int | None = (await session.execute(_ENQUEUE, params)).scalar_one_or_none()
    return job_id


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
    scope = "AND workspace_id = :ws" if workspace_id is not None else ""
    params: dict[str, Any] = {"id": item_id, "ws": workspace_id}
    old = (
        await session.execute(
            text(f"SELECT status FROM {t.name} WHERE id = :id {scope} FOR UPDATE"), params
        )
    ).scalar_one_or_none()
    if old is None:
        return None
    if old not in REPLAYABLE:
        return ReplayResult(item_id, old, old, replayed=False)
    await session.execute(text(_REPLAY_SQL.format(t=t.name, where="id = :id")), params)
    return ReplayResult(item_id, old, "pending", replayed=True)


_REPLAY_SQL = """
UPDATE {t} SET status = 'pending', attempts = 0, run_at = now(), locked_at = NULL,
    locked_by = NULL, lease_expires_at = NULL, processed_at = NULL
WHERE {where}
RETURNING id
"""


def _filters(
    table: str, status: str, provider: str | None, job_type: str | None, since: datetime | None
) -> tuple[str, dict[str, Any]]:
    if status not in REPLAYABLE:
        raise ValueError(f"can only replay items in status {', '.join(REPLAYABLE)}")
    clauses = ["status = :status"]
    params: dict[str, Any] = {"status": status}
    if provider is not None:
        if table != WEBHOOK_EVENTS.name:
            raise ValueError("--provider applies to webhook_events only")
        clauses.append("provider = :provider")
        params["provider"] = provider
    if job_type is not None:
        if table != JOBS.name:
            raise ValueError("--type applies to jobs only")
        clauses.append("type = :job_type")
        params["job_type"] = job_type
    if since is not None:
        column = "received_at" if table == WEBHOOK_EVENTS.name else "created_at"
        clauses.append(f"{column} >= :since")
        params["since"] = since
    return " AND ".join(clauses), params


async def count_matching(
    session: AsyncSession,
    *,
    table: str,
    status: str = "dead",
    provider: str | None = None,
    job_type: str | None = None,
    since: datetime | None = None,
) -> int:
    t = table_named(table)
    where, params = _filters(t.name, status, provider, job_type, since)
    sql = f"SELECT count(*) FROM {t.name} WHERE {where}"
    return int((await session.execute(text(sql), params)).scalar_one())


async def replay_matching(
    session: AsyncSession,
    *,
    table: str,
    status: str = "dead",
    provider: str | None = None,
    job_type: str | None = None,
    since: datetime | None = None,
    after_id: int = 0,
    limit: int = 500,
) -> list[int]:
    """Replay at most ``limit`` matching items with id > ``after_id`` (ascending); returns their
    ids. Callers loop in small transactions, passing the last id back as ``after_id``."""
    t = table_named(table)
    where, params = _filters(t.name, status, provider, job_type, since)
    params.update(after_id=after_id, limit=limit)
    pick = (
        f"id IN (SELECT id FROM {t.name} WHERE {where} AND id > :after_id "
        "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)"
    )
    rows = await session.execute(text(_REPLAY_SQL.format(t=t.name, where=pick)), params)
    return sorted(r[0] for r in rows)


async def queue_stats(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Counts by status for every queue table, plus the age of the oldest due pending item."""
    result: dict[str, dict[str, Any]] = {}
    for t in TABLES.values():
        rows = await session.execute(text(f"SELECT status, count(*) FROM {t.name} GROUP BY status"))
        counts: dict[str, Any] = dict.fromkeys(QUEUE_STATUSES, 0)
        counts.update({status: int(n) for status, n in rows})
        age = (
            await session.execute(
                text(
                    f"SELECT EXTRACT(EPOCH FROM now() - min(run_at)) FROM {t.name} "
                    "WHERE status = 'pending' AND run_at <= now()"
                )
            )
        ).scalar_one()
        counts["oldest_due_pending_s"] = round(float(age), 3) if age is not None else None
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
) -> int:
    """Record (or count a repeat of) the alert for this workspace, error class and UTC day.

    Returns the alert's count for the day: 1 means this is the first occurrence.
    """
    sql = text(
        """
        INSERT INTO alerts (dedupe_key, workspace_id, error_class, day, source, last_item_id,
                            last_error)
        SELECT coalesce(d.ws::text, 'global') || ':' || :cls || ':' || d.day,
               d.ws, :cls, d.day, :source, :item_id, :error
        FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day, CAST(:ws AS uuid) AS ws) AS d
        ON CONFLICT (dedupe_key) DO UPDATE SET
            count = alerts.count + 1,
            last_seen_at = now(),
            source = EXCLUDED.source,
            last_item_id = EXCLUDED.last_item_id,
            last_error = EXCLUDED.last_error
        RETURNING count
        """
    )
    params = {
        "ws": workspace_id,
        "cls": error_class,
        "source": source,
        "item_id": item_id,
        "error": error,
    }
    return int((await session.execute(sql, params)).scalar_one())
