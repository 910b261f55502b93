"""Queue helpers: events inserted as ingestion writes them, worker runs, waiting, counts.

These talk to the database by URL over their own asyncpg connection, apart from the
application's pool.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from replydesk.core.db import Database, plain_url
from replydesk.core.settings import Settings
from replydesk.queue.registry import Registry
from replydesk.queue.scheduler import PeriodicTask
from replydesk.queue.worker import Worker


async def insert_events(
    url: str, workspace_id: uuid.UUID, events: list[tuple[str, str, dict[str, Any]]]
) -> list[int]:
    """Rows as ingestion writes them (one pending row per delivery), ids in order."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        ids = []
        async with conn.transaction():
            for n, (provider, event_type, payload) in enumerate(events):
                ids.append(
                    await conn.fetchval(
                        "INSERT INTO webhook_events (workspace_id, provider, event_type, "
                        "dedupe_key, payload) VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING id",
                        workspace_id,
                        provider,
                        event_type,
                        f"test:{uuid.uuid4().hex}:{n}",
                        json.dumps(payload),
                    )
                )
        return ids
    finally:
        await conn.close()


async def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(plain_url(url))
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


async def fetchval(url: str, sql: str, *args: Any) -> Any:
    rows = await fetch(url, sql, *args)
    return rows[0][0] if rows else None


async def status_counts(url: str, table: str) -> dict[str, int]:
    rows = await fetch(url, f"SELECT status, count(*) AS n FROM {table} GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0, every_s: float = 0.05
) -> float:
    """Poll ``check`` until true; returns the seconds it took. Fails the test on timeout."""
    start = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - start
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(every_s)


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "worker_poll_interval_s": 0.05,
        "worker_backoff_base_s": 0.02,
        "worker_backoff_cap_s": 0.1,
        "worker_shutdown_grace_s": 2.0,
        "worker_item_budget_s": 10.0,
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_worker(
    db: Database,
    registry: Registry,
    settings: Settings,
    *,
    tasks: list[PeriodicTask] | None = None,
    worker_id: str | None = None,
) -> AsyncIterator[Worker]:
    """A worker running in this event loop for the duration of the block."""
    worker = Worker(db, registry, settings, tasks=tasks or [], worker_id=worker_id)
    stopping = asyncio.Event()
    task = asyncio.create_task(worker.run(stopping))
    try:
        yield worker
    finally:
        stopping.set()
        await asyncio.wait_for(task, timeout=settings.worker_shutdown_grace_s + 10)
