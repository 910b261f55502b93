"""The worker: one runner per queue table, a LISTEN connection, the scheduler.

A runner keeps at most ``concurrency`` transactions in flight. It claims when half its slots
are free (or all are) and sleeps until a NOTIFY, a finished item or the poll interval (≤ 1 s).
Claimed items are applied in groups of ``worker_group_size`` (``worker_event_group_size``
for webhook events) per transaction: one status statement per group, items sorted by the rows
they lock, and a handler may apply its items of a group at once (``Handler.apply_group``,
docs/decisions/0018). If anything in a group fails, the group rolls back and each of its items
runs alone in its own transaction, so one item's failure never fails its batch-mates
(docs/decisions/0003-worker-applies-items-in-groups.md).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from replydesk.core.breaker import CircuitBreaker
from replydesk.core.db import Database, listen_url, make_engine, plain_url
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.log_categories import LogCategory, exception_category, log_category
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.core.outage import OutageLog
from replydesk.core.settings import Settings
from replydesk.queue import repository
from replydesk.queue.errors import LeaseLost, RetryableError, classify, error_text
from replydesk.queue.queues import TABLES, WEBHOOK_EVENTS, ClaimedItem, QueueTable
from replydesk.queue.registry import Registry
from replydesk.queue.scheduler import PeriodicTask, Scheduler
from replydesk.queue.service import record_alert

log = get_logger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def worker_database(settings: Settings, url: str, concurrency: int | None = None) -> Database:
    """A pool sized for the worker (its items never wait for, or starve, the API's pool)."""
    conc = concurrency or settings.worker_concurrency
    # Per table: items in flight + the claim loop + lease renewal; + the scheduler.
    engine = make_engine(
        url,
        pool_size=len(TABLES) * (conc + 2) + 1,
        max_overflow=2,
        pool_timeout_s=settings.db_pool_timeout_s,
        connect_timeout_s=settings.db_connect_timeout_s,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        application_name="replydesk-worker",
        # Safe without waiting for the WAL flush: an item's writes and its status change
        # commit together, so a commit lost in a crash only means the item runs again
        # (idempotently) after its lease expires. Ingestion keeps synchronous commits: it
        # acknowledges providers.
        synchronous_commit=settings.worker_synchronous_commit,
        pool_mode=settings.database_pool_mode,
    )
    return Database(
        url,
        engine,
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        pool_mode=settings.database_pool_mode,
        listen_url=listen_url(settings, url),
    )


@asynccontextmanager
async def _autocommit(db: Database) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for single statements: without BEGIN/COMMIT round trips, except
    behind a transaction-mode pooler (``Database.single_statement_options``)."""
    async with db.engine.connect() as conn:
        yield await conn.execution_options(**db.single_statement_options)
        await conn.commit()


async def _first(*aws: Coroutine[Any, Any, Any], wait_s: float | None = None) -> None:
    """Wait until the first of ``aws`` completes (or the timeout); cancel the rest."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class QueueRunner:
    def __init__(
        self,
        db: Database,
        table: QueueTable,
        registry: Registry,
        settings: Settings,
        worker_id: str,
        concurrency: int,
        outage: OutageLog | None = None,
    ) -> None:
        self.db, self.table, self.registry, self.s = db, table, registry, settings
        self.worker_id, self.concurrency = worker_id, concurrency
        self.min_claim = max(1, concurrency // 2)
        self.group_size = (
            settings.worker_event_group_size
            if table.name == WEBHOOK_EVENTS.name
            else settings.worker_group_size
        )
        self.outage = outage or OutageLog(
            scope="worker", detail="items are retried once the database answers again"
        )
        self.wake = asyncio.Event()
        self.inflight: dict[int, asyncio.Task[None]] = {}  # item id → the task running it
        self.tasks: set[asyncio.Task[None]] = set()  # transactions in flight

    async def run(self, stopping: asyncio.Event) -> None:
        renewer = asyncio.create_task(self._renew_loop())
        try:
            while not stopping.is_set():
                free = self.concurrency - len(self.tasks)
                want = min(free * self.group_size, self.s.worker_batch_size)
                # Claim when half the slots are free (or all are): one claim statement per
                # several items, without claiming items that would wait for a slot.
                if want > 0 and (free >= self.min_claim or not self.tasks):
                    self.wake.clear()
                    items = await self._claim(want)
                    for group in self._groups(items):
                        task = asyncio.create_task(self._run_group(group))
                        self.tasks.add(task)
                        task.add_done_callback(self.tasks.discard)
                        for item in group:
                            self.inflight[item.id] = task
                    if items and len(items) == want:
                        continue  # more may be due right now
                waits: list[Coroutine[Any, Any, Any]] = [self.wake.wait(), stopping.wait()]
                if self.tasks and free < self.min_claim:
                    waits.append(asyncio.wait(list(self.tasks)))
                await _first(*waits, wait_s=self.s.worker_poll_interval_s)
        finally:
            await self._drain()
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    def _groups(self, items: list[ClaimedItem]) -> list[list[ClaimedItem]]:
        """Items sharing one transaction, sorted by the rows they lock (see ``OrderKey``).
        Items with a slow ``prepare`` step run alone."""
        alone: list[ClaimedItem] = []
        together: list[tuple[str, ClaimedItem]] = []
        for item in items:
            handler = self.registry.get(item.table, item.kind)
            if handler is not None and handler.prepare is not None:
                alone.append(item)
            else:
                key = handler.order_key(item) if handler and handler.order_key else ""
                together.append((key, item))
        ordered = [item for _, item in sorted(together, key=lambda pair: (pair[0], pair[1].id))]
        size = self.group_size
        return [[i] for i in alone] + [ordered[k : k + size] for k in range(0, len(ordered), size)]

    async def _apply(self, session: AsyncSession, item: ClaimedItem) -> tuple[str, str | None]:
        handler = self.registry.get(item.table, item.kind)
        note = (
            f"no handler for {item.kind}" if handler is None else await handler.apply(session, item)
        )
        return ("succeeded" if note is None else "ignored"), note

    async def _apply_all(
        self, session: AsyncSession, group: list[ClaimedItem]
    ) -> list[tuple[ClaimedItem, str, str | None]]:
        """Each item's outcome, in order; consecutive items whose handler applies groups
        (``Handler.apply_group``, the same one) are applied together."""
        outcomes: list[tuple[ClaimedItem, str, str | None]] = []
        start = 0
        while start < len(group):
            handler = self.registry.get(group[start].table, group[start].kind)
            together = handler.apply_group if handler is not None else None
            end = start + 1
            if together is not None:
                while end < len(group):
                    other = self.registry.get(group[end].table, group[end].kind)
                    if other is None or other.apply_group is not together:
                        break
                    end += 1
            if together is None or end - start == 1:
                outcomes.append((group[start], *await self._apply(session, group[start])))
            else:
                notes = await together(session, group[start:end])
                outcomes += [
                    (item, "succeeded" if note is None else "ignored", note)
                    for item, note in zip(group[start:end], notes, strict=True)
                ]
            start = end
        return outcomes

    async def _run_group(self, group: list[ClaimedItem]) -> None:
        """One transaction and one status statement for the whole group: per-item BEGIN,
        COMMIT and UPDATE round trips dominated the drain. If anything in the group fails,
        the transaction rolls back and every item runs alone, so one item's failure never
        fails its batch-mates."""
        if len(group) == 1:
            await self._run_item(group[0])
            return
        try:
            async with asyncio.timeout(self.s.worker_item_budget_s):
                async with self.db.session() as session:
                    outcomes = await self._apply_all(session, group)
                    if not await repository.finish_group(session, outcomes):
                        raise LeaseLost
        except Exception as exc:
            log.debug("queue_group_fallback", table=self.table.name, size=len(group),
                      error=type(exc).__name__)  # fmt: skip
            for item in group:
                await self._run_item(item)
            return
        for item, status, note in outcomes:
            self.inflight.pop(item.id, None)
            metrics().queue_items.labels(item.table, item.kind, status).inc()
            if note is not None:
                log.info("queue_item_ignored", table=item.table, item_id=item.id, reason=note)

    async def _claim(self, n: int) -> list[ClaimedItem]:
        lease = float(self.s.worker_lease_s)
        try:
            async with _autocommit(self.db) as conn:
                items = await repository.claim(conn, self.table, self.worker_id, n, lease)
        except Exception as exc:
            # Once per outage, not once per poll: the runner keeps polling until it recovers.
            if not is_database_unavailable(exc):
                log.error("queue_claim_failed", category=exception_category(exc),
                          error_class="db_error", table=self.table.name,
                          error=error_text(exc))  # fmt: skip
            self.outage.failure(f"claim {self.table.name}", error_text(exc))
            return []
        self.outage.success()
        return items

    async def _run_item(self, item: ClaimedItem) -> None:
        handler = self.registry.get(item.table, item.kind)
        try:
            if handler is None and item.table != WEBHOOK_EVENTS.name:
                # A job type this worker does not know (e.g. enqueued by newer code): retry,
                # so a worker that knows it can take it; dead with an alert in the end.
                raise RetryableError(f"no handler for job type {item.kind}", category="no_handler")
            async with asyncio.timeout(self.s.worker_item_budget_s):
                if handler is not None and handler.prepare is not None:
                    item.prepared = await handler.prepare(item)
                async with self.db.session() as session:
                    status, note = await self._apply(session, item)
                    if not await repository.finish(session, item, status=status, note=note):
                        raise LeaseLost
            metrics().queue_items.labels(item.table, item.kind, status).inc()
            if note is not None:
                log.info("queue_item_ignored", table=item.table, item_id=item.id, reason=note)
        except LeaseLost:
            log.warning("queue_lease_lost", table=item.table, item_id=item.id,
                        category=LogCategory.OTHER, error_class="lease")  # fmt: skip
        except Exception as exc:
            await self._fail(item, exc)
        finally:
            self.inflight.pop(item.id, None)

    async def _fail(self, item: ClaimedItem, exc: Exception) -> None:
        if is_database_unavailable(exc, raised_by_database=True):
            # Nothing can be recorded now; the lease expires and the rescuer returns the item.
            self.outage.failure(f"item {item.table}", error_text(exc))
            return
        permanent, category = classify(exc)
        error = error_text(exc)
        is_dead = permanent or item.attempts >= item.max_attempts
        s = self.s
        delay = repository.backoff_s(item.attempts, s.worker_backoff_base_s, s.worker_backoff_cap_s)
        # A provider's Retry-After (e.g. Slack 429) is a floor for the next attempt.
        retry_after = getattr(exc, "retry_after_s", None)
        if isinstance(retry_after, int | float) and retry_after > 0:
            delay = max(delay, float(retry_after))
        count = 0
        try:
            async with self.db.session() as session:
                if is_dead:
                    ok = await repository.dead(session, item, error=error, category=category)
                    if ok:
                        count = await record_alert(
                            session,
                            workspace_id=item.workspace_id,
                            error_class=category,
                            source=item.table,
                            item_id=item.id,
                            error=error,
                        )
                else:
                    ok = await repository.retry(
                        session, item, delay_s=delay, error=error, category=category
                    )
        except Exception as db_exc:
            # The lease runs out and the rescuer returns the item to pending.
            if is_database_unavailable(db_exc):
                self.outage.failure(f"item {item.table}", error_text(db_exc))
                return
            log.error(
                "queue_failure_not_recorded",
                category=exception_category(db_exc),
                error_class=classify(db_exc)[1],
                table=item.table,
                item_id=item.id,
                error=error_text(db_exc),
            )
            return
        fields = {
            "table": item.table,
            "item_id": item.id,
            "kind": item.kind,
            "attempt": item.attempts,
            "error_class": category,
            "error": error,
            "workspace_id": str(item.workspace_id) if item.workspace_id else None,
        }
        if not ok:
            lost = {**fields, "error_class": "lease"}
            log.warning("queue_lease_lost", category=LogCategory.OTHER, **lost)
            return
        outcome = "dead" if is_dead else "retried"
        metrics().queue_items.labels(item.table, item.kind, outcome).inc()
        metrics().queue_failures.labels(item.table, item.kind, category, outcome).inc()
        if is_dead and count == 1:
            # First dead item of this class today: error (someone must look); repeats: warning.
            log.error(
                "queue_item_dead", category=log_category(category), alert_count_today=count,
                **fields,
            )  # fmt: skip
        elif is_dead:
            log.warning(
                "queue_item_dead", category=log_category(category), alert_count_today=count,
                **fields,
            )  # fmt: skip
        else:
            log.warning(
                "queue_item_retry", category=log_category(category), retry_in_s=round(delay, 2),
                **fields,
            )  # fmt: skip

    async def _renew_loop(self) -> None:
        lease = float(self.s.worker_lease_s)
        while True:
            await asyncio.sleep(lease / 3)
            try:
                async with _autocommit(self.db) as conn:
                    await repository.renew(
                        conn, self.table, self.worker_id, list(self.inflight), lease
                    )
            except Exception as exc:
                self.outage.failure(f"renew {self.table.name}", error_text(exc))

    async def _drain(self) -> None:
        """Graceful stop: let in-flight items finish for the grace period, then cancel the
        rest and hand them back (pending, attempt not counted)."""
        if self.inflight:
            await asyncio.wait(list(self.inflight.values()), timeout=self.s.worker_shutdown_grace_s)
        leftover = dict(self.inflight)
        if not leftover:
            return
        for task in leftover.values():
            task.cancel()
        await asyncio.gather(*leftover.values(), return_exceptions=True)
        try:
            async with _autocommit(self.db) as conn:
                n = await repository.release(conn, self.table, self.worker_id, list(leftover))
            log.info("queue_items_released", table=self.table.name, count=n)
        except Exception as exc:
            log.warning("queue_release_failed", category="db_unavailable", error=error_text(exc))


class Listener:
    """One raw asyncpg connection LISTENing on the tables' channels; reconnects on loss."""

    def __init__(
        self,
        url: str,
        wakes: dict[str, asyncio.Event],
        timeout_s: float,
        outage: OutageLog | None = None,
    ) -> None:
        self.url, self.wakes, self.timeout_s = plain_url(url), wakes, timeout_s
        self.outage = outage or OutageLog(scope="worker")

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            conn: Any = None
            try:
                conn = await asyncpg.connect(self.url, timeout=self.timeout_s)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for channel, wake in self.wakes.items():
                    await conn.add_listener(channel, self._waker(wake))
                    wake.set()  # catch up on anything inserted while not listening
                await _first(stopping.wait(), lost.wait())
            except Exception as exc:
                self.outage.failure("listen", error_text(exc))
            finally:
                if conn is not None and not conn.is_closed():
                    await conn.close(timeout=self.timeout_s)
            if not stopping.is_set():
                await _first(stopping.wait(), wait_s=1.0)  # polling covers the gap

    @staticmethod
    def _waker(wake: asyncio.Event) -> Callable[..., None]:
        return lambda *_args: wake.set()


class Worker:
    """Runners for every queue table + LISTEN + the scheduler, until ``stopping`` is set."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        settings: Settings,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
        tables: tuple[QueueTable, ...] = tuple(TABLES.values()),
        tasks: list[PeriodicTask] | None = None,
    ) -> None:
        self.db, self.settings = db, settings
        self.worker_id = worker_id or new_worker_id()
        conc = concurrency or settings.worker_concurrency
        self.outage = OutageLog(
            scope="worker", detail="items are retried once the database answers again"
        )
        self.runners = [
            QueueRunner(db, t, registry, settings, self.worker_id, conc, self.outage)
            for t in tables
        ]
        # The periodic tasks come from the composition root (every domain's and the engine's).
        self.scheduler = Scheduler(
            db,
            tasks or [],
            self.worker_id,
            log_steps=settings.log_slow_paths,
            breaker=CircuitBreaker(
                "periodic",
                failures=settings.db_breaker_failures,
                cooldown_s=settings.db_breaker_cooldown_s,
            ),
            own_statement_timeout_s=max(2 * settings.db_connect_timeout_s, 1.0),
        )

    async def run(self, stopping: asyncio.Event) -> None:
        wakes = {r.table.channel: r.wake for r in self.runners}
        log.info(
            "worker_started", worker=self.worker_id, tables=[r.table.name for r in self.runners]
        )
        parts: list[Awaitable[None]] = [r.run(stopping) for r in self.runners]
        parts.append(self.scheduler.run(stopping))
        if self.db.listen_url is not None:
            listener = Listener(
                self.db.listen_url, wakes, self.settings.db_connect_timeout_s, self.outage
            )
            parts.append(listener.run(stopping))
        else:
            # A transaction-mode pooler cannot hold a LISTEN: polling alone wakes the runners.
            log.info("worker_listen_disabled", reason="transaction_pooler_without_direct_url")
        await asyncio.gather(*parts)
        log.info("worker_stopped", worker=self.worker_id)
