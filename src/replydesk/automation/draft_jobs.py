"""``draft.generate`` and ``draft.auto_send``.

``draft.generate``: ``prepare`` reads everything in one short transaction (the message, the
lead and its thread, the workspace's automation settings, which AI to use), then writes the
draft outside any transaction (AI calls bounded by the item budget, else the template);
``apply`` inserts it (unique per message), records the AI integration's health
(``transition_health``) and, when every auto-send rule holds, queues ``draft.auto_send`` at
``now + delay_s``. ``draft.auto_send`` approves the draft as the system if it is still
pending; a refused send (unsubscribed, gated, quarantined) leaves it pending, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import drafts, slots
from replydesk.automation.drafting import Drafted, DraftRequest, write_draft
from replydesk.automation.vocabulary import DraftStatus
from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.errors import Conflict, InvalidInput, NotFound
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.ai import config as ai_config
from replydesk.integrations.ai.client import AiTarget
from replydesk.leads import context as lead_context
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import Channel, Direction, LeadCategory
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import ClaimedItem

log = get_logger(__name__)


@dataclass(frozen=True)
class Prepared:
    request: DraftRequest | None
    drafted: Drafted | None
    target: AiTarget | None
    skipped: str | None = None


def _ints(item: ClaimedItem, *names: str) -> list[int]:
    if item.workspace_id is None:
        raise PermanentError(f"{item.kind} without a workspace")
    values = []
    for name in names:
        raw = item.payload.get(name)
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise PermanentError(f"{item.kind} needs an integer {name}")
        values.append(raw)
    return values


class DraftJob:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    async def prepare(self, item: ClaimedItem) -> Prepared:
        (message_id,) = _ints(item, "message_id")
        ws = item.workspace_id
        assert ws is not None
        raw_category = item.payload.get("category")
        category = LeadCategory(raw_category) if raw_category in set(LeadCategory) else None
        raw_confidence = item.payload.get("confidence")
        confidence = float(raw_confidence) if isinstance(raw_confidence, int | float) else None
        async with self.db.session() as session:
            if await drafts.has_draft(session, ws, message_id):
                return Prepared(None, None, None, "the message has a draft already")
            message = await leads.message_text(session, ws, message_id)
            if message is None or message.direction != Direction.INBOUND:
                return Prepared(None, None, None, "message not found or not inbound")
            context = await lead_context.lead_context(
                session, ws, message.lead_id, message.occurred_at
            )
            if context is None:
                return Prepared(None, None, None, "the lead no longer exists")
            automation = await drafts.get_settings(session, ws)
            resolved = await ai_config.resolve(session, self.settings, self.keyring, ws)
            chosen: list[datetime] = []
            availability = None
            if category is LeadCategory.MEETING_REQUEST:
                availability = await drafts.get_availability(session, ws)
                if availability is not None:
                    candidates = slots.upcoming(availability, datetime.now(UTC))
                    counts = await drafts.offer_counts(session, ws, candidates)
                    chosen = slots.choose(candidates, counts)
        subject = message.subject if message.channel == Channel.EMAIL else None
        if subject and not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        request = DraftRequest(
            message.lead_id,
            message.id,
            Channel(message.channel),
            subject,
            category,
            confidence,
            context,
            automation,
            chosen,
            [slots.label(s, availability) for s in chosen] if availability else [],
            availability.booking_url if availability else None,
        )
        # The transaction is over: the AI calls hold no connection.
        drafted = await write_draft(
            request, resolved.target, self.settings, why_no_ai=resolved.why_not
        )
        return Prepared(request, drafted, resolved.target)

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        prepared: Prepared = item.prepared
        ws = item.workspace_id
        assert ws is not None
        if prepared.request is None or prepared.drafted is None:
            return prepared.skipped
        request, drafted = prepared.request, prepared.drafted
        await ai_config.record_health(
            session,
            self.settings,
            ws,
            prepared.target,
            None if drafted.ai_ok and drafted.failure is None else drafted.failure,
        )
        stored = await drafts.store_draft(session, ws, request, drafted)
        if stored is None:
            return "the message has a draft already (or is gone)"
        await drafts.count_offers(session, ws, request.slots)
        refusal = auto_send = None
        if stored.status is DraftStatus.PENDING_REVIEW:
            refusal = drafts.auto_send_refusal(request.automation, request, drafted)
            if refusal is None:
                delay = request.automation.auto_send.delay_s
                auto_send = await drafts.schedule_auto_send(session, ws, stored.id, delay)
        # Ids and outcomes only: never the draft, the thread or the key.
        log.info(
            "draft_written",
            job_id=item.id,
            draft_id=stored.id,
            lead_id=request.lead_id,
            message_id=request.message_id,
            status=stored.status.value,
            source=drafted.source.value,
            verifier=drafted.verifier_status.value,
            auto_send_at=auto_send.isoformat() if auto_send else None,
            auto_send_refusal=refusal,
        )
        return None


class AutoSendJob:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        (draft_id,) = _ints(item, "draft_id")
        ws = item.workspace_id
        assert ws is not None
        try:
            current = await drafts.get_draft(session, ws, draft_id)
        except NotFound:  # the draft (or its lead) is gone
            return "the draft no longer exists"
        if current.status is not DraftStatus.PENDING_REVIEW:
            return f"the draft is {current.status.value}"
        automation = await drafts.get_settings(session, ws)
        rule = automation.auto_send
        confidence = current.category_confidence
        if (
            not rule.enabled
            or current.category is None
            or current.category not in rule.categories
            or confidence is None
            or confidence < rule.min_confidence
        ):
            await drafts.add_note(session, ws, draft_id, "auto-send cancelled: settings changed")
            return "auto-send is no longer enabled for this draft"
        try:
            async with session.begin_nested():
                shown = await drafts.approve(
                    session, self.settings, ws, draft_id, None, automatic=True
                )
        except (Conflict, InvalidInput) as refused:
            # Gated, quarantined, unsubscribed …: a human decides (the draft stays pending).
            await drafts.add_note(session, ws, draft_id, f"auto-send refused: {refused.message}")
            log.info("draft_auto_send_refused", draft_id=draft_id, code=refused.code)
            return f"auto-send refused: {refused.code}"
        log.info(
            "draft_auto_sent",
            draft_id=draft_id,
            lead_id=shown.lead_id,
            reply=shown.reply_message_id,
        )
        return None
