"""The daily Slack digest: one per workspace with Slack configured, per UTC day, through the
alert outbox (``queue.service.record_alert_once``, docs/decisions/0010-one-alert-outbox.md).

From ``digest_hour_utc`` on, the periodic task ``inbox.daily_digest`` picks at most
``digest_batch`` workspaces that have Slack and no digest for today, and records for each one
alert (integration ``digest``, category ``daily_digest``): the dedupe key
``{workspace}:digest:daily_digest:{day}`` is unique and the insert does nothing when the row
exists, so a replayed run, a second scheduler or a retry never records (or posts) two. The
``alerts.deliver`` sweep and the ``alert.deliver`` job post it like any alert.

The text holds figures only, never a name, an address or a message: requires attention, SLA
breaches, drafts pending review and how long the oldest lead has waited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import drafts as automation
from replydesk.core.db import Database
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.errors import Unavailable
from replydesk.core.log_categories import exception_category
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.inbox import counts as counts_service
from replydesk.inbox import repository
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.queue import service as queue
from replydesk.queue.errors import error_text

log = get_logger(__name__)

DIGEST_INTEGRATION = "digest"
DIGEST_CATEGORY = "daily_digest"
DRAFTS_CAP = 1000


@dataclass(frozen=True)
class DigestRun:
    """What one run did: digests recorded, already recorded by a concurrent run, failed."""

    recorded: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Digest:
    requires_attention: int
    attention_sla_hours: float | None
    sla_breached: int | None
    sla_breached_capped: bool
    drafts_pending: int
    oldest_waiting_s: float | None
    stale: bool

    def text(self) -> str:
        parts = [_plural(self.requires_attention, "lead requires", "leads require") + " attention"]
        if self.attention_sla_hours is None or self.sla_breached is None:
            parts.append("no attention SLA set")
        else:
            n = f"{self.sla_breached:,}{'+' if self.sla_breached_capped else ''}"
            parts.append(f"{n} waiting longer than the {_hours(self.attention_sla_hours)} SLA")
        capped = "+" if self.drafts_pending >= DRAFTS_CAP else ""
        parts.append(
            _plural(self.drafts_pending, "draft", "drafts", suffix=capped) + " pending review"
        )
        if self.oldest_waiting_s is not None:
            parts.append(f"oldest waiting {age(self.oldest_waiting_s)}")
        text = "ReplyDesk daily digest: " + " · ".join(parts)
        if self.stale:
            text += " (counts are the last good ones: the counts query was over its budget)"
        return text


def _plural(n: int, one: str, many: str, suffix: str = "") -> str:
    return f"{n:,}{suffix} {one if n == 1 else many}"


def _hours(hours: float) -> str:
    return f"{hours:g} h"


def age(seconds: float) -> str:
    """``2 d 3 h``, ``5 h 12 min``, ``14 min`` (whole units, rounded down)."""
    minutes = int(max(seconds, 0) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


async def build_digest(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    settings: Settings,
    cache: counts_service.CountsCache,
) -> Digest:
    """The workspace's figures: the inbox counts (with their stale fallback and the SLA) and
    two bounded reads, all under the counts statement budget."""
    counts = await counts_service.inbox_counts(session, workspace_id, settings, cache)
    await session.execute(
        repository.SET_TIMEOUT_SQL, {"ms": str(settings.counts_statement_timeout_ms)}
    )
    pending = await automation.pending_count(session, workspace_id, DRAFTS_CAP)
    waited = (
        await session.execute(repository.OLDEST_WAITING_SQL, {"ws": workspace_id})
    ).scalar_one_or_none()
    return Digest(
        requires_attention=counts.requires_attention,
        attention_sla_hours=counts.attention_sla_hours,
        sla_breached=counts.sla_breached,
        sla_breached_capped=counts.sla_breached_capped,
        drafts_pending=pending,
        oldest_waiting_s=None if waited is None else float(waited),
        stale=counts.stale,
    )


async def due_workspaces(session: AsyncSession, settings: Settings) -> list[uuid.UUID]:
    params = {
        "slack": Integration.SLACK.value,
        "hour": settings.digest_hour_utc,
        "infix": queue.alert_key_infix(DIGEST_INTEGRATION, DIGEST_CATEGORY),
        "limit": settings.digest_batch,
    }
    return list((await session.execute(repository.DIGEST_DUE_SQL, params)).scalars())


async def send_digests(
    db: Database, settings: Settings, cache: counts_service.CountsCache
) -> DigestRun:
    """Record today's digest of each due workspace (at most ``digest_batch``), each in its
    own transaction. A database outage ends the run (the scheduler's breaker counts it);
    any other failure of one workspace is logged and the others go on."""
    async with db.session() as session:
        due = await due_workspaces(session, settings)
    recorded = skipped = failed = 0
    for workspace_id in due:
        try:
            async with db.session() as session:
                digest = await build_digest(session, workspace_id, settings, cache)
                done = await queue.record_alert_once(
                    session,
                    workspace_id=workspace_id,
                    integration=DIGEST_INTEGRATION,
                    error_class=DIGEST_CATEGORY,
                    source="inbox.daily_digest",
                    message=digest.text(),
                )
        except Exception as exc:
            if is_database_unavailable(exc) and not isinstance(exc, Unavailable):
                raise
            failed += 1
            log.warning(
                "daily_digest_failed",
                category=exception_category(exc),
                error_class="daily_digest",
                workspace_id=str(workspace_id),
                error=error_text(exc),
            )
            continue
        if done:
            recorded += 1
        else:
            skipped += 1  # another run recorded it meanwhile
    return DigestRun(recorded=recorded, skipped=skipped, failed=failed)
