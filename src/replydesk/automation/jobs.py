"""Queue handlers of the automation domain: ``inbound.postprocess`` (one job per stored
inbound message, deduplicated by ``leads.service.postprocess_inbound``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import service
from replydesk.core.errors import InvalidInput
from replydesk.core.logging import get_logger
from replydesk.leads.vocabulary import JobType
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry

log = get_logger(__name__)


def _order_key(item: ClaimedItem) -> str:
    """Jobs of one group lock their leads in one order."""
    lead_id = item.payload.get("lead_id")
    return f"{lead_id:020}" if isinstance(lead_id, int) else ""


async def postprocess_inbound(session: AsyncSession, item: ClaimedItem) -> str | None:
    message_id = item.payload.get("message_id")
    if item.workspace_id is None or not isinstance(message_id, int):
        raise InvalidInput("inbound.postprocess needs a workspace and an integer message_id")
    done = await service.postprocess(session, item.workspace_id, message_id)
    if done is None:
        return "message not found or not inbound"
    # Ids, category and confidence only: never the text.
    log.info(
        "inbound_categorised",
        job_id=item.id,
        lead_id=done.lead_id,
        message_id=message_id,
        result=done.result.category.value,
        confidence=done.result.confidence,
        out_of_office_until=(
            done.result.out_of_office_until.isoformat() if done.result.out_of_office_until else None
        ),
        lead_changed=done.category_changed,
    )
    return None


def register(registry: Registry) -> None:
    registry.add(
        JOBS.name, JobType.INBOUND_POSTPROCESS.value, postprocess_inbound, order_key=_order_key
    )
