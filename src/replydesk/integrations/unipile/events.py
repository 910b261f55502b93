"""Unipile LinkedIn events → leads, messages and jobs (in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replydesk.core.errors import InvalidInput
from replydesk.integrations import readers as p
from replydesk.integrations.base import Event, EventHandler, EventOutcome
from replydesk.integrations.keys import get_path
from replydesk.integrations.planning import Lookups, Planner, planned
from replydesk.leads import identity
from replydesk.leads import service as leads
from replydesk.leads.message_events import MessageEvent
from replydesk.leads.vocabulary import Channel, Direction, IdentityKind, JobType, SentBy


async def _own_linkedin_ids(lookups: Lookups, event: Event) -> set[str]:
    configured = await lookups.unipile_own_provider_id(event.workspace_id)
    ids = {configured, p.str_id(get_path(event.payload, "account_info.user_id"))}
    return {i for i in ids if i}


def _attendee_profile(attendee: Mapping[str, Any]) -> leads.LeadProfile:
    first, last = p.split_name(attendee.get("attendee_name"))
    return leads.LeadProfile(first_name=first, last_name=last)


async def _plan_message(event: Event, lookups: Lookups) -> MessageEvent | EventOutcome:
    """message_received: from the lead (inbound) or, when the sender is the connected account
    itself (sent from another device), the team's own message (outbound). Its ``chat_id`` is
    recorded on the lead's LinkedIn identity (what a lead sync pulls)."""
    payload = event.payload
    message_id = p.str_id(payload.get("message_id"))
    if message_id is None:
        raise InvalidInput("message_received: message_id is required")
    sender = p.block(payload, "sender")
    sender_id = p.str_id(sender.get("attendee_provider_id"))
    if sender_id is None:
        raise InvalidInput("message_received: sender.attendee_provider_id is required")
    own = await _own_linkedin_ids(lookups, event)
    outbound = sender_id in own
    if outbound:
        attendees = payload.get("attendees")
        others = [
            a
            for a in (attendees if isinstance(attendees, list) else [])
            if isinstance(a, Mapping)
            and p.str_id(a.get("attendee_provider_id")) not in own | {None}
        ]
        if not others:
            return EventOutcome(skipped="own LinkedIn message without another attendee")
        lead_attendee: Mapping[str, Any] = others[0]
    else:
        lead_attendee = sender
    lead_pid = p.str_id(lead_attendee.get("attendee_provider_id"))
    assert lead_pid is not None
    keys = identity.keys(
        (IdentityKind.LINKEDIN_ID, lead_pid),
        (
            IdentityKind.LINKEDIN_URL,
            identity.linkedin_url(lead_attendee.get("attendee_profile_url")),
        ),
    )
    msg = leads.NewMessage(
        channel=Channel.LINKEDIN,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        sent_by=SentBy.TEAM if outbound else "lead",
        occurred_at=p.first_time(payload.get("timestamp")) or event.received_at,
        key_column="unipile_message_id",
        key=message_id,
        body=p.text_or_none(payload.get("message")),
    )
    job = None if outbound else JobType.INBOUND_POSTPROCESS
    return MessageEvent(
        event.workspace_id,
        keys,
        _attendee_profile(lead_attendee),
        msg,
        job,
        unipile_chat_id=p.str_id(payload.get("chat_id")),
    )


def lead_key(payload: Mapping[str, Any]) -> str:
    who = get_path(payload, "sender.attendee_provider_id") or payload.get("chat_id") or ""
    return f"u:{who}"


# Message events: planned, so a group of them is applied set-based (integrations.planning).
PLANNERS: dict[str, Planner] = {"message_received": _plan_message}
HANDLERS: dict[str, EventHandler] = {"message_received": planned(_plan_message)}
