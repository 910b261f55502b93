"""Provider API objects → the webhook payloads the event handlers already understand.

Pulled history goes through the same handlers as webhooks (``processing.process_event``), so
it lands under the same unique keys (EmailBison ``reply.id`` / ``scheduled_email.id``, GHL
``messageId``, Unipile ``message_id``): a webhook arriving later for the same item writes
nothing new, and neither does a second pull.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from replydesk.integrations.base import ProviderName
from replydesk.integrations.readers import str_id
from replydesk.integrations.unipile.client import is_sender


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


def unipile_message(
    message: Mapping[str, Any], chat_id: str, lead_provider_id: str, account_id: str | None
) -> PulledEvent:
    """A message of ``GET /api/v1/chats/{id}/messages`` as the ``message_received`` webhook it
    would have been (``message_id`` = the message's ``id``). One the account sent
    (``is_sender``) names the account as its sender and as ``account_info.user_id``, so the
    handler reads it as the team's own (outbound, an echo of a reply matched by its id), with
    the lead the other attendee."""
    sender_id = str_id(message.get("sender_id"))
    payload: dict[str, Any] = {
        "account_id": account_id,
        "account_type": "LINKEDIN",
        "event": "message_received",
        "chat_id": str_id(message.get("chat_id")) or chat_id,
        "message_id": message.get("id"),
        "timestamp": message.get("timestamp"),
        "message": message.get("text"),
        "attendees": [{"attendee_provider_id": lead_provider_id}],
    }
    if is_sender(message):
        me = sender_id or f"account:{account_id}"
        payload["sender"] = {"attendee_provider_id": me}
        payload["account_info"] = {"type": "LINKEDIN", "user_id": me}
    else:
        payload["sender"] = {"attendee_provider_id": sender_id or lead_provider_id}
    return PulledEvent(ProviderName.UNIPILE, "message_received", payload)
