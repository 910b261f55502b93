"""Slow webhooks, summarised: one warning per interval, not one per request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings

log = get_logger(__name__)


class SlowLog:
    """Slow webhooks (stored, but over ``threshold_s``): at most one warning per ``interval_s``,
    carrying how many were slow since the previous line and the worst duration, so a burst of
    slow requests is one line, not thousands."""

    def __init__(
        self,
        threshold_s: float = 0.5,
        interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold_s = threshold_s
        self.interval_s = interval_s
        self._clock = clock
        self._last: float | None = None
        self._count = 0
        self._worst = 0.0

    def observe(self, provider: str, elapsed_s: float) -> None:
        if elapsed_s <= self.threshold_s:
            return
        self._count += 1
        self._worst = max(self._worst, elapsed_s)
        now = self._clock()
        if self._last is not None and now - self._last < self.interval_s:
            return
        log.warning(
            "webhook_ingest_slow",
            provider=provider,
            slow_requests=self._count,
            worst_ms=round(self._worst * 1000),
            threshold_ms=round(self.threshold_s * 1000),
        )
        self._last = now
        self._count = 0
        self._worst = 0.0


_CHILDREN: dict[tuple[int, str, str], tuple[object, Any, Any]] = {}


def _children(provider: str, outcome: str) -> tuple[Any, Any]:
    """The labelled counter and histogram, looked up once per (metrics set, provider, outcome):
    ``labels()`` takes a lock and builds a key on every call. Both labels are bounded (known
    providers or "unknown"; outcome codes)."""
    m = metrics()
    key = (id(m), provider, outcome)
    found = _CHILDREN.get(key)
    if found is None or found[0] is not m:  # (the set is held in the value: ids stay unique)
        if len(_CHILDREN) > 1000:  # a new metrics set (tests): drop the old children
            _CHILDREN.clear()
        found = (
            m,
            m.ingest_requests.labels(provider, outcome),
            m.ingest_duration.labels(provider, outcome),
        )
        _CHILDREN[key] = found
    return found[1], found[2]


class IngestTrace:
    """One webhook request's timings: its metrics, and a warning with its duration and dedupe
    key when it took longer than ``log_slow_webhook_s`` (2 s), with step timings (auth, body,
    parse, insert) when ``log_slow_paths`` is on."""

    __slots__ = ("_last", "dedupe_key", "started", "steps")

    def __init__(self, started: float) -> None:
        self.started = self._last = started
        self.dedupe_key: str | None = None
        self.steps: dict[str, float] = {}

    def step(self, name: str) -> None:
        now = time.monotonic()
        self.steps[name] = now - self._last
        self._last = now

    def finish(self, provider: str, outcome: str, settings: Settings) -> None:
        elapsed = time.monotonic() - self.started
        counter, histogram = _children(provider, outcome)
        counter.inc()
        histogram.observe(elapsed)
        if elapsed <= settings.log_slow_webhook_s:
            return
        extra: dict[str, object] = {}
        if settings.log_slow_paths:
            extra["steps_ms"] = {k: round(v * 1000, 1) for k, v in self.steps.items()}
        log.warning(
            "webhook_slow",
            provider=provider,
            outcome=outcome,
            duration_ms=round(elapsed * 1000),
            threshold_ms=round(settings.log_slow_webhook_s * 1000),
            dedupe_key=self.dedupe_key,
            **extra,
        )
