"""Periodic tasks with one runner per slot across any number of workers.

Time is cut into slots of ``interval_s`` (by the database clock). Every worker ticks twice
per slot and tries ``INSERT INTO scheduler_runs (task, slot) … ON CONFLICT DO NOTHING``; the
one whose insert wins runs the task for that slot. Each domain offers its tasks, and the
composition root (``replydesk/app.py``) hands the whole list to the worker; the engine's own
are in ``queue/tasks.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from replydesk.core.db import Database
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.logging import get_logger
from replydesk.queue import repository
from replydesk.queue.errors import error_text

log = get_logger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[Database], Awaitable[Any]]
    budget_s: float = 30.0


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
                won = await repository.claim_slot(
                    session, task.name, task.interval_s, self.worker_id
                )
            if not won:
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
