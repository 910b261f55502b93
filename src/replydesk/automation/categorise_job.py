"""``inbound.categorise``: the AI's categorisation of one inbound message.

Queued by ``inbound.postprocess`` when the workspace has an AI target. ``prepare`` reads the
message and the AI target in one short transaction, then (outside any transaction) computes
the rules' result and asks the AI (``ai_categorise``); ``apply`` records the AI integration's
health and applies the result exactly as the rules path does (``service.apply_category``:
never over a manual category, newest message wins, drafts, the score job).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import service
from replydesk.automation.ai_categorise import AiCategorised, categorise_with_ai
from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.ai import config as ai_config
from replydesk.integrations.ai.client import AiTarget
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import CategorySource, Channel
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import ClaimedItem

log = get_logger(__name__)


@dataclass(frozen=True)
class PreparedCategory:
    message: leads.InboundText | None
    outcome: AiCategorised | None
    target: AiTarget | None


class CategoriseJob:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    async def prepare(self, item: ClaimedItem) -> PreparedCategory:
        message_id = item.payload.get("message_id")
        ws = item.workspace_id
        if ws is None or not isinstance(message_id, int) or isinstance(message_id, bool):
            raise PermanentError("inbound.categorise needs a workspace and an integer message_id")
        async with self.db.session() as session:
            message = await service.inbound_message(session, ws, message_id)
            if message is None:
                return PreparedCategory(None, None, None)
            resolved = await ai_config.resolve(session, self.settings, self.keyring, ws)
        rules = service.rules_result(message)
        if resolved.target is None:  # the key went away (or was refused) meanwhile
            return PreparedCategory(message, AiCategorised(rules, CategorySource.RULES), None)
        # The transaction is over: the AI call holds no connection.
        outcome = await categorise_with_ai(
            resolved.target,
            self.settings,
            lead_id=message.lead_id,
            text=service.text_of(message),
            subject=message.subject if message.channel == Channel.EMAIL else None,
            channel=str(message.channel),
            message_at=message.occurred_at,
            rules=rules,
        )
        return PreparedCategory(message, outcome, resolved.target)

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        prepared: PreparedCategory = item.prepared
        ws = item.workspace_id
        assert ws is not None
        if prepared.message is None or prepared.outcome is None:
            return "message not found or not inbound"
        outcome = prepared.outcome
        await ai_config.record_health(session, self.settings, ws, prepared.target, outcome.failure)
        done = await service.apply_category(
            session, ws, prepared.message, outcome.result, outcome.source
        )
        # Ids, category, source and confidence only: never the text.
        log.info(
            "inbound_categorised",
            job_id=item.id,
            lead_id=done.lead_id,
            message_id=prepared.message.id,
            result=done.result.category.value,
            source=done.source.value,
            confidence=done.result.confidence,
            fallback=outcome.failure.kind.value if outcome.failure else None,
            out_of_office_until=(
                done.result.out_of_office_until.isoformat()
                if done.result.out_of_office_until
                else None
            ),
            lead_changed=done.category_changed,
            draft_queued=done.draft_queued,
            superseded_drafts=len(done.superseded_drafts),
        )
        return None
