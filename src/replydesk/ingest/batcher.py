"""Group commit: concurrent webhooks share one multi-row INSERT, each answered after it commits.

There is no deliberate wait. A row is flushed at once when a flush slot is free (so a lone
webhook costs exactly what a single-row insert costs); while all slots (one per ingest pool
connection) are busy, arriving rows queue and leave together in the next flush. Under a burst
that turns N commits (N WAL flushes, N round trips) into a few, which is where the time went:
see docs/ingestion.md for the measurement.

Per request nothing changes: it is answered only after the statement holding its row
committed, a duplicate key (also within one batch) is a duplicate, and a request whose budget
runs out is answered 503 (its row, if not yet sent, is dropped from the queue). If a batch fails
because of one bad row (a data or integrity error), every row is retried alone so only that
row's request fails.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from replydesk.core.db_errors import is_bad_row
from replydesk.core.logging import get_logger
from replydesk.ingest import repository
from replydesk.ingest.repository import NewEvent

log = get_logger(__name__)


@dataclass(eq=False)
class _Entry:
    event: NewEvent
    future: asyncio.Future[int | None]


class GroupCommitter:
    def __init__(
        self, engine: AsyncEngine, *, max_rows: int, max_flushes: int, flush_budget_s: float
    ) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self.max_flushes = max_flushes
        self.flush_budget_s = flush_budget_s
        self._queue: deque[_Entry] = deque()
        self._flushing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # Observability for tests and the benchmark: how rows were grouped.
        self.flushes = 0
        self.rows = 0

    async def insert(self, event: NewEvent) -> int | None:
        """The new row's id, or None for a duplicate. Cancelling the caller drops its row if it
        has not been sent yet (and otherwise only stops waiting)."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        # An outcome that arrives after the caller stopped waiting is not "never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append(_Entry(event, future))
        self._start_flushes()
        return await future

    def _start_flushes(self) -> None:
        while self._queue and self._flushing < self.max_flushes:
            batch: list[_Entry] = []
            while self._queue and len(batch) < self.max_rows:
                entry = self._queue.popleft()
                if not entry.future.done():  # a caller that gave up is skipped
                    batch.append(entry)
            if not batch:
                return
            self._flushing += 1
            task = asyncio.create_task(self._flush(batch))
            self._tasks.add(task)
            task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._flushing -= 1
        self._start_flushes()

    async def _flush(self, batch: list[_Entry]) -> None:
        # One row per dedupe key goes to the database; the others are duplicates of it.
        owners: dict[str, _Entry] = {}
        for entry in batch:
            owners.setdefault(entry.event.dedupe_key, entry)
        rows = [entry.event for entry in owners.values()]
        self.flushes += 1
        self.rows += len(rows)
        try:
            async with asyncio.timeout(self.flush_budget_s):
                if len(rows) == 1:
                    event_id = await repository.insert_event(self.engine, rows[0])
                    new = {} if event_id is None else {rows[0].dedupe_key: event_id}
                else:
                    new = await repository.insert_events(self.engine, rows)
        except BaseException as exc:
            if is_bad_row(exc) and len(rows) > 1:
                log.debug("group_commit_batch_failed_retrying_rows", rows=len(rows))
                await asyncio.gather(*(self._flush_one(key, batch) for key in owners))
                return
            self._fail(batch, exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for entry in batch:
            if entry.future.done():
                continue
            owner = owners[entry.event.dedupe_key]
            entry.future.set_result(new.get(entry.event.dedupe_key) if entry is owner else None)

    async def _flush_one(self, key: str, batch: list[_Entry]) -> None:
        same_key = [e for e in batch if e.event.dedupe_key == key]
        try:
            async with asyncio.timeout(self.flush_budget_s):
                event_id = await repository.insert_event(self.engine, same_key[0].event)
        except BaseException as exc:
            self._fail(same_key, exc)
            return
        for i, entry in enumerate(same_key):
            if not entry.future.done():
                entry.future.set_result(event_id if i == 0 else None)

    @staticmethod
    def _fail(entries: list[_Entry], exc: BaseException) -> None:
        for entry in entries:
            if entry.future.done():
                continue
            if isinstance(exc, asyncio.CancelledError):
                entry.future.cancel()
            else:
                entry.future.set_exception(exc)
