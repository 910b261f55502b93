"""The queue engine's own periodic tasks: the lease rescuer, and retention of the tables the
engine writes (finished webhook events and jobs, their attempts, alerts, scheduler slots)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.retention import Bounds, Step, in_batches
from replydesk.core.settings import Settings
from replydesk.queue import repository, retention_repository
from replydesk.queue.queues import JOBS, TABLES, WEBHOOK_EVENTS, QueueTable
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


async def prune_slots(db: Database, days: int = 1, limit: int = 5000) -> int:
    async with db.session() as session:
        return await repository.prune_slots(session, days, limit)


async def prune_attempts(db: Database, retention_days: int, limit: int = 5000) -> int:
    """Delete attempt rows older than the retention (at most ``limit`` per run)."""
    async with db.session() as session:
        return await repository.prune_attempts(session, retention_days, limit)


async def apply_retention(db: Database, settings: Settings, bounds: Bounds) -> dict[str, int]:
    """One retention run over the engine's tables, each step in bounded batches; returns the
    rows affected per step. Dead items are left alone unless ``retention_dead_days`` > 0."""
    s = settings
    steps: list[tuple[str, Step]] = [
        (
            "webhook_events.payload",
            lambda ses, n: retention_repository.drop_payloads(
                ses, WEBHOOK_EVENTS, s.retention_webhook_payload_days, n
            ),
        ),
        (
            "webhook_events",
            lambda ses, n: retention_repository.prune_items(
                ses, WEBHOOK_EVENTS, s.retention_webhook_events_days, n
            ),
        ),
        (
            "jobs",
            lambda ses, n: retention_repository.prune_items(ses, JOBS, s.retention_jobs_days, n),
        ),
        (
            "queue_attempts",
            lambda ses, n: repository.prune_attempts(ses, s.queue_attempts_retention_days, n),
        ),
        (
            "alerts",
            lambda ses, n: retention_repository.prune_alerts(ses, s.retention_alerts_days, n),
        ),
        (
            "scheduler_runs",
            lambda ses, n: repository.prune_slots(ses, s.retention_scheduler_slots_days, n),
        ),
    ]
    if s.retention_dead_days > 0:
        steps += [
            (f"{t.name}.dead", _prune_dead(t, s.retention_dead_days)) for t in TABLES.values()
        ]
    return {name: await in_batches(db, name, step, bounds) for name, step in steps}


def _prune_dead(table: QueueTable, days: int) -> Step:
    async def step(session: AsyncSession, limit: int) -> int:
        return await retention_repository.prune_items(session, table, days, limit, dead=True)

    return step


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    """The queue engine's own periodic tasks."""
    limit = settings.worker_rescue_batch
    bounds = Bounds.from_settings(settings, budget_s=15.0)

    async def rescue(db: Database) -> RunReport:
        rescued = await rescue_expired(db, limit)
        return RunReport(processed=sum(rescued.values()))

    async def retention(db: Database) -> RunReport:
        pruned = await apply_retention(db, settings, bounds)
        return RunReport(processed=sum(pruned.values()))

    return [
        PeriodicTask("queue.rescue", settings.worker_rescue_interval_s, rescue),
        # Bounded: retention_max_batches statements of retention_batch_size rows per step, and
        # a time budget; a backlog drains over several runs.
        PeriodicTask("queue.retention", settings.retention_interval_s, retention, budget_s=150.0),
    ]
