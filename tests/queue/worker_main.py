"""A real worker process for the crash and concurrency tests.

``python -m tests.queue.worker_main [--delay-ms N] [--concurrency N]`` runs the application's
handlers (``build_registry``), each wrapped to also insert a row into ``processing_log``
(a test-only table without unique keys) in the item's own transaction, after an optional
delay. A committed row = one committed processing: double processing would show up as two
rows. Settings come from the environment (REPLYDESK_DATABASE_URL, REPLYDESK_WORKER_*).
"""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.app import build_registry, run_worker
from replydesk.core.logging import configure_logging
from replydesk.core.settings import Settings
from replydesk.queue.queues import TABLES, ClaimedItem
from replydesk.queue.registry import Apply, Registry


def recording(apply: Apply, delay_s: float) -> Apply:
    async def wrapped(session: AsyncSession, item: ClaimedItem) -> str | None:
        if delay_s:
            await asyncio.sleep(delay_s)
        result = await apply(session, item)
        await session.execute(
            text("INSERT INTO processing_log (tbl, item_id, worker) VALUES (:t, :id, :w)"),
            {"t": item.table, "id": item.id, "w": item.worker},
        )
        return result

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay-ms", type=float, default=0)
    parser.add_argument("--concurrency", type=int, default=None)
    args = parser.parse_args()
    settings = Settings()
    configure_logging("warning")
    base, registry = build_registry(), Registry()
    for table in TABLES:
        for kind in base.kinds(table):
            handler = base.get(table, kind)
            assert handler is not None
            registry.add(table, kind, recording(handler.apply, args.delay_ms / 1000))
    assert settings.database_url
    asyncio.run(
        run_worker(settings, settings.database_url, concurrency=args.concurrency, registry=registry)
    )


if __name__ == "__main__":
    main()
