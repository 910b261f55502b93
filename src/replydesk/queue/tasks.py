"""The queue engine's own periodic tasks: the lease rescuer and pruning old scheduler slots."""

from __future__ import annotations

from replydesk.core.db import Database
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.queue import repository
from replydesk.queue.queues import TABLES
from replydesk.queue.scheduler import PeriodicTask, RunReport
from replydesk.queue.service import record_alert

log = get_logger(__name__)


async def rescue_expired(db: Database, limit: int) -> dict[str, int]:
    """Return running items whose lease expired to pending (dead after their last attempt)."""
    rescued: dict[str, int] = {}
    for table in TABLES.values():
        async with db.session() as session:
            rows = await repository.rescue(session, table, limit)
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
                category=LogCategory.OTHER,
                error_class="worker_lost",
                table=table.name,
                count=len(rows),
                dead=dead,
            )
        rescued[table.name] = len(rows)
    return rescued


async def prune_slots(db: Database) -> None:
    async with db.session() as session:
        await repository.prune_slots(session)


async def prune_attempts(db: Database, retention_days: int, limit: int = 5000) -> int:
    """Delete attempt rows older than the retention (at most ``limit`` per run)."""
    async with db.session() as session:
        return await repository.prune_attempts(session, retention_days, limit)


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    """The queue engine's own periodic tasks."""
    limit = settings.worker_rescue_batch
    retention_days = settings.queue_attempts_retention_days

    async def rescue(db: Database) -> RunReport:
        rescued = await rescue_expired(db, limit)
        return RunReport(processed=sum(rescued.values()))

    async def prune_old_attempts(db: Database) -> int:
        return await prune_attempts(db, retention_days)

    return [
        PeriodicTask("queue.rescue", settings.worker_rescue_interval_s, rescue),
        PeriodicTask("scheduler.prune", 3600.0, prune_slots),
        # Every 10 minutes, 5,000 rows at most: a backlog drains over a few runs.
        PeriodicTask("queue.prune_attempts", 600.0, prune_old_attempts),
    ]
