"""Slow webhooks, summarised: one warning per interval, not one per request."""

from __future__ import annotations

import time
from collections.abc import Callable

from replydesk.core.logging import get_logger

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
