"""The outage spool at work: fsync-ed appends on the request path, replay into the database.

``Spooler`` is built by the ``Ingestor`` when ``spool_enabled`` and lives as long as the API
process (it owns one folder of ``<data_dir>/spool``, see ``spool.py``):

- ``append``: concurrent webhooks share one write + fsync (group commit, like the database
  path); each is answered only after the fsync that holds its record returned. Beyond
  ``spool_max_bytes`` (or on a disk error) the answer is the outage answer, as without a spool.
- ``bypass_db``: while the outage log says the database is away, requests go to the spool at
  once instead of spending their budget on a dead connection; one request per second still
  tries the database, so recovery is noticed with traffic, and the replay task notices it
  without.
- the replay task: every ``spool_replay_interval_s`` and as soon as a request reached the
  database again, the sealed segments (this process's and those of dead processes) are
  inserted with their dedupe keys (``INSERT … ON CONFLICT DO NOTHING``: replaying twice, or an
  event re-delivered meanwhile, is one row) and deleted only after the insert committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from replydesk.core.db_errors import is_bad_row
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.outage import OutageLog
from replydesk.ingest import repository
from replydesk.ingest.spool import (
    SpoolDir,
    SpooledEvent,
    SpoolFull,
    add_totals,
    adopt_orphans,
    read_segment,
    segments_of,
)

log = get_logger(__name__)

REPLAY_CHUNK = 100
PROBE_INTERVAL_S = 1.0


def spool_root(data_dir: Path) -> Path:
    return data_dir / "spool"


class Spooler:
    def __init__(
        self,
        root: Path,
        engine: AsyncEngine,
        outage: OutageLog,
        *,
        max_bytes: int,
        replay_interval_s: float,
        statement_budget_s: float,
    ) -> None:
        self.root = root
        self.engine = engine
        self.outage = outage
        self.replay_interval_s = replay_interval_s
        self.statement_budget_s = statement_budget_s
        self.dir = SpoolDir(root, max_bytes)
        self._io = asyncio.Lock()  # one blocking SpoolDir call at a time
        self._queue: list[tuple[bytes, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_probe = 0.0
        self._full_logged = False
        # In-process counters (the host-wide ones are in totals.json).
        self.spooled = 0
        self.replayed = 0

    # -- request path --------------------------------------------------------------------

    def bypass_db(self) -> bool:
        if not self.outage.down:
            return False
        now = time.monotonic()
        if now - self._last_probe >= PROBE_INTERVAL_S:
            self._last_probe = now
            return False  # this request probes the database
        return True

    def db_answered(self) -> None:
        """A request's insert committed: replay now if anything waits."""
        if self.dir.bytes:
            self._wake.set()

    async def append(self, event: repository.NewEvent, *, db_failed: bool = False) -> bool:
        """True once the event is on disk (fsync-ed); False: full or the disk failed.
        ``db_failed``: the request tried the database first (the next probe waits a second)."""
        if db_failed:
            self._last_probe = time.monotonic()
        record = SpooledEvent(
            workspace_id=str(event.workspace_id),
            provider=event.provider,
            event_type=event.event_type,
            dedupe_key=event.dedupe_key,
            status=event.status,
            payload=event.payload,
            received_at=datetime.now(UTC).isoformat(),
        ).encode()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((record, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            records = [record for record, _ in batch]
            ok = False
            try:
                async with self._io:
                    await asyncio.to_thread(self.dir.append, records)
                ok = True
            except SpoolFull:
                if not self._full_logged:
                    self._full_logged = True
                    log.error(
                        "spool_full",
                        category=LogCategory.DB_UNAVAILABLE,
                        error_class="spool_full",
                        max_bytes=self.dir.max_bytes,
                        detail="webhooks get the outage answer until the spool is replayed",
                    )
                await asyncio.to_thread(add_totals, self.root, refused_full=len(batch))
            except OSError as exc:
                log.error(
                    "spool_write_failed",
                    category=LogCategory.OTHER,
                    error_class="spool_io",
                    error=type(exc).__name__,
                )
            if ok:
                self.spooled += len(batch)
                await asyncio.to_thread(add_totals, self.root, spooled=len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_result(ok)

    # -- replay --------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        # A last replay attempt: at a clean shutdown the database is usually there.
        try:
            async with asyncio.timeout(self.statement_budget_s * 3):
                await self.replay()
        except (TimeoutError, OSError):
            pass
        async with self._io:
            await asyncio.to_thread(self.dir.close)

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.replay_interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.replay()
            except Exception as exc:
                log.error(
                    "spool_replay_failed",
                    category=LogCategory.OTHER,
                    error_class="bug",
                    error=type(exc).__name__,
                )

    async def replay(self) -> int:
        """Replay every sealed segment this process can take; the number of records replayed.
        Stops at the first segment the database does not take (it is tried again later)."""
        replayed = 0
        if self.dir.bytes:
            async with self._io:
                sealed = await asyncio.to_thread(self.dir.seal)
            for segment in sealed:
                size = segment.stat().st_size
                done = await self._replay_segment(segment)
                if done is None:
                    return replayed
                replayed += done
                async with self._io:
                    await asyncio.to_thread(self.dir.forget, segment, size)
        with adopt_orphans(self.root, self.dir.folder) as orphans:
            for folder in orphans:
                for segment in segments_of(folder):
                    done = await self._replay_segment(segment)
                    if done is None:
                        return replayed
                    replayed += done
                    segment.unlink(missing_ok=True)
        return replayed

    async def _replay_segment(self, segment: Path) -> int | None:
        """Insert a segment's records; their count, or None when the database is away."""
        read = await asyncio.to_thread(read_segment, segment)
        new_rows = rejected = 0
        for i in range(0, len(read.events), REPLAY_CHUNK):
            chunk = _unique(read.events[i : i + REPLAY_CHUNK])
            try:
                new_rows += await self._insert(chunk)
            except Exception as exc:
                if not is_bad_row(exc):
                    log.debug("spool_replay_waiting", error=type(exc).__name__)
                    return None
                for event in chunk:
                    try:
                        new_rows += await self._insert([event])
                    except Exception as one:
                        if not is_bad_row(one):
                            return None
                        # e.g. the workspace was deleted meanwhile: the row can never be stored.
                        rejected += 1
                        log.warning(
                            "spool_record_rejected",
                            provider=event.provider,
                            event_type=event.event_type,
                            error=type(one).__name__,
                        )
        self.outage.success()  # the database took the segment
        self.replayed += len(read.events)
        await asyncio.to_thread(
            add_totals,
            self.root,
            replayed=len(read.events) - rejected,
            replayed_new=new_rows,
            skipped=read.skipped + rejected,
        )
        log.info(
            "spool_replayed",
            segment=f"{segment.parent.name}/{segment.name}",
            records=len(read.events),
            new_rows=new_rows,
            skipped=read.skipped + rejected,
        )
        return len(read.events)

    async def _insert(self, events: list[SpooledEvent]) -> int:
        async with asyncio.timeout(self.statement_budget_s):
            new = await repository.insert_spooled_events(
                self.engine,
                [
                    (
                        repository.NewEvent(
                            workspace_id=uuid.UUID(e.workspace_id),
                            provider=e.provider,
                            event_type=e.event_type,
                            dedupe_key=e.dedupe_key,
                            status=e.status,
                            payload=e.payload,
                        ),
                        e.received,
                    )
                    for e in events
                ],
            )
        return len(new)


def _unique(events: list[SpooledEvent]) -> list[SpooledEvent]:
    seen: dict[str, SpooledEvent] = {}
    for event in events:
        seen.setdefault(event.dedupe_key, event)
    return list(seen.values())
