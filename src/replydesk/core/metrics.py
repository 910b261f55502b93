"""Every Prometheus metric ReplyDesk exports, in one place (``GET /metrics``, docs/metrics.md).

Domains import ``metrics()`` and record what they see with one counter increment or one
histogram observation: no I/O, no database, so the request path stays cheap.

**Several processes.** ``replydesk serve`` and ``replydesk worker`` call ``configure_metrics``
at start, before anything is recorded: it switches prometheus-client to its multiprocess mode
with a directory shared by every process of the host (``REPLYDESK_METRICS_DIR``, default
``<data_dir>/metrics``), where each process writes its values to memory-mapped files; a scrape
of any API process reads all of them (decision 0012). At start, files left by processes that no
longer run are folded into one archive file per type (counters and histograms keep their
sums; gauges of dead processes are dropped), so the directory does not grow with restarts and
no sum ever goes down. Without
``configure_metrics`` (tests, the CLI's other commands) values live in the process's memory.

The metric objects are built on first use, not at import: the value class (in memory or
memory-mapped) is fixed when a metric is created, so it must be chosen first.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

from replydesk.core.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Latency buckets (seconds): webhooks answer in milliseconds, the budget is 1.8 s.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.8, 2.5, 5.0, 10.0)
WAIT_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0)
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)


@dataclass(frozen=True)
class Metrics:
    """The metric objects. Label values must come from bounded sets (provider names, outcome
    words, route templates, job types), never from request input."""

    # Webhook ingestion (ingest/service.py).
    ingest_requests: Counter
    ingest_duration: Histogram
    # Every 503 and 429 answer of the HTTP edge (core/edge.py): outages and rate limits.
    http_unavailable_answers: Counter
    # Queue workers (queue/worker.py).
    queue_items: Counter
    queue_failures: Counter
    # Periodic tasks (queue/scheduler.py).
    periodic_runs: Counter
    periodic_items: Counter
    # Provider API calls (integrations/provider_client.py: the one hook).
    provider_calls: Counter
    provider_call_duration: Histogram
    # Inbox counts answered from the last good copy (inbox/counts.py).
    counts_served_stale: Counter
    # Time to get a connection from a pool, and pool timeouts (core/db.py).
    db_pool_wait: Histogram
    db_pool_timeouts: Counter
    # AI calls (the AI drafts feature records them; zero until it exists).
    ai_calls: Counter
    ai_tokens: Counter
    # Follow-up ticks (the follow-ups feature records them; zero until it exists).
    followup_ticks: Counter
    # Database circuit breakers of periodic work (core/breaker.py).
    db_breaker_open: Gauge
    db_breaker_transitions: Counter
    db_breaker_skipped_runs: Counter
    # Set when the process starts; a scrape shows which processes write metrics.
    process_started: Gauge


def _build() -> Metrics:
    return Metrics(
        ingest_requests=Counter(
            "replydesk_ingest_requests",
            "Webhook requests by provider and outcome (accepted, ignored, duplicate, or the "
            "error code: service_unavailable, unauthorized, validation_error, ...)",
            ["provider", "outcome"],
        ),
        ingest_duration=Histogram(
            "replydesk_ingest_duration_seconds",
            "Webhook request duration, by provider and outcome",
            ["provider", "outcome"],
            buckets=REQUEST_BUCKETS,
        ),
        http_unavailable_answers=Counter(
            "replydesk_http_unavailable_answers",
            "503 (database away, overloaded) and 429 (rate limited) answers, by route template",
            ["route", "status"],
        ),
        queue_items=Counter(
            "replydesk_queue_items",
            "Queue items finished per attempt, by table, kind and outcome "
            "(succeeded, ignored, retried, dead)",
            ["table", "kind", "outcome"],
        ),
        queue_failures=Counter(
            "replydesk_queue_failures",
            "Failed queue attempts by table, kind, error class (queue/errors.classify) and "
            "what followed (retried, dead)",
            ["table", "kind", "error_class", "outcome"],
        ),
        periodic_runs=Counter(
            "replydesk_periodic_runs",
            "Periodic task runs won by this process, by task and outcome (ok, failed, "
            "db_unavailable)",
            ["task", "outcome"],
        ),
        periodic_items=Counter(
            "replydesk_periodic_items",
            "What periodic runs reported, by task and result (processed, failed, retried, "
            "skipped, health_gated)",
            ["task", "result"],
        ),
        provider_calls=Counter(
            "replydesk_provider_calls",
            "Provider API calls (after retries) by provider, endpoint template and outcome "
            "(ok or the failure category)",
            ["provider", "endpoint", "outcome"],
        ),
        provider_call_duration=Histogram(
            "replydesk_provider_call_duration_seconds",
            "Provider API call duration including retries, by provider and endpoint template",
            ["provider", "endpoint"],
            buckets=CALL_BUCKETS,
        ),
        counts_served_stale=Counter(
            "replydesk_counts_served_stale",
            "Inbox counts answered from the last good copy (stale: true) because the counts "
            "query failed or timed out",
        ),
        db_pool_wait=Histogram(
            "replydesk_db_pool_wait_seconds",
            "Time to get a connection from a pool (waiting for a free one or opening one), "
            "by pool (replydesk, replydesk-ingest, replydesk-worker)",
            ["pool"],
            buckets=WAIT_BUCKETS,
        ),
        db_pool_timeouts=Counter(
            "replydesk_db_pool_timeouts",
            "Pool checkouts that gave up waiting for a connection, by pool",
            ["pool"],
        ),
        ai_calls=Counter(
            "replydesk_ai_calls",
            "AI model calls by purpose and outcome (ok, ai_timeout, ai_truncated, error)",
            ["purpose", "outcome"],
        ),
        ai_tokens=Counter(
            "replydesk_ai_tokens",
            "AI tokens by purpose and direction (input, output)",
            ["purpose", "direction"],
        ),
        followup_ticks=Counter(
            "replydesk_followup_ticks",
            "Follow-up ticks by result (processed, sent, skipped)",
            ["result"],
        ),
        db_breaker_open=Gauge(
            "replydesk_db_breaker_open",
            "1 while a database circuit breaker of periodic work is open or probing, by "
            "breaker (the highest of the live processes)",
            ["breaker"],
            multiprocess_mode="livemax",
        ),
        db_breaker_transitions=Counter(
            "replydesk_db_breaker_transitions",
            "Database circuit breaker state changes, by breaker and new state (open, "
            "half_open, closed)",
            ["breaker", "state"],
        ),
        db_breaker_skipped_runs=Counter(
            "replydesk_db_breaker_skipped_runs",
            "Periodic runs skipped without touching the database because the breaker was open",
            ["breaker"],
        ),
        process_started=Gauge(
            "replydesk_process_start_time_seconds",
            "Start time of each process writing metrics (unix seconds), by role",
            ["role"],
            multiprocess_mode="liveall",
        ),
    )


_lock = threading.Lock()
_state: dict[str, Path | None] = {"dir": None}


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    """The process's metric objects (built on first use)."""
    with _lock:
        return _build()


