"""The periodic task of follow-up sequences: ``automation.followup_tick`` (every
``REPLYDESK_FOLLOWUP_TICK_INTERVAL_S``) sends the due steps (``tick.run_tick``)."""

from __future__ import annotations

from replydesk.automation.sequences.tick import run_tick
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.queue.scheduler import PeriodicTask, RunReport

TASK = "automation.followup_tick"


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    async def tick(db: Database) -> RunReport:
        report = await run_tick(db, settings)
        gated = report.reasons.get("integration_disconnected", 0)
        return RunReport(
            processed=report.processed,
            failed=report.failed,
            skipped=report.skipped - gated,
            health_gated=gated,
        )

    # The scheduler's cut-off comes after the tick's own budget (it stops between batches).
    budget = settings.followup_time_budget_s + 10
    return [PeriodicTask(TASK, settings.followup_tick_interval_s, tick, budget_s=budget)]
