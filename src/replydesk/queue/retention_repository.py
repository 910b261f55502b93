"""Retention and discard statements of the queue tables (queue/tasks.py, queue/service.py):
bounded batches over the partial indexes of migration 0012. Split from ``repository.py``."""

from __future__ import annotations

from typing import Any

from replydesk.core.sql import statement
from replydesk.queue.queues import QueueTable
from replydesk.queue.repository import Executor

# Finished = succeeded or ignored; dead items are pruned only by their own (longer, optional)
# window or by an operator's discard. The partial indexes of migration 0012 serve these.
# SKIP LOCKED: a row a replay is touching is left for the next run.

_FINISHED = "status IN ('succeeded', 'ignored')"

_DROP_PAYLOADS = """
UPDATE {t} SET payload = '{{}}'::jsonb WHERE id IN (
    SELECT id FROM {t} WHERE {finished} AND payload <> '{{}}'::jsonb
        AND {created} < now() - make_interval(days => :days)
    LIMIT :n FOR UPDATE SKIP LOCKED
)
"""

_PRUNE_ITEMS = """
DELETE FROM {t} WHERE id IN (
    SELECT id FROM {t} WHERE {which} AND {created} < now() - make_interval(days => :days)
    LIMIT :n FOR UPDATE SKIP LOCKED
)
"""

_DISCARD = """
DELETE FROM {t} WHERE id IN (
    SELECT id FROM {t} WHERE {where} AND id > :after_id
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

_PRUNE_ALERTS = statement(
    "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts "
    "WHERE delivered_at < now() - make_interval(days => :days) LIMIT :n)"
)


async def drop_payloads(conn: Executor, table: QueueTable, days: int, limit: int) -> int:
    """Replace the payload of up to ``limit`` finished items older than ``days`` with ``{}``."""
    sql = _DROP_PAYLOADS.format(t=table.name, finished=_FINISHED, created=table.created_column)
    result = await conn.execute(statement(sql), {"days": days, "n": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_items(
    conn: Executor, table: QueueTable, days: int, limit: int, *, dead: bool = False
) -> int:
    """Delete up to ``limit`` finished (or, with ``dead``, dead) items older than ``days``."""
    which = "status = 'dead'" if dead else _FINISHED
    sql = _PRUNE_ITEMS.format(t=table.name, which=which, created=table.created_column)
    result = await conn.execute(statement(sql), {"days": days, "n": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]


async def discard_where(
    conn: Executor,
    table: QueueTable,
    where: str,
    params: dict[str, Any],
    *,
    after_id: int,
    limit: int,
) -> list[int]:
    """Delete matching items (``where`` from ``matching``); returns their ids."""
    sql = statement(_DISCARD.format(t=table.name, where=where))
    rows = await conn.execute(sql, {**params, "after_id": after_id, "limit": limit})
    return sorted(r[0] for r in rows)


async def prune_alerts(conn: Executor, days: int, limit: int) -> int:
    result = await conn.execute(_PRUNE_ALERTS, {"days": days, "n": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]
