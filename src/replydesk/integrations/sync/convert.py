"""Provider API objects → the webhook payloads the event handlers already understand.

Pulled history goes through the same handlers as webhooks (``processing.process_event``), so
it lands under the same unique keys (EmailBison ``reply.id`` / ``scheduled_email.id``, GHL
``messageId``): a webhook arriving later for the same item writes nothing new, and neither
does a second pull.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from replydesk.integrations.base import ProviderName


@dataclass(frozen=True)
class PulledEvent:
    provider: ProviderName
    event_type: str
    payload: dict[str, Any]


def _outgoing(reply: Mapping[str, Any]) -> bool:
    folder = str(reply.get("folder") or "").lower()
    kind = str(reply.get("type") or "").lower()
    return folder == "sent" or kind.startswith("outgoing")


def emailbison_reply(reply: Mapping[str, Any], lead_email: str | None = None) -> PulledEvent:
    """A reply object of ``GET /api/replies`` or ``/api/leads/{id}/replies``: the lead's
    reply (LEAD_REPLIED, or UNTRACKED_REPLY_RECEIVED without a campaign lead) or the team's
    (MANUAL_EMAIL_SENT, keyed by the same reply id as its webhook)."""
    lead_id = reply.get("lead_id")
    data: dict[str, Any] = {"reply": dict(reply)}
    if _outgoing(reply):
        event_type = "MANUAL_EMAIL_SENT"
        email = lead_email or reply.get("primary_to_email_address")
        data["lead"] = {"id": lead_id, "email": email} if lead_id is not None else {"email": email}
    elif lead_id is None:
        event_type = "UNTRACKED_REPLY_RECEIVED"
    else:
        event_type = "LEAD_REPLIED"
        data["lead"] = {"id": lead_id, "email": lead_email or reply.get("from_email_address")}
    return PulledEvent(
        ProviderName.EMAILBISON, event_type, {"event": {"type": event_type}, "data": data}
    )


def emailbison_sent(sent: Mapping[str, Any], lead_id: int, lead_email: str) -> PulledEvent:
    """A campaign e-mail of ``GET /api/leads/{id}/sent-emails`` (keyed by its scheduled
    e-mail id, like EMAIL_SENT)."""
    data = {"scheduled_email": dict(sent), "lead": {"id": lead_id, "email": lead_email}}
    return PulledEvent(
        ProviderName.EMAILBISON, "EMAIL_SENT", {"event": {"type": "EMAIL_SENT"}, "data": data}
    )


def ghl_message(
    message: Mapping[str, Any], contact_id: str, phone: str | None, location_id: str | None
) -> PulledEvent:
    """A message of ``GET /conversations/{id}/messages`` as the Inbound/OutboundMessage
    webhook it would have been (``messageId`` = the message's ``id``)."""
    inbound = str(message.get("direction") or "").lower() == "inbound"
    event_type = "InboundMessage" if inbound else "OutboundMessage"
    payload: dict[str, Any] = {
        "type": event_type,
        "locationId": location_id,
        "messageId": message.get("id"),
        "contactId": contact_id,
        "conversationId": message.get("conversationId"),
        "body": message.get("body"),
        "messageType": message.get("messageType") or message.get("messageTypeString"),
        "dateAdded": message.get("dateAdded"),
        "direction": "inbound" if inbound else "outbound",
        ("from" if inbound else "to"): phone,
    }
    if message.get("userId"):
        payload["userId"] = message["userId"]
    return PulledEvent(ProviderName.GHL, event_type, payload)
