"""Periodic tasks with one runner per slot across any number of workers.

Time is cut into slots of ``interval_s`` (by the database clock). Every worker ticks twice
per slot and tries ``INSERT INTO scheduler_runs (task, slot) … ON CONFLICT DO NOTHING``; the
one whose insert wins runs the task for that slot. Built in: the lease rescuer and pruning of
old slot rows. Later features (follow-ups, health checks) add tasks here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.queue import store
from replydesk.queue.errors import error_text
from replydesk.queue.service import record_alert
from replydesk.queue.tables import TABLES

log = get_logger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[Database], Awaitable[Any]]
    budget_s: float = 30.0


_CLAIM_SLOT = text(
    """
    INSERT INTO scheduler_runs (task, slot, worker)
    VALUES (:task, to_timestamp(floor(extract(epoch FROM now()) / :interval) * :interval),
            :worker)
    ON CONFLICT DO NOTHING
    RETURNING slot
    """
)


class Scheduler:
    def __init__(self, db: Database, tasks: list[PeriodicTask], worker_id: str) -> None:
        self.db, self.tasks, self.worker_id = db, tasks, worker_id

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.tasks:
            return
        tick = min(t.interval_s for t in self.tasks) / 2
        while not stopping.is_set():
            for task in self.tasks:
                if stopping.is_set():
                    break
                await self.run_due(task)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=tick)

    async def run_due(self, task: PeriodicTask) -> bool:
        """Run ``task`` if this worker wins its current slot; True when it ran."""
        try:
            async with self.db.session() as session:
                params = {
                    "task": task.name,
                    "interval": float(task.interval_s),
                    "worker": self.worker_id,
                }
                won = (await session.execute(_CLAIM_SLOT, params)).scalar_one_or_none()
            if won is None:
                return False
            async with asyncio.timeout(task.budget_s):
                await task.run(self.db)
            return True
        except Exception as exc:
            if is_database_unavailable(exc):
                # Expected while the database is away; the worker logs the outage once.
                log.debug("scheduled_task_skipped_db_unavailable", task=task.name)
                return False
            log.error(
                "scheduled_task_failed",
                category="scheduler",
                task=task.name,
                error=error_text(exc),
            )
            return False


async def rescue_expired(db: Database, limit: int) -> dict[str, int]:
    """Return running items whose lease expired to pending (dead after their last attempt)."""
    rescued: dict[str, int] = {}
    for table in TABLES.values():
        async with db.session() as session:
            rows = await store.rescue(session, table, limit)
            for row in rows:
                if row["status"] == "dead":
                    await record_alert(
                        session,
                        workspace_id=row["workspace_id"],
                        error_class="lease_expired",
                        source=table.name,
                        item_id=row["id"],
                        error="lease expired on the last attempt",
                    )
        if rows:
            dead = sum(1 for r in rows if r["status"] == "dead")
            log.warning(
                "queue_leases_rescued",
                category="worker_lost",
                table=table.name,
                count=len(rows),
                dead=dead,
            )
        rescued[table.name] = len(rows)
    return rescued


async def prune_slots(db: Database) -> None:
    async with db.session() as session:
        await session.execute(
            text(
                "DELETE FROM scheduler_runs WHERE ctid IN (SELECT ctid FROM scheduler_runs "
                "WHERE slot < now() - interval '1 day' LIMIT 5000)"
            )
        )


def default_tasks(settings: Settings) -> list[PeriodicTask]:
    limit = settings.worker_rescue_batch

    async def rescue(db: Database) -> None:
        await rescue_expired(db, limit)

    return [
        PeriodicTask("queue.rescue", settings.worker_rescue_interval_s, rescue),
        PeriodicTask("scheduler.prune", 3600.0, prune_slots),
    ]
