"""The engine's SQL: claim, finish, fail, renew, release, rescue. Each is one statement.

Every statement after the claim is guarded by ``status = 'running' AND locked_by = :worker AND
attempts = :attempts``: a worker whose lease was taken over (rescued, then claimed again) can
no longer change the row, and its transaction rolls back.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from replydesk.queue.tables import ClaimedItem, QueueTable

Executor = AsyncSession | AsyncConnection


@lru_cache(maxsize=512)
def cached_text(statement: str) -> TextClause:
    """``text()`` parses bind parameters with a regex on every call; hot paths reuse one."""
    return text(statement)


_CLAIM = """
UPDATE {t} SET status = 'running', locked_at = now(), locked_by = :worker,
    attempts = attempts + 1, lease_expires_at = now() + make_interval(secs => :lease)
WHERE id IN (
    SELECT id FROM {t} WHERE status = 'pending' AND run_at <= now()
    ORDER BY run_at, id LIMIT :n FOR UPDATE SKIP LOCKED
)
RETURNING id, {kind} AS kind, attempts, max_attempts, payload, {extra}
"""

_GUARD = "id = :id AND status = 'running' AND locked_by = :worker AND attempts = :attempts"

_FINISH = f"""
UPDATE {{t}} SET status = :status, processed_at = now(), lease_expires_at = NULL,
    last_error = coalesce(:note, last_error)
WHERE {_GUARD}
"""

_RETRY = f"""
UPDATE {{t}} SET status = 'pending', run_at = now() + make_interval(secs => :delay),
    last_error = :error, locked_at = NULL, locked_by = NULL, lease_expires_at = NULL
WHERE {_GUARD}
"""

_DEAD = f"""
UPDATE {{t}} SET status = 'dead', last_error = :error, lease_expires_at = NULL
WHERE {_GUARD}
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
UPDATE {t} SET
    status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
    last_error = 'lease expired: worker ' || coalesce(locked_by, '?')
        || ' stopped during attempt ' || attempts,
    locked_at = NULL, locked_by = NULL, lease_expires_at = NULL, run_at = now()
WHERE id IN (
    SELECT id FROM {t} WHERE status = 'running' AND lease_expires_at < now()
    ORDER BY lease_expires_at LIMIT :n FOR UPDATE SKIP LOCKED
)
RETURNING id, status, workspace_id
"""


def _guard(item: ClaimedItem) -> dict[str, Any]:
    return {"id": item.id, "worker": item.worker, "attempts": item.attempts}


async def claim(
    conn: Executor, table: QueueTable, worker: str, n: int, lease_s: float
) -> list[ClaimedItem]:
    sql = _CLAIM.format(t=table.name, kind=table.kind_sql, extra=", ".join(table.extra))
    params = {"worker": worker, "n": n, "lease": lease_s}
    rows = (await conn.execute(cached_text(sql), params)).mappings().all()
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
            )
        )
    return items


async def _guarded(conn: Executor, item: ClaimedItem, sql: str, **params: Any) -> bool:
    result = await conn.execute(cached_text(sql.format(t=item.table)), {**params, **_guard(item)})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish(
    conn: Executor, item: ClaimedItem, *, status: str = "succeeded", note: str | None = None
) -> bool:
    """Mark succeeded (or ignored, with ``note`` as the reason). False = lease lost."""
    return await _guarded(conn, item, _FINISH, status=status, note=note)


_FINISH_GROUP = """
UPDATE {t} AS q SET status = d.status, processed_at = now(), lease_expires_at = NULL,
    last_error = coalesce(d.note, q.last_error)
FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]), CAST(:statuses AS text[]),
            CAST(:notes AS text[])) AS d(id, attempts, status, note)
WHERE q.id = d.id AND q.status = 'running' AND q.locked_by = :worker AND q.attempts = d.attempts
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
        "worker": first.worker,
    }
    result = await conn.execute(cached_text(_FINISH_GROUP.format(t=first.table)), params)
    return int(result.rowcount) == len(outcomes)  # type: ignore[attr-defined]


async def retry(conn: Executor, item: ClaimedItem, *, delay_s: float, error: str) -> bool:
    return await _guarded(conn, item, _RETRY, delay=delay_s, error=error)


async def dead(conn: Executor, item: ClaimedItem, *, error: str) -> bool:
    return await _guarded(conn, item, _DEAD, error=error)


async def renew(
    conn: Executor, table: QueueTable, worker: str, ids: list[int], lease_s: float
) -> int:
    if not ids:
        return 0
    params = {"ids": ids, "worker": worker, "lease": lease_s}
    result = await conn.execute(cached_text(_RENEW.format(t=table.name)), params)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def release(conn: Executor, table: QueueTable, worker: str, ids: list[int]) -> int:
    if not ids:
        return 0
    params = {"ids": ids, "worker": worker}
    result = await conn.execute(cached_text(_RELEASE.format(t=table.name)), params)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def rescue(conn: Executor, table: QueueTable, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(cached_text(_RESCUE.format(t=table.name)), {"n": limit})
    return [dict(r) for r in rows.mappings()]


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(cap_s, base_s * 2.0 ** max(attempts - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)
