"""Every statement of the queue: the engine's claim, finish, fail, renew, release and rescue
(each one statement), enqueue, replay, stats, alerts and scheduler slots.

Queue tables are named from ``queues.TABLES`` only (never from input); statements that differ
per table are templates rendered through ``core.sql.statement`` (parsed once per table).

Every statement after the claim is guarded by ``status = 'running' AND locked_by = :worker AND
attempts = :attempts``: a worker whose lease was taken over (rescued, then claimed again) can
no longer change the row, and its transaction rolls back.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from replydesk.core.sql import statement
from replydesk.queue.models import Job
from replydesk.queue.queues import JOBS, WEBHOOK_EVENTS, ClaimedItem, QueueTable

Executor = AsyncSession | AsyncConnection


_CLAIM = """
UPDATE {t} SET status = 'running', locked_at = now(), locked_by = :worker,
    attempts = attempts + 1, lease_expires_at = now() + make_interval(secs => :lease)
WHERE id IN (
    SELECT id FROM {t} WHERE status = 'pending' AND run_at <= now()
    ORDER BY run_at, id LIMIT :n FOR UPDATE SKIP LOCKED
)
RETURNING id, {kind} AS kind, attempts, max_attempts, payload, locked_at, {extra}
"""

_GUARD = "id = :id AND status = 'running' AND locked_by = :worker AND attempts = :attempts"

# Every outcome statement also writes the attempt's row (queue_attempts) in the same
# statement: one round trip, and a rolled-back attempt leaves no history row. The INSERT's
# row count is the guarded UPDATE's.
_LOG_ATTEMPT = """
INSERT INTO queue_attempts (source, item_id, workspace_id, attempt, worker, started_at, outcome,
                            category, error)
SELECT '{t}', id, workspace_id, attempts, :worker, CAST(:started_at AS timestamptz),
       CAST(:outcome AS text), CAST(:category AS text), CAST(:error AS text)
FROM done
"""

_FINISH = f"""
WITH done AS (
    UPDATE {{t}} SET status = :status, processed_at = now(), lease_expires_at = NULL,
        last_error = coalesce(:note, last_error)
    WHERE {_GUARD}
    RETURNING id, workspace_id, attempts
)
{_LOG_ATTEMPT}
"""

_RETRY = f"""
WITH done AS (
    UPDATE {{t}} SET status = 'pending', run_at = now() + make_interval(secs => :delay),
        last_error = :error, locked_at = NULL, locked_by = NULL, lease_expires_at = NULL
    WHERE {_GUARD}
    RETURNING id, workspace_id, attempts
)
{_LOG_ATTEMPT}
"""

_DEAD = f"""
WITH done AS (
    UPDATE {{t}} SET status = 'dead', last_error = :error, lease_expires_at = NULL
    WHERE {_GUARD}
    RETURNING id, workspace_id, attempts
)
{_LOG_ATTEMPT}
"""

_RENEW = """
UPDATE {t} SET lease_expires_at = now() + make_interval(secs => :lease)
WHERE id = ANY(:ids) AND status = 'running' AND locked_by = :worker
"""

# Shutdown: the interrupted attempt does not count against max_attempts.
_RELEASE = """
UPDATE {t} SET status = 'pending', attempts = greatest(attempts - 1, 0), run_at = now(),
    locked_at = NULL, locked_by = NULL, lease_expires_at = NULL
