"""One error line per database outage, not one per request.

The first failure after a success logs at error (category ``db_unavailable``); further failures
log at debug; the first success afterwards logs one info line with the outage's length and how
many requests were answered 503 meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from replydesk.core.logging import get_logger

log = get_logger(__name__)


class OutageLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.down_since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failure(self, reason: str, error: str) -> None:
        self.failures += 1
        if self.down_since is None:
            self.down_since = self._clock()
            log.error(
                "ingest_db_unavailable",
                category="db_unavailable",
                reason=reason,
                error=error,
                detail="webhooks are answered 503 until the database answers again",
            )
        else:
            log.debug("ingest_db_still_unavailable", reason=reason, error=error)

    def success(self) -> None:
        if self.down_since is None:
            return
        log.info(
            "ingest_db_recovered",
            outage_s=round(self._clock() - self.down_since, 3),
            failed_requests=self.failures,
        )
        self.down_since = None
        self.failures = 0


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