def multiprocess_dir() -> Path | None:
    """The shared directory when this process runs in multiprocess mode."""
    return _state["dir"]


def metrics_dir(settings: Settings) -> Path:
    return settings.metrics_dir or settings.data_dir / "metrics"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


_MmapedDict: Any = MmapedDict  # untyped in prometheus-client
ARCHIVE = "archive"  # counter_archive.db, histogram_archive.db: what ended processes counted


def compact_dead_process_files(path: Path) -> list[str]:
    """Fold the counters and histograms of processes that no longer run into one archive file
    per type, so the sums never go down (a drop would read as a counter reset and ``rate()``
    would count the whole value again) and the folder does not grow with restarts; their gauge
    files are deleted. A lock file serialises processes starting together. Returns the names
    of the files folded or deleted."""
    done: list[str] = []
    with (path / ".lock").open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        archives: dict[str, Any] = {}
        try:
            for file in sorted(path.glob("*.db")):
                kind = file.stem.split("_", 1)[0]
                pid_text = file.stem.rsplit("_", 1)[-1]
                if not pid_text.isdigit():
                    continue
                pid = int(pid_text)
                if pid == os.getpid() or _pid_alive(pid):
                    continue
                if kind in ("counter", "histogram"):
                    if kind not in archives:
                        archives[kind] = _MmapedDict(str(path / f"{kind}_{ARCHIVE}.db"))
                    archive = archives[kind]
                    for key, value, _, _ in _MmapedDict.read_all_values_from_file(str(file)):
                        current, _ = archive.read_value(key)
                        archive.write_value(key, current + value, 0.0)
                file.unlink(missing_ok=True)
                done.append(file.name)
        finally:
            for archive in archives.values():
                archive.close()
    return done


def configure_metrics(settings: Settings, role: str) -> Path:
    """Switch this process to multiprocess mode in the shared directory (created 0700,
    dead processes' counters folded into the archive). Call once at process start, before any
    metric is used."""
    path = Path(os.environ.get(MULTIPROC_ENV) or metrics_dir(settings))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    compact_dead_process_files(path)
    os.environ[MULTIPROC_ENV] = str(path)
    with _lock:
        if metrics.cache_info().currsize and _state["dir"] is None:
            raise RuntimeError("metrics were used before configure_metrics: call it at start")
        if not getattr(values.ValueClass, "_multiprocess", False):
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        _state["dir"] = path
    metrics().process_started.labels(role).set_to_current_time()
    return path


def render(extra: Iterable[Metric] = ()) -> bytes:
    """The exposition text: this process's metrics (or, in multiprocess mode, every process's
    in the shared directory) plus ``extra`` families computed for this scrape."""
    metrics()  # built, so that in memory mode every family is listed from the first scrape
    path = multiprocess_dir()
    registry = REGISTRY
    if path is not None:
        registry = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    extra_families = list(extra)
    text = generate_latest(registry)
    if extra_families:
        scrape_registry = CollectorRegistry(auto_describe=False)
        scrape_registry.register(_Families(extra_families))
        text += generate_latest(scrape_registry)
    return text


class _Families:
    """A collector answering precomputed families (the scrape-time queue figures)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def metric_names() -> set[str]:
    """Every sample name the exported families can have (for the dashboard test)."""
    names: set[str] = set()
    for field_name in Metrics.__dataclass_fields__:
        metric = getattr(metrics(), field_name)
        for family in metric.describe():
            base = family.name
            if family.type == "counter":
                names |= {base + "_total"}
            elif family.type == "histogram":
                names |= {base + "_bucket", base + "_sum", base + "_count"}
            else:
                names.add(base)
    return names
