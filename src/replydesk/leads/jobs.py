"""Queue handlers of the leads domain: webhook events, and the jobs they enqueue.

``followup.start`` and ``inbound.postprocess`` are **recorded no-ops** for now: the follow-up
engine and the AI post-processing are later issues. Their jobs are enqueued (deduplicated per
message), claimed and marked succeeded with an info log saying nothing was done, so the
queue already carries them and the later handlers only replace ``_not_built_yet``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.logging import get_logger
from replydesk.leads.processing import (
    FOLLOWUP_START,
    HANDLERS,
    INBOUND_POSTPROCESS,
    lead_identity,
    process_event,
)
from replydesk.queue.errors import PermanentError
from replydesk.queue.registry import Registry
from replydesk.queue.tables import JOBS, WEBHOOK_EVENTS, ClaimedItem

log = get_logger(__name__)

_NOT_BUILT = {
    FOLLOWUP_START: "follow-ups are not built yet: job recorded as done, nothing scheduled",
    INBOUND_POSTPROCESS: "inbound post-processing (AI triage) is not built yet: job recorded "
    "as done, nothing analysed",
}


async def handle_webhook_event(session: AsyncSession, item: ClaimedItem) -> str | None:
    if item.workspace_id is None:
        raise PermanentError("webhook event without a workspace")
    outcome = await process_event(
        session,
        workspace_id=item.workspace_id,
        provider=item.fields["provider"],
        event_type=item.fields["event_type"],
        payload=item.payload,
        received_at=item.fields["received_at"],
    )
    return outcome.skipped


async def _not_built_yet(session: AsyncSession, item: ClaimedItem) -> str | None:
    log.info(
        "job_not_built_yet",
        job_type=item.kind,
        job_id=item.id,
        workspace_id=str(item.workspace_id) if item.workspace_id else None,
        note=_NOT_BUILT[item.kind],
    )
    return None


def lead_order_key(item: ClaimedItem) -> str:
    """The lead an event will lock, as a sortable string (see queue.registry.OrderKey)."""
    return lead_identity(item.fields["provider"], item.payload)


def register(registry: Registry) -> None:
    for provider, event_type in HANDLERS:
        registry.add(
            WEBHOOK_EVENTS.name,
            f"{provider}:{event_type}",
            handle_webhook_event,
            order_key=lead_order_key,
        )
    for job_type in _NOT_BUILT:
        registry.add(JOBS.name, job_type, _not_built_yet)
