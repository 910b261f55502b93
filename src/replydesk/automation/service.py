"""Inbound post-processing: categorise a stored inbound message and apply the result to its
lead, through ``leads.service`` (the only writer of leads).

Runs in the ``inbound.postprocess`` job's transaction (worker path, never a request). The
text categorised is the message's new text only: ``body_visible`` (quoted history and
signature folded away when the message was stored), else rendered now from its text/HTML.
Applying is idempotent and order-independent: a replayed job changes nothing, and jobs of
one lead's messages may run in any order (``leads.service.set_category`` orders by message
time). Then the next steps chain here: the lead's pending drafts of older messages are
superseded, and a drafted category queues one ``draft.generate`` job per message (its dedupe
key), which writes the draft outside this transaction (``automation.jobs``), and one
``lead.score`` job per message.

With an AI target (``integrations.ai.config.configured``) the job defers: it queues one
``inbound.categorise`` job per message, whose ``prepare`` calls the AI outside any transaction
and whose ``apply`` runs ``apply_category`` with the AI's result (or the rules' on a failure).
The rules-only path keeps ``inbound.postprocess`` a plain grouped job (no ``prepare``: a
worker applies many of them per transaction).
Follow-up sequences of the lead stop on a reply or an unsubscribe, or wait out an
out-of-office (``automation.sequences.service``), in the transaction that applies the category.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import drafts, scoring
from replydesk.automation.categorise.engine import Categorised, categorise
from replydesk.automation.sequences import service as sequences
from replydesk.automation.sequences.vocabulary import StopReason
from replydesk.automation.vocabulary import DRAFTED, JobType
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import CategorySource, Channel, Direction, LeadCategory
from replydesk.queue.service import enqueue

CATEGORISE_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Postprocessed:
    lead_id: int
    result: Categorised
    category_changed: bool
    superseded_drafts: list[int] = field(default_factory=list)
    draft_queued: bool = False
    source: CategorySource = CategorySource.RULES
    followups_stopped: list[int] = field(default_factory=list)
    followups_held: list[int] = field(default_factory=list)


def text_of(message: leads.InboundText) -> str:
    if message.body_visible:
        return message.body_visible
    if message.channel == Channel.EMAIL:
        return leads.visible_text(text=message.body_text or message.body, html=message.body_html)
    return message.body_text or message.body or ""


def rules_result(message: leads.InboundText) -> Categorised:
    """The offline categoriser's result for the message's new text."""
    return categorise(
        text_of(message),
        subject=message.subject if message.channel == Channel.EMAIL else None,
        message_at=message.occurred_at,
    )


async def inbound_message(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> leads.InboundText | None:
    """The stored inbound message, or None when it is gone or not inbound."""
    message = await leads.message_text(session, workspace_id, message_id)
    if message is None or message.direction != Direction.INBOUND:
        return None
    return message


async def postprocess(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> Postprocessed | None:
    """Categorise one inbound message with the rules; None when it is gone or not inbound."""
    message = await inbound_message(session, workspace_id, message_id)
    if message is None:
        return None
    return await apply_category(
        session, workspace_id, message, rules_result(message), CategorySource.RULES
    )


def categorise_dedupe_key(message_id: int) -> str:
    """One AI categorisation per inbound message, ever."""
    return f"{JobType.INBOUND_CATEGORISE}:{message_id}"


async def defer_to_ai(
    session: AsyncSession, workspace_id: uuid.UUID, message: leads.InboundText
) -> bool:
    """The workspace has an AI: the ``inbound.categorise`` job categorises the message (its
    ``prepare`` calls the AI outside any transaction) and applies the result. The lead's
    older pending drafts are superseded now: the conversation moved on whatever it says."""
    await drafts.supersede_older(
        session, workspace_id, message.lead_id, message.id, message.occurred_at
    )
    job = await enqueue(
        session,
        JobType.INBOUND_CATEGORISE.value,
        {"message_id": message.id, "lead_id": message.lead_id},
        categorise_dedupe_key(message.id),
        workspace_id=workspace_id,
        max_attempts=CATEGORISE_MAX_ATTEMPTS,
    )
    return job is not None


async def apply_category(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    message: leads.InboundText,
    result: Categorised,
    source: CategorySource,
) -> Postprocessed:
    """Apply a categorisation (rules or AI) to the lead, then chain the next steps: older
    pending drafts superseded, a draft job for a drafted category, the lead's score job."""
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
            data={"source": source.value, "message_id": message.id},
        )
    changed = await leads.set_category(
        session,
        workspace_id,
        lead_id,
        result.category,
        source=source,
        confidence=result.confidence,
        at=message.occurred_at,
        message_id=message.id,
    )
    # A newer inbound message makes the lead's waiting drafts stale, whatever it says.
    superseded = await drafts.supersede_older(
        session, workspace_id, lead_id, message.id, message.occurred_at
    )
    stopped, held = await _followups(session, workspace_id, lead_id, message, result)
    queued = False
    if result.category in DRAFTED:
        queued = (
            await drafts.enqueue_draft(
                session, workspace_id, lead_id, message.id, result.category, result.confidence
            )
            is not None
        )
    await scoring.enqueue_score(session, workspace_id, lead_id, message.id)
    return Postprocessed(lead_id, result, changed, superseded, queued, source, stopped, held)


async def _followups(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    message: leads.InboundText,
    result: Categorised,
) -> tuple[list[int], list[int]]:
    """A reply stops the lead's follow-ups (those started before it); an unsubscribe stops
    them all; an out-of-office reply only holds them until the next working day after the
    stated return."""
    if result.category == LeadCategory.UNSUBSCRIBE:
        stopped = await sequences.stop_for_lead(
            session, workspace_id, lead_id, StopReason.UNSUBSCRIBED
        )
        return stopped, []
    if result.category == LeadCategory.OUT_OF_OFFICE:
        if result.out_of_office_until is None:
            return [], []
        held = await sequences.hold_for_out_of_office(
            session, workspace_id, lead_id, result.out_of_office_until
        )
        return [], held
    stopped = await sequences.stop_for_lead(
        session, workspace_id, lead_id, StopReason.REPLIED, replied_at=message.occurred_at
    )
    return stopped, []
