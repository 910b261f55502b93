"""What every AI step of the automation shares: a deadline for all of one job's calls, a call
bounded by it, and one warning per failure class (the lead id only, never a text or key)."""

from __future__ import annotations

import asyncio
import time

from replydesk.core.log_categories import LogCategory, log_category
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.ai.client import AiAnswer, AiFailure, AiTarget, Call, FailureKind
from replydesk.integrations.ai.client import generate as ai_generate

log = get_logger(__name__)

# Of the worker's item budget, what the AI calls of one job may take (the rest: the reads
# before, the writes after).
AI_SHARE = 0.75
# Each failure kind's taxonomy word (core/log_categories.py).
KIND_CATEGORY = {
    FailureKind.TIMEOUT: LogCategory.AI_TIMEOUT.value,
    FailureKind.TRUNCATED: LogCategory.AI_TRUNCATED.value,
    FailureKind.AUTH: LogCategory.PROVIDER_AUTH.value,
    FailureKind.RATE_LIMITED: LogCategory.PROVIDER_RATE_LIMITED.value,
    FailureKind.ERROR: LogCategory.PROVIDER_ERROR.value,
    FailureKind.MALFORMED: LogCategory.OTHER.value,
}


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def job_deadline(settings: Settings) -> Deadline:
    return Deadline(settings.worker_item_budget_s * AI_SHARE)


async def bounded(target: AiTarget, settings: Settings, call: Call, seconds: float) -> AiAnswer:
    """``generate`` within ``seconds`` in all (its retries included): a timeout past it."""
    if seconds <= 0.05:
        raise AiFailure(FailureKind.TIMEOUT, f"{target.host}: no time left for the {call.name}")
    try:
        return await asyncio.wait_for(ai_generate(target, settings, call), timeout=seconds)
    except TimeoutError:
        raise AiFailure(
            FailureKind.TIMEOUT, f"{target.host}: the {call.name} ran past {seconds:.1f} s"
        ) from None


def log_failure(event: str, lead_id: int, failure: AiFailure, **extra: object) -> None:
    """One line per failure, at warning, with the lead id only (no text, no key)."""
    log.warning(
        event,
        category=log_category(KIND_CATEGORY[failure.kind]),
        error_class=failure.kind.value,
        lead_id=lead_id,
        attempts=failure.attempts,
        status=failure.status,
        **extra,
    )
