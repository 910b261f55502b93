"""The end of a snooze as a row change: the ``leads.snooze_wake`` periodic task.

``leads.snooze_active`` is set by a database trigger whenever ``snoozed_until`` is written
(migration 0014). Time passing changes no row, so this task clears the flag of leads whose
snooze has ended, in bounded batches; the inbox counter triggers then count them again.
Between two runs the counts read adds the ended-but-not-woken leads itself, so counts are
exact at any time; the task only keeps that addition small.
"""

from __future__ import annotations

import time

from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.retention import Bounds
from replydesk.core.settings import Settings
from replydesk.leads import repository
from replydesk.queue.scheduler import PeriodicTask

log = get_logger(__name__)

WAKE_BUDGET_S = 20.0


async def wake_ended_snoozes(db: Database, bounds: Bounds) -> int:
    """Clear ``snooze_active`` of every lead whose snooze has ended (up to the bounds);
    returns how many were woken."""

    deadline = time.monotonic() + bounds.budget_s
    woken = 0
    for _ in range(bounds.max_batches):
        async with db.session() as session:
            done = await repository.wake_snoozed(session, bounds.batch_size)
        woken += done
        if done < bounds.batch_size or time.monotonic() >= deadline:
            break
    if woken:
        log.info("snoozes_woken", leads=woken)
    return woken


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    bounds = Bounds(settings.snooze_wake_batch_size, 100, WAKE_BUDGET_S)

    async def wake(db: Database) -> int:
        return await wake_ended_snoozes(db, bounds)

    return [
        PeriodicTask(
            "leads.snooze_wake", settings.snooze_wake_interval_s, wake, budget_s=WAKE_BUDGET_S + 10
        )
    ]
