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
    def __init__(
        self,
        scope: str = "ingest",
        detail: str = "webhooks are answered 503 until the database answers again",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scope, self.detail = scope, detail
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
                f"{self.scope}_db_unavailable",
                category="db_unavailable",
                reason=reason,
                error=error,
                detail=self.detail,
            )
        else:
            log.debug(f"{self.scope}_db_still_unavailable", reason=reason, error=error)

    def success(self) -> None:
        if self.down_since is None:
            return
        log.info(
            f"{self.scope}_db_recovered",
            outage_s=round(self._clock() - self.down_since, 3),
            failed_requests=self.failures,
        )
        self.down_since = None
        self.failures = 0
