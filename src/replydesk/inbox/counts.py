"""Inbox counts: a sum over counter rows, with a last-good fallback.

The query reads the workspace's ``inbox_counters`` rows (kept by triggers on ``leads`` in
the writing transaction; slots x channels x categories, a few hundred rows at most), the
few leads whose snooze has ended since the last wake-up (``ix_leads_snooze_ended``) and at
most ``LEAD_TOTAL_SLOTS`` rows of ``workspace_lead_totals``. Its cost does not grow with
the backlog or the leads; it never touches messages. ``inbox.counters.recount`` checks the
counters against the leads.

With an attention SLA set (``attention_sla_hours`` of ``PUT settings/automation``) the same
savepoint adds ``sla_breached``: leads requiring attention waiting longer than the SLA. It
depends on the clock, so no trigger can keep it: one index-only count of
``ix_leads_attention_waiting`` capped at ``SLA_BREACHED_CAP`` (``sla_breached_capped``).
Without an SLA it is null and nothing more is read than the SLA setting (a primary-key read).

It runs under ``SET LOCAL statement_timeout`` (``counts_statement_timeout_ms``) inside a
savepoint. On a timeout or database error the last good counts of the workspace are
answered with ``stale: true`` — from this process's memory, else from
``inbox_counts_cache`` — and a warning with ``category`` is logged. Only when there has
never been a good answer is the result a 503.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import drafts as automation
from replydesk.core.db_errors import QUERY_CANCELED, sqlstate
from replydesk.core.errors import Unavailable
from replydesk.core.log_categories import exception_category
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings
from replydesk.inbox import repository
from replydesk.inbox.models import UNCATEGORIZED, UNKNOWN_CHANNEL
from replydesk.leads.vocabulary import Channel

log = get_logger(__name__)

CACHE_READ_TIMEOUT_FLOOR_MS = 250
# sla_breached is counted up to this many leads (then sla_breached_capped is true).
SLA_BREACHED_CAP = 10_000


@dataclass(frozen=True)
class Counts:
    requires_attention: int
    by_channel: dict[str, int]
    by_category: dict[str, int]
    total_leads: int
    computed_at: datetime
    stale: bool = False
    # The attention SLA (hours) and its breaches; both None when no SLA is set.
    attention_sla_hours: float | None = None
    sla_breached: int | None = None
    sla_breached_capped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "requires_attention": self.requires_attention,
            "by_channel": self.by_channel,
            "by_category": self.by_category,
            "total_leads": self.total_leads,
            "attention_sla_hours": self.attention_sla_hours,
            "sla_breached": self.sla_breached,
            "sla_breached_capped": self.sla_breached_capped,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], computed_at: datetime, stale: bool) -> Counts:
        return cls(
            requires_attention=int(data["requires_attention"]),
            by_channel={str(k): int(v) for k, v in data["by_channel"].items()},
            by_category={str(k): int(v) for k, v in data["by_category"].items()},
            total_leads=int(data["total_leads"]),
            computed_at=computed_at,
            stale=stale,
            # Copies stored before the SLA existed have none of these keys.
            attention_sla_hours=_float_or_none(data.get("attention_sla_hours")),
            sla_breached=_int_or_none(data.get("sla_breached")),
            sla_breached_capped=bool(data.get("sla_breached_capped", False)),
        )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


class CountsCache:
    """Last good counts per workspace in this process (bounded, least recently used out)."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[uuid.UUID, Counts] = OrderedDict()
        self._persisted: dict[uuid.UUID, float] = {}
        self._max = max_entries

    def get(self, workspace_id: uuid.UUID) -> Counts | None:
        found = self._entries.get(workspace_id)
        if found is not None:
            self._entries.move_to_end(workspace_id)
        return found

    def put(self, workspace_id: uuid.UUID, counts: Counts) -> None:
        self._entries[workspace_id] = counts
        self._entries.move_to_end(workspace_id)
        while len(self._entries) > self._max:
            old, _ = self._entries.popitem(last=False)
            self._persisted.pop(old, None)

    def persist_due(self, workspace_id: uuid.UUID, interval_s: float) -> bool:
        last = self._persisted.get(workspace_id)
        return last is None or time.monotonic() - last >= interval_s

    def mark_persisted(self, workspace_id: uuid.UUID) -> None:
        self._persisted[workspace_id] = time.monotonic()