WHERE id = ANY(:ids) AND status = 'running' AND locked_by = :worker
"""

# A worker died: its expired items go back to pending, or dead when they used their last
# attempt (an item that kills its worker every time must not loop forever).
_RESCUE = """
WITH expired AS (
    SELECT id, locked_by, locked_at FROM {t} WHERE status = 'running' AND lease_expires_at < now()
    ORDER BY lease_expires_at LIMIT :n FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE {t} AS q SET
        status = CASE WHEN q.attempts >= q.max_attempts THEN 'dead' ELSE 'pending' END,
        last_error = 'lease expired: worker ' || coalesce(q.locked_by, '?')
            || ' stopped during attempt ' || q.attempts,
        locked_at = NULL, locked_by = NULL, lease_expires_at = NULL, run_at = now()
    FROM expired AS e
    WHERE q.id = e.id
    RETURNING q.id, q.status, q.workspace_id, q.attempts, q.last_error, e.locked_by, e.locked_at
), logged AS (
    INSERT INTO queue_attempts (source, item_id, workspace_id, attempt, worker, started_at,
                                outcome, category, error)
    SELECT '{t}', id, workspace_id, attempts, locked_by, locked_at, 'lease_expired',
           'worker_lost', last_error
    FROM rescued
)
SELECT id, status, workspace_id FROM rescued
"""


def _guard(item: ClaimedItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "worker": item.worker,
        "attempts": item.attempts,
        "started_at": item.claimed_at,
    }


async def claim(
    conn: Executor, table: QueueTable, worker: str, n: int, lease_s: float
) -> list[ClaimedItem]:
    sql = _CLAIM.format(t=table.name, kind=table.kind_sql, extra=", ".join(table.extra))
    params = {"worker": worker, "n": n, "lease": lease_s}
    rows = (await conn.execute(statement(sql), params)).mappings().all()
    items = []
    for row in sorted(rows, key=lambda r: r["id"]):
        fields = {c: row[c] for c in table.extra}
        items.append(
            ClaimedItem(
                table=table.name,
                id=row["id"],
                kind=row["kind"],
                attempts=row["attempts"],
                max_attempts=row["max_attempts"],
                payload=row["payload"],
                workspace_id=row["workspace_id"],
                worker=worker,
                fields=fields,
                claimed_at=row["locked_at"],
            )
        )
    return items


async def _guarded(conn: Executor, item: ClaimedItem, sql: str, **params: Any) -> bool:
    result = await conn.execute(statement(sql.format(t=item.table)), {**params, **_guard(item)})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(
    conn: Executor, item: ClaimedItem, *, status: str = "succeeded", note: str | None = None
) -> bool:
    """Mark succeeded (or ignored, with ``note`` as the reason). False = lease lost."""
    return await _guarded(
        conn, item, _FINISH, status=status, note=note, outcome=status, category=None, error=note
    )


_FINISH_GROUP = """
WITH done AS (
    UPDATE {t} AS q SET status = d.status, processed_at = now(), lease_expires_at = NULL,
        last_error = coalesce(d.note, q.last_error)
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:statuses AS text[]),
                CAST(:notes AS text[]), CAST(:started AS timestamptz[]))
        AS d(id, attempts, status, note, started_at)
    WHERE q.id = d.id AND q.status = 'running' AND q.locked_by = :worker
        AND q.attempts = d.attempts
    RETURNING q.id, q.workspace_id, q.attempts, d.status, d.note, d.started_at
)
INSERT INTO queue_attempts (source, item_id, workspace_id, attempt, worker, started_at, outcome,
                            error)
