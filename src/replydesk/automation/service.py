"""Inbound post-processing: categorise a stored inbound message and apply the result to its
lead, through ``leads.service`` (the only writer of leads).

Runs in the ``inbound.postprocess`` job's transaction (worker path, never a request). The
text categorised is the message's new text only: ``body_visible`` (quoted history and
signature folded away when the message was stored), else rendered now from its text/HTML.
Applying is idempotent and order-independent: a replayed job changes nothing, and jobs of
one lead's messages may run in any order (``leads.service.set_category`` orders by message
time). Then the next steps chain here: the lead's pending drafts of older messages are
superseded, and a drafted category queues one ``draft.generate`` job per message (its dedupe
key), which writes the draft outside this transaction (``automation.jobs``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import drafts
from replydesk.automation.categorise.engine import Categorised, categorise
from replydesk.automation.vocabulary import DRAFTED
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import CategorySource, Channel, Direction, LeadCategory


@dataclass(frozen=True)
class Postprocessed:
    lead_id: int
    result: Categorised
    category_changed: bool
    superseded_drafts: list[int] = field(default_factory=list)
    draft_queued: bool = False


def _text_of(message: leads.InboundText) -> str:
    if message.body_visible:
        return message.body_visible
    if message.channel == Channel.EMAIL:
        return leads.visible_text(text=message.body_text or message.body, html=message.body_html)
    return message.body_text or message.body or ""


async def postprocess(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> Postprocessed | None:
    """Categorise one inbound message; None when it is gone or not inbound."""
    message = await leads.message_text(session, workspace_id, message_id)
    if message is None or message.direction != Direction.INBOUND:
        return None
    result = categorise(
        _text_of(message),
        subject=message.subject if message.channel == Channel.EMAIL else None,
        message_at=message.occurred_at,
    )
    lead_id = message.lead_id
    if result.category == LeadCategory.OUT_OF_OFFICE:
        await leads.record_out_of_office(
            session, workspace_id, lead_id, message.occurred_at, result.out_of_office_until
        )
    if result.category == LeadCategory.UNSUBSCRIBE:
        await leads.record_unsubscribe(
            session,
            workspace_id,
            lead_id,
            f"message:{message.id}",
            occurred_at=message.occurred_at,
            data={"source": CategorySource.RULES.value, "message_id": message.id},
        )
    changed = await leads.set_category(
        session,
        workspace_id,
        lead_id,
        result.category,
        source=CategorySource.RULES,
        confidence=result.confidence,
        at=message.occurred_at,
        message_id=message.id,
    )
    # A newer inbound message makes the lead's waiting drafts stale, whatever it says.
    superseded = await drafts.supersede_older(
        session, workspace_id, lead_id, message.id, message.occurred_at
    )
    queued = False
    if result.category in DRAFTED:
        queued = (
            await drafts.enqueue_draft(
                session, workspace_id, lead_id, message.id, result.category, result.confidence
            )
            is not None
        )
    return Postprocessed(lead_id, result, changed, superseded, queued)