def _fold(rows: list[Any], computed_at: datetime) -> Counts:
    by_channel: dict[str, int] = dict.fromkeys(Channel, 0)
    by_category: dict[str, int] = {}
    requires_attention = 0
    total_leads = 0
    for row in rows:
        total_leads = int(row.total_leads)
        if row.n is None:  # no lead awaits a reply
            continue
        n = int(row.n)
        requires_attention += n
        channel = row.last_inbound_channel or UNKNOWN_CHANNEL
        by_channel[channel] = by_channel.get(channel, 0) + n
        category = row.category or UNCATEGORIZED
        by_category[category] = by_category.get(category, 0) + n
    return Counts(
        requires_attention=requires_attention,
        by_channel=by_channel,
        by_category=dict(sorted(by_category.items())),
        total_leads=total_leads,
        computed_at=computed_at,
    )


async def _query(session: AsyncSession, workspace_id: uuid.UUID) -> Counts:
    rows = list((await session.execute(repository.COUNTS_SQL, {"ws": workspace_id})).all())
    counts = _fold(rows, datetime.now(UTC))
    hours = await automation.attention_sla_hours(session, workspace_id)
    if hours is None:
        return counts
    breached = await sla_breached_count(session, workspace_id, hours)
    return replace(
        counts,
        attention_sla_hours=hours,
        sla_breached=breached,
        sla_breached_capped=breached >= SLA_BREACHED_CAP,
    )


async def sla_breached_count(session: AsyncSession, workspace_id: uuid.UUID, hours: float) -> int:
    """Leads requiring attention waiting longer than ``hours``, up to ``SLA_BREACHED_CAP``
    (runs under the caller's statement budget)."""
    params = {"ws": workspace_id, "sla_s": hours * 3600, "cap": SLA_BREACHED_CAP}
    return int((await session.execute(repository.SLA_BREACHED_SQL, params)).scalar_one())


@asynccontextmanager
async def _fallback_copy(
    session: AsyncSession, workspace_id: uuid.UUID, failure_event: str
) -> AsyncIterator[None]:
    """A savepoint around reading or writing the persisted copy: a failure there is logged
    and swallowed, because the copy is only a fallback."""
    try:
        async with session.begin_nested():
            yield
    except SQLAlchemyError as exc:
        log.warning(
            failure_event,
            category=exception_category(exc),
            error_class="db_error",
            workspace_id=str(workspace_id),
            error=type(exc).__name__,
        )


async def _load_persisted(
    session: AsyncSession, workspace_id: uuid.UUID, timeout_ms: int
) -> Counts | None:
    row = None
    async with _fallback_copy(session, workspace_id, "inbox_counts_cache_unreadable"):
        await session.execute(repository.SET_TIMEOUT_SQL, {"ms": str(timeout_ms)})
        row = (await session.execute(repository.LOAD_CACHE_SQL, {"ws": workspace_id})).one_or_none()
    if row is None:
        return None
    return Counts.from_json(row.counts, row.computed_at, stale=True)


async def _persist(session: AsyncSession, workspace_id: uuid.UUID, counts: Counts) -> None:
    # On failure the answer is still good; only the fallback copy is older than it could be.
    async with _fallback_copy(session, workspace_id, "inbox_counts_cache_not_stored"):
        params = {
            "ws": workspace_id,
            "counts": json.dumps(counts.to_json()),
            "computed_at": counts.computed_at,
        }
        await session.execute(repository.STORE_CACHE_SQL, params)


def _log_failure(event: str, exc: BaseException, workspace_id: uuid.UUID, timeout_ms: int) -> None:
    state = sqlstate(exc)
    log.warning(
        event,
        category=exception_category(exc),
        error_class="db_timeout" if state == QUERY_CANCELED else "db_error",
        workspace_id=str(workspace_id),
        error=type(exc).__name__,
        sqlstate=state,
        timeout_ms=timeout_ms,
    )


async def inbox_counts(
    session: AsyncSession, workspace_id: uuid.UUID, settings: Settings, cache: CountsCache
) -> Counts:
    counts, _ = await _counts(session, workspace_id, settings, cache, None)
    return counts


async def counts_and_unread(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    settings: Settings,
    cache: CountsCache,
) -> tuple[Counts, Unread]:
    """The counts and the user's unread count in one savepoint under one budget setting (five
    statements instead of eight: most of the request now that the counts read is cheap; the
    SLA setting's read adds one, and the SLA count one more when an SLA is set). An
    unread count over the budget is null and the counts still answer; counts over it fall
    back as ``inbox_counts`` does, and the unread count then runs on its own."""
    counts, unread = await _counts(session, workspace_id, settings, cache, user_id)
    if unread is None:
        unread = await unread_count(session, workspace_id, user_id, settings)
    return counts, unread


