"""GoHighLevel SMS events → leads, messages and jobs (in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput
from replydesk.core.logging import get_logger
from replydesk.integrations import readers as p
from replydesk.integrations.base import Event, EventHandler, EventOutcome
from replydesk.integrations.ghl.webhook import fallback_message_id
from replydesk.integrations.planning import Lookups, Planner, planned
from replydesk.leads import identity
from replydesk.leads import service as leads
from replydesk.leads.message_events import MessageEvent
from replydesk.leads.vocabulary import Channel, Direction, IdentityKind, JobType, SentBy

log = get_logger(__name__)


async def _plan_message(event: Event, lookups: Lookups) -> MessageEvent | EventOutcome:
    """InboundMessage / OutboundMessage (SMS only). An OutboundMessage whose messageId we
    already store (our own send coming back) is an echo: nothing new is written."""
    payload = event.payload
    kind = str(payload.get("messageType") or payload.get("messageTypeString") or "")
    if kind.upper() not in ("SMS", "TYPE_SMS"):
        return EventOutcome(skipped=f"GHL {kind or 'untyped'} message: only SMS is handled")
    inbound = event.event_type == "InboundMessage"
    settings = await lookups.identity_settings(event.workspace_id)
    phone = identity.phone(payload.get("from" if inbound else "to"), settings.default_phone_region)
    contact = identity.provider_id(payload.get("contactId"))
    if contact is None and phone is None:
        raise InvalidInput(f"{event.event_type}: neither contactId nor a valid phone number")
    contact_block = p.block(payload, "contact")
    email = identity.email(payload.get("email")) or identity.email(contact_block.get("email"))
    # The phone first: it is what the SMS travels through.
    keys = identity.keys(
        (IdentityKind.PHONE, phone),
        (IdentityKind.GHL_CONTACT, contact),
        (IdentityKind.EMAIL, email),
    )
    sent_by = (
        SentBy.LEAD
        if inbound
        else (SentBy.TEAM if p.str_id(payload.get("userId")) else SentBy.CAMPAIGN)
    )
    msg = leads.NewMessage(
        channel=Channel.SMS,
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        sent_by=sent_by,
        occurred_at=p.first_time(payload.get("dateAdded")) or event.received_at,
        key_column="ghl_message_id",
        key=p.str_id(payload.get("messageId")) or fallback_message_id(payload, event.event_type),
        body=p.text_or_none(payload.get("body")),
    )
    job = JobType.INBOUND_POSTPROCESS if inbound else None
    return MessageEvent(event.workspace_id, keys, leads.LeadProfile(), msg, job)


async def _ghl_message(session: AsyncSession, event: Event) -> EventOutcome:
    done = await _handle_message(session, event)
    if not done.skipped and not done.message_created and event.event_type != "InboundMessage":
        log.debug("ghl_echo_dropped", message_id=done.message_id,
                  workspace_id=str(event.workspace_id))  # fmt: skip
    return done


_handle_message = planned(_plan_message)


def lead_key(payload: Mapping[str, Any]) -> str:
    return f"g:{payload.get('contactId') or payload.get('from') or ''}"


# Message events: planned, so a group of them is applied set-based (integrations.planning).
PLANNERS: dict[str, Planner] = {"InboundMessage": _plan_message, "OutboundMessage": _plan_message}
HANDLERS: dict[str, EventHandler] = {
    "InboundMessage": _ghl_message,
    "OutboundMessage": _ghl_message,
}
