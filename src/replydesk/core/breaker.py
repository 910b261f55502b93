"""A circuit breaker on database connectivity, for periodic work.

``closed``: calls go through; ``failures`` consecutive connection failures open it (one
warning, category ``db_unavailable``). ``open``: callers skip their work without touching
the database until ``cooldown_s`` has passed. Then one caller is let through as the
half-open probe: its success closes the breaker (one info line with the outage's length and
how many runs were skipped), its failure opens it for another cooldown (debug). Any success
while closed resets the failure count. Not thread-safe: one asyncio loop owns an instance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics

log = get_logger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        failures: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or cooldown_s <= 0:
            raise ValueError("a breaker needs failures >= 1 and cooldown_s > 0")
        self.name, self.threshold, self.cooldown_s = name, failures, cooldown_s
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        metrics().db_breaker_open.labels(breaker=name).set(0)
        self.opened_at: float | None = None  # when it last opened (or re-opened)
        self.down_since: float | None = None  # when it first opened in this outage
        self.skipped = 0  # runs skipped while open, this outage
        self.probes = 0  # half-open probes, this outage

    @property
    def is_closed(self) -> bool:
        return self.state is BreakerState.CLOSED

    def allow(self) -> bool:
        """May the caller touch the database now? While open: only once the cooldown has
        passed, and then as the half-open probe (the breaker is ``half_open`` until the
        caller reports ``success`` or ``failure``)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN:
            return False  # a probe is in flight
        assert self.opened_at is not None
        if self._clock() - self.opened_at < self.cooldown_s:
            self.skipped += 1
            metrics().db_breaker_skipped_runs.labels(breaker=self.name).inc()
            return False
        self._enter(BreakerState.HALF_OPEN)
        self.probes += 1
        return True

    def _enter(self, state: BreakerState) -> None:
        self.state = state
        metrics().db_breaker_transitions.labels(breaker=self.name, state=state.value).inc()
        metrics().db_breaker_open.labels(breaker=self.name).set(
            0 if state is BreakerState.CLOSED else 1
        )

    def success(self) -> None:
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures = 0
            return
        assert self.down_since is not None
        log.info(
            "db_breaker_closed",
            breaker=self.name,
            outage_s=round(self._clock() - self.down_since, 3),
            skipped_runs=self.skipped,
            probes=self.probes,
        )
        self._enter(BreakerState.CLOSED)
        self.consecutive_failures = 0
        self.opened_at = self.down_since = None
        self.skipped = self.probes = 0

    def failure(self, error: str) -> None:
        self.consecutive_failures += 1
        now = self._clock()
        if self.state is BreakerState.HALF_OPEN:
            self._enter(BreakerState.OPEN)
            self.opened_at = now
            log.debug("db_breaker_probe_failed", breaker=self.name, error=error)
            return
        if self.state is BreakerState.CLOSED and self.consecutive_failures >= self.threshold:
            self._enter(BreakerState.OPEN)
            self.opened_at = self.down_since = now
            log.warning(
                "db_breaker_open",
                category=LogCategory.DB_UNAVAILABLE,
                error_class="db_unavailable",
                breaker=self.name,
                failures=self.consecutive_failures,
                cooldown_s=self.cooldown_s,
                error=error,
                detail="periodic runs are skipped until a probe reaches the database",
            )
