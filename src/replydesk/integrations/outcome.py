"""The outcome of an event that stored a message."""

from __future__ import annotations

from replydesk.integrations.base import EventOutcome
from replydesk.leads.service import StoredMessage


def outcome(stored: StoredMessage) -> EventOutcome:
    return EventOutcome(
        lead_id=stored.lead_id, message_id=stored.id, message_created=stored.created
    )
