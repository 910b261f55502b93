"""Queue handler of follow-up sequences: ``followup.start`` (one job per outbound message,
deduplicated by ``leads.service.start_followup``): a campaign send starts the workspace's
enabled ``no_reply_after_outbound`` sequences for its lead."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation.sequences import service
from replydesk.core.errors import InvalidInput
from replydesk.core.logging import get_logger
from replydesk.leads.vocabulary import JobType
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)


async def start_followups(session: AsyncSession, item: ClaimedItem) -> str | None:
    message_id = item.payload.get("message_id")
    if item.workspace_id is None or not isinstance(message_id, int):
        raise InvalidInput("followup.start needs a workspace and an integer message_id")
    started, why_not = await service.start_for_outbound(session, item.workspace_id, message_id)
    log.info(
        "followup_start",
        job_id=item.id,
        message_id=message_id,
        lead_id=item.payload.get("lead_id"),
        started=started,
        note=why_not,
    )
    return None


def _order_key(item: ClaimedItem) -> str:
    lead_id = item.payload.get("lead_id")
    return f"{lead_id:020}" if isinstance(lead_id, int) else ""


def register(registry: Registry) -> None:
    registry.add(JOBS.name, JobType.FOLLOWUP_START.value, start_followups, order_key=_order_key)
