"""A pending draft written through the automation service (``drafts.store_draft``), as the
draft job writes it, without running the job: page tests choose its text and notes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from replydesk.automation import drafts
from replydesk.automation.drafting import Drafted, DraftRequest
from replydesk.automation.schemas import AutomationSettingsIn
from replydesk.automation.vocabulary import DraftSource, VerifierStatus
from replydesk.core.db import Database
from replydesk.leads.context import lead_context
from replydesk.leads.vocabulary import Channel, LeadCategory
from tests.support.rows import fetch_rows


async def inbound_message_id(db: Database, lead_id: int) -> int:
    rows = await fetch_rows(
        db,
        "SELECT id FROM messages WHERE lead_id = :lead AND direction = 'inbound' "
        "ORDER BY occurred_at DESC, id DESC LIMIT 1",
        lead=lead_id,
    )
    return int(rows[0]["id"])


async def pending_draft(
    db: Database,
    ws: uuid.UUID,
    lead_id: int,
    body: str,
    *,
    notes: tuple[str, ...] = (),
    verifier: VerifierStatus = VerifierStatus.PASSED,
    subject: str | None = "Re: Quick question",
) -> int:
    message_id = await inbound_message_id(db, lead_id)
    async with db.session() as session:
        context = await lead_context(session, ws, lead_id, datetime.now(UTC))
        assert context is not None
        request = DraftRequest(
            lead_id,
            message_id,
            Channel.EMAIL,
            subject,
            LeadCategory.INTERESTED,
            0.8,
            context,
            AutomationSettingsIn(),
        )
        drafted = Drafted(
            subject, body, body, DraftSource.TEMPLATE, verifier, list(notes), "test-1", "hash"
        )
        stored = await drafts.store_draft(session, ws, request, drafted)
    assert stored is not None
    return stored.id
