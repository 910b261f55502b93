"""Bounded pruning: one statement of at most ``batch_size`` rows per transaction, repeated
while full batches come back, at most ``max_batches`` times and within a time budget.

Each domain's periodic tasks prune their own tables through this (one writer per table); a
backlog (after an upgrade, or a long stop) drains over several runs instead of one long
transaction that would hold locks and bloat the WAL.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings

log = get_logger(__name__)

Step = Callable[[AsyncSession, int], Awaitable[int]]  # (session, limit) -> rows affected


@dataclass(frozen=True)
class Bounds:
    batch_size: int
    max_batches: int
    budget_s: float

    @classmethod
    def from_settings(cls, settings: Settings, budget_s: float = 20.0) -> Bounds:
        return cls(settings.retention_batch_size, settings.retention_max_batches, budget_s)


async def in_batches(db: Database, name: str, step: Step, bounds: Bounds) -> int:
    """Run ``step`` in its own transactions until a batch comes back short, the batch count
    is used up or the budget is spent; returns the rows affected. Logs one info line when
    anything was pruned."""
    deadline = time.monotonic() + bounds.budget_s
    total = 0
    for _ in range(bounds.max_batches):
        async with db.session() as session:
            done = await step(session, bounds.batch_size)
        total += done
        if done < bounds.batch_size or time.monotonic() >= deadline:
            break
    if total:
        log.info("retention_pruned", what=name, rows=total)
    return total
