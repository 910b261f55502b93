"""Scraping ``GET /metrics`` of an API process during the drill: the key series, summed.

Every process of the drill (2 APIs, 2 workers) writes to one metrics folder, so one scrape of
one API process shows the whole run (prometheus-client multiprocess mode).
"""

from __future__ import annotations

import urllib.request
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from drill.services import METRICS_TOKEN as TOKEN


def scrape(port: int, timeout: float = 5.0) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (loopback)
        return key_series(resp.read().decode())


def key_series(text: str) -> dict[str, Any]:
    """What shows the burst, the drain and the outage, summed over processes and kinds."""
    ingest: dict[str, float] = defaultdict(float)
    items: dict[str, float] = defaultdict(float)
    depth: dict[str, float] = defaultdict(float)
    answers_503 = 0.0
    oldest_pending = 0.0
    stats_up = None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = s.labels
            if s.name == "replydesk_ingest_requests_total":
                ingest[labels["outcome"]] += s.value
            elif s.name == "replydesk_queue_items_total" and labels["table"] == "webhook_events":
                items[labels["outcome"]] += s.value
            elif s.name == "replydesk_queue_depth" and labels["table"] == "webhook_events":
                depth[labels["status"]] += s.value
            elif (
                s.name == "replydesk_queue_oldest_age_seconds"
                and labels["table"] == "webhook_events"
                and labels["status"] == "pending"
            ):
                oldest_pending = max(oldest_pending, s.value)
            elif s.name == "replydesk_http_unavailable_answers_total" and labels["status"] == "503":
                answers_503 += s.value
            elif s.name == "replydesk_queue_stats_up":
                stats_up = s.value
    return {
        "ingest_requests": dict(sorted(ingest.items())),
        "webhook_events_processed": dict(sorted(items.items())),
        "webhook_events_depth": dict(sorted(depth.items())),
        "oldest_pending_s": round(oldest_pending, 2),
        "answers_503": answers_503,
        "queue_stats_up": stats_up,
    }
