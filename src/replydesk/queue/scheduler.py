"""Periodic tasks with one runner per slot across any number of workers.

Time is cut into slots of ``interval_s`` (by the database clock). Every worker ticks twice
per slot and tries ``INSERT INTO scheduler_runs (task, slot) … ON CONFLICT DO NOTHING``; the
one whose insert wins runs the task for that slot. Each domain offers its tasks, and the
composition root (``replydesk/app.py``) hands the whole list to the worker; the engine's own
are in ``queue/tasks.py``.

A circuit breaker on database connectivity (``core/breaker.py``) guards the runs: after
``db_breaker_failures`` consecutive connection failures (slot claims or runs) every periodic
run is skipped without touching the database; after ``db_breaker_cooldown_s`` one probe
(``SELECT 1``) decides whether runs resume or stay skipped for another cooldown. A sick
database then sees one probe per cooldown from each worker, not every task every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import text

from replydesk.core.breaker import CircuitBreaker
from replydesk.core.db import Database
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.log_categories import exception_category
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.queue import repository
from replydesk.queue.errors import error_text

log = get_logger(__name__)


@dataclass(frozen=True)
class RunReport:
    """What one periodic run did; a task's ``run`` may return one (or an int: processed).
    ``health_gated``: items skipped because their provider is failing its health checks."""

    processed: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    health_gated: int = 0

    @classmethod
    def of(cls, result: Any) -> RunReport:
        if isinstance(result, RunReport):
            return result
        if isinstance(result, int) and not isinstance(result, bool):
            return cls(processed=result)
        return cls()


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[Database], Awaitable[Any]]
    budget_s: float = 30.0


_PROBE = text("SELECT 1")


class Scheduler:
    def __init__(
        self,
        db: Database,
        tasks: list[PeriodicTask],
        worker_id: str,
        *,
        log_steps: bool = False,
        breaker: CircuitBreaker | None = None,
        own_statement_timeout_s: float = 5.0,
    ) -> None:
        self.db, self.tasks, self.worker_id = db, tasks, worker_id
        self.log_steps = log_steps  # REPLYDESK_LOG_SLOW_PATHS: slot claim and run timings
        self.breaker = breaker or CircuitBreaker("periodic", failures=3, cooldown_s=30.0)
        # The scheduler's own statements (slot claim, probe) are tiny: a database that went
        # silent (a cut network, no reset) fails them after this, not after the driver's
        # command timeout, so the breaker opens within seconds then too.
        self.own_statement_timeout_s = own_statement_timeout_s

    async def run(self, stopping: asyncio.Event) -> None:
        if not self.tasks:
            return
        tick = min(t.interval_s for t in self.tasks) / 2
        while not stopping.is_set():
            if await self.database_ready():
                for task in self.tasks:
                    if stopping.is_set() or not self.breaker.is_closed:
                        break
                    await self.run_due(task)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=tick)

    async def database_ready(self) -> bool:
        """False while the breaker is open (runs skipped, the database not touched); once its
        cooldown has passed, one ``SELECT 1`` probe closes it or opens it again."""
        if self.breaker.is_closed:
            return True
        if not self.breaker.allow():
            return False
        try:
            async with asyncio.timeout(self.own_statement_timeout_s):
                async with self.db.session() as session:
                    await session.execute(_PROBE)
        except Exception as exc:
            self.breaker.failure(error_text(exc))
            return False
        self.breaker.success()
        return True

    async def run_due(self, task: PeriodicTask) -> bool:
        """Run ``task`` if this worker wins its current slot; True when it ran."""
        started = time.monotonic()
        claimed_at = started
        won = False
        budget: asyncio.Timeout | None = None
        try:
            async with asyncio.timeout(self.own_statement_timeout_s):
                async with self.db.session() as session:
                    won = await repository.claim_slot(
                        session, task.name, task.interval_s, self.worker_id
                    )
            self.breaker.success()  # the database answered
            if not won:
                return False
            claimed_at = time.monotonic()
            async with asyncio.timeout(task.budget_s) as budget:
                result = await task.run(self.db)
        except Exception as exc:
            over_budget = budget is not None and budget.expired()
            if is_database_unavailable(exc) and not over_budget:
                self.breaker.failure(error_text(exc))
            if is_database_unavailable(exc):
                # Expected while the database is away; the worker logs the outage once.
                log.debug("scheduled_task_skipped_db_unavailable", task=task.name)
                if won:
                    metrics().periodic_runs.labels(task.name, "db_unavailable").inc()
                return False
            metrics().periodic_runs.labels(task.name, "failed").inc()
            log.error(
                "scheduled_task_failed",
                category=exception_category(exc),
                error_class="scheduler",
                task=task.name,
                error=error_text(exc),
            )
            return False
        self._report(task, RunReport.of(result), started, claimed_at)
        return True

    def _report(self, task: PeriodicTask, report: RunReport, started: float, ran: float) -> None:
        """One line per run with what it did (processed/failed/retried/skipped/health_gated)."""
        now = time.monotonic()
        m = metrics()
        m.periodic_runs.labels(task.name, "ok").inc()
        figures = asdict(report)
        for result, n in figures.items():
            if n:
                m.periodic_items.labels(task.name, result).inc(n)
        extra: dict[str, Any] = {}
        if self.log_steps:
            extra["steps_ms"] = {
                "claim_slot": round((ran - started) * 1000, 1),
                "run": round((now - ran) * 1000, 1),
            }
        log.info(
            "periodic_run",
            task=task.name,
            duration_ms=round((now - ran) * 1000, 1),
            **figures,
            **extra,
        )
