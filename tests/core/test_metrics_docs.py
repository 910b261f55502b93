"""The Grafana dashboard and the alert rules in docs/ parse and use only series that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from replydesk.core.metrics import metric_names

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Read at scrape time (queue/metrics.py), not recorded by processes.
SCRAPE_TIME = {
    "replydesk_queue_depth",
    "replydesk_queue_oldest_age_seconds",
    "replydesk_queue_stats_up",
    "replydesk_queue_stats_seconds",
}
NAME = re.compile(r"\breplydesk_[a-z_]+\b")


def _exported() -> set[str]:
    return metric_names() | SCRAPE_TIME


def _exprs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for v in node.values() for e in _exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _exprs(v)]
    return []


def test_dashboard_parses_and_references_only_exported_series() -> None:
    dashboard = json.loads((DOCS / "grafana" / "replydesk.json").read_text())
    exprs = _exprs(dashboard["panels"])
    assert len(exprs) >= 15
    used = {name for e in exprs for name in NAME.findall(e)}
    assert used - _exported() == set()
    # The signals the issue names each have a panel.
    for needed in (
        "replydesk_ingest_requests_total",
        "replydesk_ingest_duration_seconds_bucket",
        "replydesk_http_unavailable_answers_total",
        "replydesk_queue_depth",
        "replydesk_queue_oldest_age_seconds",
        "replydesk_queue_items_total",
        "replydesk_queue_failures_total",
        "replydesk_provider_calls_total",
        "replydesk_counts_served_stale_total",
        "replydesk_db_pool_wait_seconds_bucket",
        "replydesk_ai_calls_total",
        "replydesk_ai_tokens_total",
        "replydesk_followup_ticks_total",
    ):
        assert needed in used, needed


def test_alert_rules_parse_and_reference_only_exported_series() -> None:
    rules = yaml.safe_load((DOCS / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert {
        "ReplyDeskQueueBehind",
        "ReplyDeskDeadItems",
        "ReplyDeskProviderDisconnected",
        "ReplyDeskWebhooks503",
    } <= set(alerts)
    used = {name for e in alerts.values() for name in NAME.findall(e)}
    assert used and used - _exported() == set()


def test_metrics_doc_lists_every_series() -> None:
    text = (DOCS / "metrics.md").read_text()
    bases = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in _exported()}
    missing = sorted(b for b in bases if f"`{b}" not in text)
    assert missing == []
