"""Every statement on ``emailbison_reconcile``, ``provider_activity`` and ``lead_syncs``, and
the silence task's read of ``webhook_events``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, bindparam
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.sql import statement

RECONCILE_STATE = statement(
    "SELECT cursor, runs, recovered_total FROM emailbison_reconcile WHERE workspace_id = :ws"
)
# The cursor only moves forward (two overlapping runs cannot move it back).
RECORD_RECONCILE = statement(
    """
    INSERT INTO emailbison_reconcile AS r (workspace_id, cursor, runs, recovered_total,
                                           last_recovered, last_seen, last_complete, last_run_at)
    VALUES (:ws, CAST(:cursor AS bigint), 1, CAST(:recovered AS bigint),
            CAST(:recovered AS integer), CAST(:seen AS integer), :complete, now())
    ON CONFLICT (workspace_id) DO UPDATE SET
        cursor = GREATEST(r.cursor, EXCLUDED.cursor),
        runs = r.runs + 1,
        recovered_total = r.recovered_total + EXCLUDED.recovered_total,
        last_recovered = EXCLUDED.last_recovered,
        last_seen = EXCLUDED.last_seen,
        last_complete = EXCLUDED.last_complete,
        last_run_at = now()
    """
)
RECONCILE_TOTALS = statement(
    """
    SELECT count(*) AS workspaces, coalesce(sum(runs), 0) AS runs,
           coalesce(sum(recovered_total), 0) AS recovered_total, max(last_run_at) AS last_run_at,
           count(*) FILTER (WHERE NOT last_complete) AS incomplete_last_run
      FROM emailbison_reconcile
    """
)

LEAD_SYNC_SEQ = statement("SELECT seq FROM lead_syncs WHERE workspace_id = :ws AND lead_id = :lead")
FINISH_LEAD_SYNC = statement(
    """
    INSERT INTO lead_syncs AS s (workspace_id, lead_id, seq, last_synced_at, last_result)
    VALUES (:ws, :lead, CAST(:seq AS integer) + 1, now(), :result)
    ON CONFLICT (workspace_id, lead_id) DO UPDATE SET
        seq = GREATEST(s.seq, EXCLUDED.seq), last_synced_at = now(),
        last_result = EXCLUDED.last_result
    """
).bindparams(bindparam("result", type_=JSONB))

# The newest ``:n`` webhooks of a workspace x provider (ix_webhook_events_workspace_id_
# provider_received_at): the last one and the mean gap between them.
ACTIVITY = statement(
    """
    SELECT max(received_at) AS last_at, min(received_at) AS first_at, count(*) AS n
      FROM (SELECT received_at FROM webhook_events
             WHERE workspace_id = :ws AND provider = :provider
             ORDER BY received_at DESC LIMIT :n) AS recent
    """
)
RECORD_ACTIVITY = statement(
    """
    INSERT INTO provider_activity AS a (workspace_id, provider, last_webhook_at, usual_gap_s,
                                        samples, silent_since, computed_at)
    VALUES (:ws, :provider, CAST(:last_at AS timestamptz), CAST(:gap AS double precision),
            CAST(:n AS integer), CAST(:silent_since AS timestamptz), now())
    ON CONFLICT (workspace_id, provider) DO UPDATE SET
        last_webhook_at = EXCLUDED.last_webhook_at, usual_gap_s = EXCLUDED.usual_gap_s,
        samples = EXCLUDED.samples,
        silent_since = CASE WHEN EXCLUDED.silent_since IS NULL THEN NULL
                            ELSE coalesce(a.silent_since, EXCLUDED.silent_since) END,
        computed_at = now()
    RETURNING silent_since, (xmax = 0) AS inserted
    """
)
PREVIOUS_SILENCE = statement(
    "SELECT silent_since FROM provider_activity WHERE workspace_id = :ws AND provider = :provider"
)
DB_NOW = statement("SELECT now()")


async def reconcile_state(session: AsyncSession, ws: uuid.UUID) -> RowMapping | None:
    return (await session.execute(RECONCILE_STATE, {"ws": ws})).mappings().one_or_none()


async def record_reconcile(
    session: AsyncSession,
    ws: uuid.UUID,
    cursor: int | None,
    recovered: int,
    seen: int,
    complete: bool,
) -> None:
    params = {
        "ws": ws,
        "cursor": cursor,
        "recovered": recovered,
        "seen": seen,
        "complete": complete,
    }
    await session.execute(RECORD_RECONCILE, params)


async def reconcile_totals(session: AsyncSession) -> dict[str, Any]:
    row = (await session.execute(RECONCILE_TOTALS)).mappings().one()
    return dict(row)


async def lead_sync_seq(session: AsyncSession, ws: uuid.UUID, lead_id: int) -> int:
    value = (await session.execute(LEAD_SYNC_SEQ, {"ws": ws, "lead": lead_id})).scalar()
    return int(value or 0)


async def finish_lead_sync(
    session: AsyncSession, ws: uuid.UUID, lead_id: int, seq: int, result: dict[str, Any]
) -> None:
    params = {"ws": ws, "lead": lead_id, "seq": seq, "result": result}
    await session.execute(FINISH_LEAD_SYNC, params)


async def activity(session: AsyncSession, ws: uuid.UUID, provider: str, n: int) -> RowMapping:
    params = {"ws": ws, "provider": provider, "n": n}
    return (await session.execute(ACTIVITY, params)).mappings().one()


async def previous_silence(session: AsyncSession, ws: uuid.UUID, provider: str) -> datetime | None:
    params = {"ws": ws, "provider": provider}
    value: datetime | None = (await session.execute(PREVIOUS_SILENCE, params)).scalar()
    return value


async def record_activity(
    session: AsyncSession,
    ws: uuid.UUID,
    provider: str,
    last_at: datetime | None,
    gap: float | None,
    n: int,
    silent_since: datetime | None,
) -> None:
    params = {
        "ws": ws,
        "provider": provider,
        "last_at": last_at,
        "gap": gap,
        "n": n,
        "silent_since": silent_since,
    }
    await session.execute(RECORD_ACTIVITY, params)


async def db_now(session: AsyncSession) -> datetime:
    value: datetime = (await session.execute(DB_NOW)).scalar_one()
    return value