async def _counts(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    settings: Settings,
    cache: CountsCache,
    user_id: uuid.UUID | None,
) -> tuple[Counts, Unread | None]:
    """Counts (and, with ``user_id``, the unread count) in one savepoint; the unread count
    is None when it was not computed."""
    started = time.monotonic()
    timeout_ms = settings.counts_statement_timeout_ms
    counts: Counts | None = None
    unread: Unread | None = None
    try:
        async with session.begin_nested():
            await session.execute(repository.SET_TIMEOUT_SQL, {"ms": str(timeout_ms)})
            counts = await _query(session, workspace_id)
            if user_id is not None:
                unread = await _unread(session, workspace_id, user_id)
    except (DBAPIError, OSError) as exc:
        if counts is None:
            return await _fallback(session, workspace_id, settings, cache, exc, started), None
        # The counts were read before the unread count failed: they stand.
        _log_failure("inbox_unread_count_unavailable", exc, workspace_id, timeout_ms)
        unread = Unread(count=None, capped=False)
    queried = time.monotonic()
    cache.put(workspace_id, counts)
    if cache.persist_due(workspace_id, settings.counts_cache_persist_interval_s):
        await _persist(session, workspace_id, counts)
        cache.mark_persisted(workspace_id)
    _log_if_slow(settings, workspace_id, started, {"query": queried, "persist": None})
    return counts, unread


async def _fallback(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    settings: Settings,
    cache: CountsCache,
    exc: BaseException,
    started: float,
) -> Counts:
    queried = time.monotonic()
    timeout_ms = settings.counts_statement_timeout_ms
    _log_failure("inbox_counts_fallback", exc, workspace_id, timeout_ms)
    cached = cache.get(workspace_id)
    if cached is None:
        # A primary-key read: its own floor, so a tiny counts budget cannot starve it.
        cached = await _load_persisted(
            session, workspace_id, max(timeout_ms, CACHE_READ_TIMEOUT_FLOOR_MS)
        )
        if cached is not None:
            cache.put(workspace_id, replace(cached, stale=False))
    if cached is None:
        raise Unavailable(
            "inbox counts are unavailable right now and none are cached yet; retry shortly",
            retry_after_s=2,
        ) from exc
    metrics().counts_served_stale.inc()
    _log_if_slow(settings, workspace_id, started, {"query": queried, "fallback": None})
    return replace(cached, stale=True)


def _log_if_slow(
    settings: Settings, workspace_id: uuid.UUID, started: float, steps: dict[str, float | None]
) -> None:
    """Counts slower than ``log_slow_counts_s`` (1 s): one warning with the duration and
    whether the fallback answered; ``log_slow_paths`` adds the step timings. ``steps`` maps
    each step to the time it ended (None: now)."""
    now = time.monotonic()
    elapsed = now - started
    if elapsed <= settings.log_slow_counts_s:
        return
    extra: dict[str, Any] = {}
    if settings.log_slow_paths:
        timings, last = {}, started
        for name, ended in steps.items():
            end = now if ended is None else ended
            timings[name] = round((end - last) * 1000, 1)
            last = end
        extra["steps_ms"] = timings
    log.warning(
        "inbox_counts_slow",
        workspace_id=str(workspace_id),
        duration_ms=round(elapsed * 1000),
        threshold_ms=round(settings.log_slow_counts_s * 1000),
        fallback="fallback" in steps,
        **extra,
    )


UNREAD_COUNT_CAP = 1000


@dataclass(frozen=True)
class Unread:
    count: int | None  # None: over its time budget
    capped: bool


async def unread_count(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, settings: Settings
) -> Unread:
    """Per user, so outside the per-workspace counts and their cache: its own savepoint and
    budget (the counts budget); over it the count is null, the other counts still answer."""
    timeout_ms = settings.counts_statement_timeout_ms
    try:
        async with session.begin_nested():
            await session.execute(repository.SET_TIMEOUT_SQL, {"ms": str(timeout_ms)})
            return await _unread(session, workspace_id, user_id)
    except (DBAPIError, OSError) as exc:
        _log_failure("inbox_unread_count_unavailable", exc, workspace_id, timeout_ms)
        return Unread(count=None, capped=False)


async def _unread(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID) -> Unread:
    params = {"ws": workspace_id, "user_id": user_id, "cap": UNREAD_COUNT_CAP}
    n = int((await session.execute(repository.UNREAD_SQL, params)).scalar_one())
    return Unread(count=n, capped=n >= UNREAD_COUNT_CAP)