SELECT '{t}', id, workspace_id, attempts, :worker, started_at, status, note FROM done
"""


async def finish_group(conn: Executor, outcomes: list[tuple[ClaimedItem, str, str | None]]) -> bool:
    """``finish`` for several items of one table in one statement; False = a lease was lost
    (the caller rolls back the whole group)."""
    first = outcomes[0][0]
    params = {
        "ids": [item.id for item, _, _ in outcomes],
        "attempts": [item.attempts for item, _, _ in outcomes],
        "statuses": [status for _, status, _ in outcomes],
        "notes": [note for _, _, note in outcomes],
        "started": [item.claimed_at for item, _, _ in outcomes],
        "worker": first.worker,
    }
    result = await conn.execute(statement(_FINISH_GROUP.format(t=first.table)), params)
    return int(result.rowcount) == len(outcomes)  # type: ignore[attr-defined]


async def retry(
    conn: Executor, item: ClaimedItem, *, delay_s: float, error: str, category: str
) -> bool:
    return await _guarded(
        conn, item, _RETRY, delay=delay_s, error=error, outcome="retry", category=category
    )


async def dead(conn: Executor, item: ClaimedItem, *, error: str, category: str) -> bool:
    return await _guarded(conn, item, _DEAD, error=error, outcome="dead", category=category)


async def renew(
    conn: Executor, table: QueueTable, worker: str, ids: list[int], lease_s: float
) -> int:
    if not ids:
        return 0
    params = {"ids": ids, "worker": worker, "lease": lease_s}
    result = await conn.execute(statement(_RENEW.format(t=table.name)), params)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def release(conn: Executor, table: QueueTable, worker: str, ids: list[int]) -> int:
    if not ids:
        return 0
    params = {"ids": ids, "worker": worker}
    result = await conn.execute(statement(_RELEASE.format(t=table.name)), params)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def rescue(conn: Executor, table: QueueTable, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(statement(_RESCUE.format(t=table.name)), {"n": limit})
    return [dict(r) for r in rows.mappings()]


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(cap_s, base_s * 2.0 ** max(attempts - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


# --- enqueue, replay, stats, alerts -------------------------------------------------------

_ENQUEUE = statement(
    f"""
    INSERT INTO jobs (type, payload, dedupe_key, workspace_id, run_at, max_attempts)
    VALUES (:type, :payload, :dedupe_key, :ws, coalesce(:run_at, now()),
            coalesce(:max_attempts, {Job.__table__.c.max_attempts.server_default.arg}))
    ON CONFLICT (workspace_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING id
    """
).bindparams(bindparam("payload", type_=JSONB))


async def insert_job(
    conn: Executor,
    job_type: str,
    payload: dict[str, Any],
    dedupe_key: str | None,
    *,
    run_at: datetime | None,
    workspace_id: uuid.UUID | None,
    max_attempts: int | None,
) -> int | None:
    params = {
        "type": job_type,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "ws": workspace_id,
        "run_at": run_at,
        "max_attempts": max_attempts,
    }
    job_id: int | None = (await conn.execute(_ENQUEUE, params)).scalar_one_or_none()
    return job_id


# Several jobs in one statement (callers sort them by dedupe key: concurrent transactions
# then wait on each other's keys in one order).
_ENQUEUE_MANY = statement(
    """
    INSERT INTO jobs (type, payload, dedupe_key, workspace_id, run_at)
    SELECT u.type, u.payload, u.dedupe_key, u.ws, now()
    FROM unnest(CAST(:types AS text[]), CAST(:payloads AS jsonb[]),
                CAST(:dedupe_keys AS text[]), CAST(:ws AS uuid[]))
        WITH ORDINALITY AS u(type, payload, dedupe_key, ws, ord)
    ORDER BY u.ord
    ON CONFLICT (workspace_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    """
)


async def insert_jobs(conn: Executor, rows: list[tuple[str, str, str, uuid.UUID | None]]) -> None:
    """(type, payload as JSON text, dedupe key, workspace id) per job, in the given order."""
    params = {
        "types": [r[0] for r in rows],
        "payloads": [r[1] for r in rows],
        "dedupe_keys": [r[2] for r in rows],
        "ws": [r[3] for r in rows],
    }
    await conn.execute(_ENQUEUE_MANY, params)


_LOCK_STATUS = "SELECT status FROM {t} WHERE id = :id {scope} FOR UPDATE"

_REPLAY = """
UPDATE {t} SET status = 'pending', attempts = 0, run_at = now(), locked_at = NULL,
    locked_by = NULL, lease_expires_at = NULL, processed_at = NULL
WHERE {where}
RETURNING id
"""


async def lock_status(
    conn: Executor, table: QueueTable, item_id: int, workspace_id: uuid.UUID | None
) -> str | None:
    """The item's status, row-locked; None when no such item (in ``workspace_id``)."""
    scope = "AND workspace_id = :ws" if workspace_id is not None else ""
    sql = statement(_LOCK_STATUS.format(t=table.name, scope=scope))
    found: str | None = (
        await conn.execute(sql, {"id": item_id, "ws": workspace_id})
    ).scalar_one_or_none()
    return found


async def reset_to_pending(conn: Executor, table: QueueTable, item_id: int) -> None:
    await conn.execute(statement(_REPLAY.format(t=table.name, where="id = :id")), {"id": item_id})


def matching(
    table: QueueTable,
    status: str,
    provider: str | None,
    job_type: str | None,
    since: datetime | None,
) -> tuple[str, dict[str, Any]]:
    """A WHERE clause (fixed fragments, values bound) for items of ``table`` in ``status``."""
    clauses = ["status = :status"]
    params: dict[str, Any] = {"status": status}
    if provider is not None:
        if table is not WEBHOOK_EVENTS:
            raise ValueError("--provider applies to webhook_events only")
        clauses.append("provider = :provider")
        params["provider"] = provider
    if job_type is not None:
        if table is not JOBS:
            raise ValueError("--type applies to jobs only")
        clauses.append("type = :job_type")
        params["job_type"] = job_type
    if since is not None:
        column = "received_at" if table is WEBHOOK_EVENTS else "created_at"
        clauses.append(f"{column} >= :since")
        params["since"] = since
    return " AND ".join(clauses), params


async def count_where(conn: Executor, table: QueueTable, where: str, params: dict[str, Any]) -> int:
    """``where`` comes from ``matching`` (fixed clauses, values bound)."""
    sql = statement(f"SELECT count(*) FROM {table.name} WHERE {where}")
    return int((await conn.execute(sql, params)).scalar_one())


async def replay_where(
    conn: Executor,
    table: QueueTable,
    where: str,
    params: dict[str, Any],
    *,
    after_id: int,
    limit: int,
) -> list[int]:
    pick = (
        f"id IN (SELECT id FROM {table.name} WHERE {where} AND id > :after_id "
        "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)"
    )
    sql = statement(_REPLAY.format(t=table.name, where=pick))
    rows = await conn.execute(sql, {**params, "after_id": after_id, "limit": limit})
    return sorted(r[0] for r in rows)


_STATUS_COUNTS = "SELECT status, count(*) FROM {t} GROUP BY status"
_OLDEST_DUE = (
    "SELECT EXTRACT(EPOCH FROM now() - min(run_at)) FROM {t} "
    "WHERE status = 'pending' AND run_at <= now()"
)


async def status_counts(conn: Executor, table: QueueTable) -> dict[str, int]:
    rows = await conn.execute(statement(_STATUS_COUNTS.format(t=table.name)))
    return {status: int(n) for status, n in rows}


async def oldest_due_pending_s(conn: Executor, table: QueueTable) -> float | None:
    age = (await conn.execute(statement(_OLDEST_DUE.format(t=table.name)))).scalar_one()
    return None if age is None else float(age)


_RECORD_ALERT = statement(
    """
    INSERT INTO alerts (dedupe_key, workspace_id, integration, error_class, day, source,
                        last_item_id, last_error, message)
    SELECT coalesce(d.ws::text, 'global') || ':'
           || CASE WHEN :integration = 'queue' THEN '' ELSE :integration || ':' END
           || :cls || ':' || d.day,
           d.ws, :integration, :cls, d.day, :source, :item_id, :error, :message
    FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day, CAST(:ws AS uuid) AS ws) AS d
    ON CONFLICT (workspace_id, dedupe_key) DO UPDATE SET
        count = alerts.count + 1,
        last_seen_at = now(),
        source = EXCLUDED.source,
        last_item_id = EXCLUDED.last_item_id,
        last_error = EXCLUDED.last_error,
        message = coalesce(EXCLUDED.message, alerts.message)
    RETURNING count
    """
)
# Once per key: the first writer of the day's row wins, any repeat (a replayed or concurrent
# run) changes nothing (the daily digest: its text must stay what was posted).
_RECORD_ALERT_ONCE = statement(
    """
    INSERT INTO alerts (dedupe_key, workspace_id, integration, error_class, day, source,
                        message)
    SELECT d.ws::text || ':' || :integration || ':' || :cls || ':' || d.day,
           d.ws, :integration, :cls, d.day, :source, :message
    FROM (SELECT (now() AT TIME ZONE 'UTC')::date AS day, CAST(:ws AS uuid) AS ws) AS d
    ON CONFLICT (workspace_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)
# The delivery sweep: rows not yet queued, oldest first, each marked queued once.
_ALERTS_TO_QUEUE = statement(
    """
    UPDATE alerts SET delivery_queued_at = now()
     WHERE id IN (SELECT id FROM alerts
                   WHERE delivery_status = 'pending' AND delivery_queued_at IS NULL
                   ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING id, workspace_id
    """
)
# At most once: the claim commits before the post; only a pending row can be claimed.
_CLAIM_ALERT = statement(
    """
    UPDATE alerts SET delivery_status = 'sending', delivery_attempts = delivery_attempts + 1
     WHERE id = :id AND delivery_status = 'pending'
    RETURNING id, workspace_id, integration, error_class, day, count, message, last_error
    """
)
_RELEASE_ALERT = statement(
    """
    UPDATE alerts SET delivery_status = 'pending', delivery_error = :error
     WHERE id = :id AND delivery_status = 'sending'
    RETURNING id
    """
)
_FINISH_ALERT = statement(
    """
    UPDATE alerts SET delivery_status = :status, delivery_error = :error,
           delivered_at = CASE WHEN :status = 'delivered' THEN now() ELSE delivered_at END
     WHERE id = :id AND delivery_status = 'sending'
    RETURNING id
    """
)
_ALERT_DELIVERY_COUNTS = statement(
    "SELECT delivery_status, count(*) AS n FROM alerts GROUP BY delivery_status"
)


async def upsert_alert(conn: Executor, params: dict[str, Any]) -> int:
    return int((await conn.execute(_RECORD_ALERT, params)).scalar_one())


async def insert_alert_once(conn: Executor, params: dict[str, Any]) -> bool:
    return (await conn.execute(_RECORD_ALERT_ONCE, params)).first() is not None


async def alerts_to_queue(conn: Executor, limit: int) -> list[tuple[int, uuid.UUID | None]]:
    rows = (await conn.execute(_ALERTS_TO_QUEUE, {"n": limit})).all()
    return [(int(r.id), r.workspace_id) for r in rows]


async def claim_alert(conn: Executor, alert_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(_CLAIM_ALERT, {"id": alert_id})).mappings().one_or_none()
    return dict(row) if row is not None else None


async def release_alert(conn: Executor, alert_id: int, error: str | None) -> bool:
    params = {"id": alert_id, "error": error}
    return (await conn.execute(_RELEASE_ALERT, params)).first() is not None


async def finish_alert(conn: Executor, alert_id: int, status: str, error: str | None) -> bool:
    params = {"id": alert_id, "status": status, "error": error}
    return (await conn.execute(_FINISH_ALERT, params)).first() is not None


async def alert_delivery_counts(conn: Executor) -> dict[str, int]:
    rows = (await conn.execute(_ALERT_DELIVERY_COUNTS)).all()
    return {str(r.delivery_status): int(r.n) for r in rows}


# --- attempt history ----------------------------------------------------------------------

_ATTEMPTS = statement(
    """
    SELECT attempt, worker, started_at, finished_at, outcome, category, error
    FROM queue_attempts WHERE source = :source AND item_id = :item_id
    ORDER BY id DESC LIMIT :n
    """
)

_PRUNE_ATTEMPTS = statement(
    "DELETE FROM queue_attempts WHERE id IN (SELECT id FROM queue_attempts "
    "WHERE finished_at < now() - make_interval(days => :days) LIMIT :n)"
)


async def attempts_of(
    conn: Executor, table: QueueTable, item_id: int, limit: int
) -> list[dict[str, Any]]:
    """The item's newest ``limit`` attempts, newest first."""
    params = {"source": table.name, "item_id": item_id, "n": limit}
    return [dict(r) for r in (await conn.execute(_ATTEMPTS, params)).mappings()]


async def prune_attempts(conn: Executor, retention_days: int, limit: int) -> int:
    result = await conn.execute(_PRUNE_ATTEMPTS, {"days": retention_days, "n": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- scheduler slots ----------------------------------------------------------------------

_CLAIM_SLOT = statement(
    """
    INSERT INTO scheduler_runs (task, slot, worker)
    VALUES (:task, to_timestamp(floor(extract(epoch FROM now()) / :interval) * :interval),
            :worker)
    ON CONFLICT DO NOTHING
    RETURNING slot
    """
)

_PRUNE_SLOTS = statement(
    "DELETE FROM scheduler_runs WHERE ctid IN (SELECT ctid FROM scheduler_runs "
    "WHERE slot < now() - make_interval(days => :days) LIMIT :n)"
)


async def claim_slot(conn: Executor, task: str, interval_s: float, worker: str) -> bool:
    """True when this worker's INSERT won the task's current slot."""
    params = {"task": task, "interval": float(interval_s), "worker": worker}
    return (await conn.execute(_CLAIM_SLOT, params)).scalar_one_or_none() is not None


async def prune_slots(conn: Executor, days: int = 1, limit: int = 5000) -> int:
    result = await conn.execute(_PRUNE_SLOTS, {"days": days, "n": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the scrape-time queue figures of GET /metrics (queue/metrics.py) ----------------------

# Per status at most :cap rows are read (the status index), so a huge backlog costs a bounded
# scan; the age is how long the oldest row has been in that status (pending: since due).
_DEPTH = """
SELECT status, kind, count(*) AS n, EXTRACT(EPOCH FROM now() - min(since)) AS oldest_s
FROM (
    (SELECT 'pending' AS status, {kind} AS kind,
            CASE WHEN run_at <= now() THEN run_at END AS since
     FROM {t} WHERE status = 'pending' LIMIT :cap)
    UNION ALL
    (SELECT 'running', {kind}, coalesce(locked_at, run_at) FROM {t}
     WHERE status = 'running' LIMIT :cap)
    UNION ALL
    (SELECT 'dead', {kind}, coalesce(processed_at, run_at) FROM {t}
     WHERE status = 'dead' LIMIT :cap)
) AS rows
GROUP BY status, kind
ORDER BY status, kind
LIMIT :groups
"""
_LOCAL_TIMEOUT = statement("SELECT set_config('statement_timeout', :ms, true)")


async def queue_depth(
    conn: Executor, table: QueueTable, *, cap: int, groups: int, timeout_ms: int
) -> list[tuple[str, str, int, float | None]]:
    """``(status, kind, count, oldest age in s)`` of pending, running and dead rows, under a
    transaction-local statement timeout."""
    await conn.execute(_LOCAL_TIMEOUT, {"ms": str(timeout_ms)})
    sql = statement(_DEPTH.format(t=table.name, kind=table.kind_sql))
    rows = await conn.execute(sql, {"cap": cap, "groups": groups})
    return [(str(s), str(k), int(n), None if age is None else float(age)) for s, k, n, age in rows]
