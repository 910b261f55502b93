"""The queue's scrape-time figures for ``GET /metrics``: depth and oldest age by table, kind
and status, read with one bounded statement per table (``repository.queue_depth``).

Computed when Prometheus scrapes, not by a periodic task: the figures are as fresh as the
scrape and cost nothing between scrapes. When the database does not answer within the
budget, ``replydesk_queue_stats_up`` is 0 and the depth series are absent for that scrape
(the process's counters are still answered).
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client.core import GaugeMetricFamily, Metric

from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.queue import repository
from replydesk.queue.queues import TABLES

log = get_logger(__name__)

# Rows read per table and status at most, and (table, kind, status) groups answered.
DEPTH_ROW_CAP = 100_000
DEPTH_GROUP_CAP = 500


async def queue_families(db: Database, settings: Settings) -> list[Metric]:
    depth = GaugeMetricFamily(
        "replydesk_queue_depth",
        f"Queue items by table, kind and status (pending, running, dead; at most "
        f"{DEPTH_ROW_CAP} counted per table and status), read at scrape",
        labels=["table", "kind", "status"],
    )
    oldest = GaugeMetricFamily(
        "replydesk_queue_oldest_age_seconds",
        "Age of the oldest item in its status (pending: since it was due), by table, kind "
        "and status, read at scrape",
        labels=["table", "kind", "status"],
    )
    up = GaugeMetricFamily(
        "replydesk_queue_stats_up", "1 when the scrape-time queue query answered in time"
    )
    took = GaugeMetricFamily(
        "replydesk_queue_stats_seconds", "Duration of the scrape-time queue query"
    )
    started = time.monotonic()
    timeout_ms = settings.metrics_query_timeout_ms
    try:
        async with asyncio.timeout(timeout_ms / 1000 + 0.5):
            async with db.session() as session:
                for table in TABLES.values():
                    rows = await repository.queue_depth(
                        session,
                        table,
                        cap=DEPTH_ROW_CAP,
                        groups=DEPTH_GROUP_CAP,
                        timeout_ms=timeout_ms,
                    )
                    for status, kind, n, age in rows:
                        depth.add_metric([table.name, kind, status], n)
                        if age is not None:
                            oldest.add_metric([table.name, kind, status], max(0.0, age))
    except Exception as exc:
        # A scrape during an outage: say so in the answer, not in an error line per scrape.
        log.debug("metrics_queue_stats_unavailable", error=type(exc).__name__)
        up.add_metric([], 0)
        took.add_metric([], time.monotonic() - started)
        return [up, took]
    up.add_metric([], 1)
    took.add_metric([], time.monotonic() - started)
    return [depth, oldest, up, took]
