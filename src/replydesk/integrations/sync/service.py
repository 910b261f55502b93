"""Pulling provider history into leads and messages, through the webhook handlers (so under
the webhooks' unique keys), and the state around it: per-lead sync requests and results,
EmailBison reconciliation cursors, provider silence. The only writer of ``lead_syncs``,
``emailbison_reconcile`` and ``provider_activity`` (statements in ``repository``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput, NotFound
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings, in_active_hours
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.integrations.processing import process_event
from replydesk.integrations.sync import repository
from replydesk.integrations.sync.convert import PulledEvent
from replydesk.integrations.sync.schemas import SyncQueued
from replydesk.integrations.sync.vocabulary import PROVIDER_SILENT, SyncJob
from replydesk.leads import service as leads
from replydesk.queue.service import enqueue

log = get_logger(__name__)

WEBHOOK_PROVIDERS = (Integration.EMAILBISON, Integration.GHL, Integration.UNIPILE)
# Statuses in which polling a provider cannot work or must not run: a refused key, and for
# Unipile a disconnected LinkedIn account too (every call answers 401 until it reconnects).
NO_POLLING = frozenset({HealthStatus.AUTH_FAILED})
NO_POLLING_BY_PROVIDER = {
    Integration.EMAILBISON: NO_POLLING,
    Integration.UNIPILE: NO_POLLING | {HealthStatus.DISCONNECTED},
}


@dataclass(frozen=True)
class Applied:
    seen: int
    created: int  # messages this pull stored first (no webhook had delivered them yet)
    skipped: int  # items the handlers refused (e.g. no usable e-mail address)


async def apply_pulled(
    session: AsyncSession, workspace_id: uuid.UUID, events: Sequence[PulledEvent]
) -> Applied:
    """Each pulled item through its webhook handler, in the caller's transaction; an item the
    handler refuses is skipped (its savepoint rolled back), the others are kept."""
    created = skipped = 0
    for pulled in events:
        try:
            async with session.begin_nested():
                done = await process_event(
                    session,
                    workspace_id=workspace_id,
                    provider=pulled.provider.value,
                    event_type=pulled.event_type,
                    payload=pulled.payload,
                )
        except InvalidInput as exc:
            skipped += 1
            log.info("pulled_item_skipped", provider=pulled.provider.value, reason=str(exc))
            continue
        created += done.message_created
    return Applied(len(events), created, skipped)


# --- per-lead sync ------------------------------------------------------------------------


def lead_sync_key(workspace_id: uuid.UUID, lead_id: int, seq: int) -> str:
    """One pending sync per lead: requests while it waits share the key; a finished sync
    bumps ``seq``, freeing it."""
    return f"{SyncJob.LEAD_SYNC}:{workspace_id}:{lead_id}:s{seq}"


async def request_sync(session: AsyncSession, workspace_id: uuid.UUID, lead_id: int) -> SyncQueued:
    if await leads.lead_identities(session, workspace_id, lead_id) is None:
        raise NotFound(f"lead {lead_id} not found in this workspace")
    seq = await repository.lead_sync_seq(session, workspace_id, lead_id)
    job = await enqueue(
        session,
        SyncJob.LEAD_SYNC.value,
        {"lead_id": lead_id, "seq": seq},
        lead_sync_key(workspace_id, lead_id, seq),
        workspace_id=workspace_id,
        max_attempts=5,
    )
    return SyncQueued(lead_id=lead_id, status="queued" if job is not None else "already_queued")


async def finish_sync(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    seq: int,
    events: Sequence[PulledEvent],
    report: dict[str, Any],
) -> Applied:
    applied = await apply_pulled(session, workspace_id, events)
    result = {
        **report,
        "seen": applied.seen,
        "created": applied.created,
        "skipped": applied.skipped,
    }
    await repository.finish_lead_sync(session, workspace_id, lead_id, seq, result)
    return applied


# --- EmailBison reconciliation ------------------------------------------------------------


def reconcile_key(workspace_id: uuid.UUID, slot: str) -> str:
    return f"{SyncJob.EMAILBISON_RECONCILE}:{workspace_id}:{slot}"


async def queue_reconcile(session: AsyncSession, workspace_id: uuid.UUID, slot: str) -> bool:
    job = await enqueue(
        session,
        SyncJob.EMAILBISON_RECONCILE.value,
        {},
        reconcile_key(workspace_id, slot),
        workspace_id=workspace_id,
        max_attempts=3,
    )
    return job is not None


async def queue_reconciliations(session: AsyncSession, limit: int, slot: str) -> int:
    """A reconciliation for each workspace with EmailBison configured and not auth_failed."""
    queued = 0
    for c in await credentials.configured_integrations(session, [Integration.EMAILBISON], limit):
        if c.status in NO_POLLING:
            log.debug("reconcile_skipped", workspace_id=str(c.workspace_id), status=c.status.value)
            continue
        queued += await queue_reconcile(session, c.workspace_id, slot)
    return queued


async def polling_allowed(
    session: AsyncSession, workspace_id: uuid.UUID, provider: Integration
) -> bool:
    item = await credentials.get_integration(session, workspace_id, provider)
    return item.configured and item.status not in NO_POLLING_BY_PROVIDER.get(provider, NO_POLLING)


async def emailbison_polling_allowed(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    return await polling_allowed(session, workspace_id, Integration.EMAILBISON)


async def reconcile_cursor(session: AsyncSession, workspace_id: uuid.UUID) -> int | None:
    state = await repository.reconcile_state(session, workspace_id)
    return None if state is None or state["cursor"] is None else int(state["cursor"])


async def record_reconciliation(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    events: Sequence[PulledEvent],
    cursor: int | None,
    complete: bool,
) -> Applied:
    applied = await apply_pulled(session, workspace_id, events)
    await repository.record_reconcile(
        session, workspace_id, cursor, applied.created, applied.seen, complete
    )
    return applied


async def reconcile_totals(session: AsyncSession) -> dict[str, Any]:
    """For ``replydesk queue stats``: workspaces reconciled, runs, replies recovered."""
    totals = await repository.reconcile_totals(session)
    last = totals.get("last_run_at")
    return {
        "workspaces": int(totals["workspaces"]),
        "runs": int(totals["runs"]),
        "recovered_total": int(totals["recovered_total"]),
        "incomplete_last_run": int(totals["incomplete_last_run"]),
        "last_run_at": last.isoformat() if isinstance(last, datetime) else None,
    }


# --- silence ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Silence:
    workspace_id: uuid.UUID
    provider: Integration
    silent_s: float
    usual_gap_s: float


async def detect_silence(session: AsyncSession, settings: Settings, slot: str) -> list[Silence]:
    """For each configured webhook provider (at most ``silence_batch``): the last webhook and
    the usual gap (mean over the newest ``silence_samples`` webhooks). Silent for more than
    ``silence_factor`` x the gap (and ``silence_min_s``) during the active hours → health
    ``degraded`` / ``provider_silent`` (through ``credentials.record_check``, which alerts) and,
    for EmailBison, a reconciliation pull."""
    now = await repository.db_now(session)
    active = in_active_hours(settings.silence_active_hours, now.hour)
    found: list[Silence] = []
    configured = await credentials.configured_integrations(
        session, WEBHOOK_PROVIDERS, settings.silence_batch
    )
    for c in configured:
        act = await repository.activity(
            session, c.workspace_id, c.provider.value, settings.silence_samples
        )
        n, last, first = int(act["n"]), act["last_at"], act["first_at"]
        gap = (last - first).total_seconds() / (n - 1) if n >= 2 and last and first else None
        quiet_s = (now - last).total_seconds() if last is not None else 0.0
        silent = (
            active
            and gap is not None
            and n >= settings.silence_min_samples
            and quiet_s > max(settings.silence_factor * gap, settings.silence_min_s)
        )
        await repository.record_activity(
            session, c.workspace_id, c.provider.value, last, gap, n, now if silent else None
        )
        if not silent or gap is None:
            continue
        found.append(Silence(c.workspace_id, c.provider, quiet_s, gap))
        if c.status in (HealthStatus.AUTH_FAILED, HealthStatus.DISCONNECTED):
            continue  # a louder state already says it, and polling cannot work
        if c.provider is Integration.EMAILBISON:
            await queue_reconcile(session, c.workspace_id, f"silent:{slot}")
        if c.status is HealthStatus.DEGRADED and c.last_error_category == PROVIDER_SILENT:
            continue  # already marked
        message = (
            f"no {c.provider.value} webhook for {round(quiet_s / 60)} min; usually one every "
            f"{round(gap / 60, 1)} min — check the webhook settings at the provider"
        )
        await credentials.record_check(
            session,
            c.workspace_id,
            c.provider,
            c.version,
            HealthResult(HealthStatus.DEGRADED, PROVIDER_SILENT, message),
        )
        log.warning(
            "provider_silent",
            category=LogCategory.PROVIDER_ERROR,
            error_class=PROVIDER_SILENT,
            workspace_id=str(c.workspace_id),
            provider=c.provider.value,
            silent_s=round(quiet_s),
            usual_gap_s=round(gap, 1),
        )
    return found
