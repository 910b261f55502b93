"""Helpers for queue and processing tests: workspaces, events, worker runs, waiting."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from replydesk.auth.service import create_workspace
from replydesk.core.db import Database, plain_url
from replydesk.core.settings import Settings
from replydesk.queue.registry import Registry
from replydesk.queue.scheduler import PeriodicTask
from replydesk.queue.worker import Worker

# Copies of ../shared/samples (one webhook payload per provider event).
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / provider / f"{name}.json").read_text())
    return data


def event_type_of(provider: str, payload: dict[str, Any]) -> str:
    if provider == "emailbison":
        return str(payload["event"]["type"]).upper()
    if provider == "ghl":
        return str(payload["type"])
    return str(payload["event"])


async def new_workspace(db: Database, **columns: Any) -> uuid.UUID:
    async with db.session() as session:
        ws = (await create_workspace(session, "Test", "owner@test.example")).workspace_id
        if columns:
            sets = ", ".join(f"{k} = :{k}" for k in columns)
            await session.execute(
                text(f"UPDATE workspaces SET {sets} WHERE id = :id"), {**columns, "id": ws}
            )
    return ws


def email_sent(i: int, leads: int = 500, sent_at: str = "2026-01-23T18:13:05Z") -> dict[str, Any]:
    """An EMAIL_SENT payload for scheduled e-mail ``i`` to one of ``leads`` leads."""
    n = i % leads
    return {
        "event": {"type": "EMAIL_SENT", "instance_url": "https://bison.test", "workspace_id": 1},
        "data": {
            "scheduled_email": {"id": i, "email_subject": f"Hello {n}", "sent_at": sent_at},
            "campaign_event": {"id": 10_000_000 + i, "type": "sent"},
            "lead": {"id": n, "email": f"lead{n}@example.com", "first_name": f"L{n}"},
        },
    }


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


async def status_counts(url: str, table: str) -> dict[str, int]:
    rows = await fetch(url, f"SELECT status, count(*) AS n FROM {table} GROUP BY status")
    return {r["status"]: r["n"] for r in rows}
