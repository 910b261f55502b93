"""EmailBison events → leads, messages, counters and jobs (in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput
from replydesk.integrations import readers as p
from replydesk.integrations.base import Event, EventHandler, EventOutcome
from replydesk.integrations.emailbison.webhook import id_part
from replydesk.integrations.keys import get_path
from replydesk.integrations.planning import Lookups, Planner, planned
from replydesk.leads import identity
from replydesk.leads import service as leads
from replydesk.leads.identity import IdentityKey
from replydesk.leads.message_events import MessageEvent
from replydesk.leads.vocabulary import (
    CategorySource,
    Channel,
    Direction,
    IdentityKind,
    JobType,
    LeadCategory,
    LeadEventKind,
    LeadStatus,
    SentBy,
)


def _bison_profile(lead: Mapping[str, Any]) -> leads.LeadProfile:
    return leads.LeadProfile(
        first_name=p.text_or_none(lead.get("first_name"), 200),
        last_name=p.text_or_none(lead.get("last_name"), 200),
        company=p.text_or_none(lead.get("company"), 300),
        title=p.text_or_none(lead.get("title"), 300),
    )


def _variables(lead: Mapping[str, Any]) -> dict[str, Any]:
    """The lead's fields and custom variables by lower-case name (custom variables come as
    ``[{"name", "value"}]`` or as an object)."""
    found: dict[str, Any] = {str(k).lower(): v for k, v in lead.items()}
    custom = lead.get("custom_variables")
    if isinstance(custom, Mapping):
        found.update({str(k).strip().lower(): v for k, v in custom.items()})
    elif isinstance(custom, list):
        for item in custom:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                found[item["name"].strip().lower()] = item.get("value")
    return found


async def _lead_keys(
    lookups: Lookups, event: Event, lead: Mapping[str, Any], email: str
) -> list[IdentityKey]:
    """E-mail first (the channel's identity), then the EmailBison lead id and the phone and
    LinkedIn URL the workspace's variable names point at."""
    settings = await lookups.identity_settings(event.workspace_id)
    variables = _variables(lead) if lead else {}
    phones = [
        identity.phone(variables.get(name), settings.default_phone_region)
        for name in settings.phone_variables
    ]
    urls = [identity.linkedin_url(variables.get(name)) for name in settings.linkedin_variables]
    return identity.keys(
        (IdentityKind.EMAIL, email),
        (IdentityKind.EMAILBISON_LEAD, identity.provider_id(lead.get("id"))),
        *((IdentityKind.PHONE, v) for v in phones),
        *((IdentityKind.LINKEDIN_URL, v) for v in urls),
    )


async def _bison_person(
    lookups: Lookups, event: Event, fallback_path: str | None = None
) -> tuple[list[IdentityKey], leads.LeadProfile]:
    """The campaign lead (``data.lead``), else the address at ``fallback_path``."""
    lead = p.block(event.payload, "data.lead")
    email = identity.email(lead.get("email"))
    if email is None and fallback_path:
        email = identity.email(get_path(event.payload, fallback_path))
    if email is None:
        where = "data.lead.email" + (f" or {fallback_path}" if fallback_path else "")
        raise InvalidInput(f"{event.event_type}: no valid e-mail address in {where}")
    return await _lead_keys(lookups, event, lead, email), _bison_profile(lead)


async def _bison_lead(
    session: AsyncSession, event: Event, fallback_path: str | None = None
) -> leads.Person:
    keys, profile = await _bison_person(Lookups(session), event, fallback_path)
    return await leads.resolve_lead(session, event.workspace_id, keys, profile)


def _reply(event: Event) -> tuple[Mapping[str, Any], int]:
    reply = p.block(event.payload, "data.reply")
    return reply, p.int_id(reply.get("id"), "data.reply.id")


def _reply_time(event: Event, reply: Mapping[str, Any]) -> datetime:
    when = p.first_time(reply.get("date_received"), reply.get("created_at"))
    return when or event.received_at


def _reply_body(reply: Mapping[str, Any]) -> str | None:
    return p.text_or_none(reply.get("text_body")) or p.text_or_none(reply.get("html_body"))


def _event_time(event: Event) -> datetime:
    when = p.first_time(get_path(event.payload, "data.campaign_event.created_at"))
    return when or event.received_at


async def _plan_sent(event: Event, lookups: Lookups) -> MessageEvent:
    """EMAIL_SENT / LEAD_FIRST_CONTACTED: a campaign send, keyed by its scheduled e-mail."""
    se = p.block(event.payload, "data.scheduled_email")
    se_id = p.int_id(se.get("id"), "data.scheduled_email.id")
    keys, profile = await _bison_person(lookups, event)
    when = p.first_time(
        se.get("sent_at"), get_path(event.payload, "data.campaign_event.created_at")
    )
    msg = leads.NewMessage(
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
        sent_by=SentBy.CAMPAIGN,
        occurred_at=when or event.received_at,
        key_column="emailbison_scheduled_email_id",
        key=se_id,
        subject=p.text_or_none(se.get("email_subject"), 2000),
        body=p.text_or_none(se.get("email_body")),
        body_html=p.text_or_none(se.get("email_body")),  # campaign bodies are HTML
    )
    return MessageEvent(event.workspace_id, keys, profile, msg, JobType.FOLLOWUP_START)


def _reply_message(
    event: Event,
    reply: Mapping[str, Any],
    reply_id: int,
    *,
    direction: Direction,
    sent_by: SentBy,
) -> leads.NewMessage:
    """The message an EmailBison reply object describes, keyed by its reply id."""
    return leads.NewMessage(
        channel=Channel.EMAIL,
        direction=direction,
        sent_by=sent_by,
        occurred_at=_reply_time(event, reply),
        key_column="emailbison_reply_id",
        key=reply_id,
        subject=p.text_or_none(reply.get("email_subject"), 2000),
        body=_reply_body(reply),
        body_html=p.text_or_none(reply.get("html_body")),
        body_text=p.text_or_none(reply.get("text_body")),
    )


async def _plan_manual(event: Event, lookups: Lookups) -> MessageEvent:
    """MANUAL_EMAIL_SENT: the team wrote to the lead (counts as answering)."""
    reply, reply_id = _reply(event)
    keys, profile = await _bison_person(lookups, event, "data.reply.primary_to_email_address")
    msg = _reply_message(event, reply, reply_id, direction=Direction.OUTBOUND, sent_by=SentBy.TEAM)
    return MessageEvent(event.workspace_id, keys, profile, msg, JobType.FOLLOWUP_START)


async def _plan_reply(event: Event, lookups: Lookups) -> MessageEvent:
    """LEAD_REPLIED / LEAD_INTERESTED / UNTRACKED_REPLY_RECEIVED: an inbound reply."""
    reply, reply_id = _reply(event)
    untracked = event.event_type == "UNTRACKED_REPLY_RECEIVED"
    if untracked:
        # No campaign lead: the sender's address is the lead, created flagged untracked.
        email = identity.email(reply.get("from_email_address"))
        if email is None:
            raise InvalidInput("UNTRACKED_REPLY_RECEIVED: no valid data.reply.from_email_address")
        first, last = p.split_name(reply.get("from_name"))
        profile = leads.LeadProfile(first_name=first, last_name=last)
        keys = identity.keys((IdentityKind.EMAIL, email))
    else:
        keys, profile = await _bison_person(lookups, event, "data.reply.from_email_address")
    msg = _reply_message(event, reply, reply_id, direction=Direction.INBOUND, sent_by=SentBy.LEAD)
    interested = event.event_type == "LEAD_INTERESTED" or reply.get("interested") is True
    return MessageEvent(
        event.workspace_id,
        keys,
        profile,
        msg,
        JobType.INBOUND_POSTPROCESS,
        untracked=untracked,
        category=LeadCategory.INTERESTED if interested else None,
    )


async def _bison_bounced(session: AsyncSession, event: Event) -> EventOutcome:
    """EMAIL_BOUNCED: status bounced, bounce_count once per bounce (no message is stored:
    a bounce notice is not the lead writing)."""
    _, reply_id = _reply(event)
    lead_id = (await _bison_lead(session, event)).lead_id
    await leads.count_lead_event(
        session,
        event.workspace_id,
        lead_id,
        LeadEventKind.BOUNCE,
        f"reply:{reply_id}",
        _event_time(event),
    )
    await leads.raise_status(session, event.workspace_id, lead_id, LeadStatus.BOUNCED)
    return EventOutcome(lead_id=lead_id)


async def _bison_opened(session: AsyncSession, event: Event) -> EventOutcome:
    """EMAIL_OPENED: open_count once per tracked open (campaign_event id)."""
    event_id = p.str_id(get_path(event.payload, "data.campaign_event.id"))
    if event_id is not None:
        key = f"campaign_event:{event_id}"
    else:
        se_id = p.int_id(
            get_path(event.payload, "data.scheduled_email.id"), "data.scheduled_email.id"
        )
        key = f"scheduled_email:{se_id}"  # without an event id: at most one open per send
    lead_id = (await _bison_lead(session, event)).lead_id
    await leads.count_lead_event(
        session, event.workspace_id, lead_id, LeadEventKind.OPEN, key, _event_time(event)
    )
    return EventOutcome(lead_id=lead_id)


def _unsubscribe_key(event: Event, lead_id: int) -> str:
    """The id part of the webhook's dedupe key; an event stored without ``data.lead.id``
    (not one ingestion accepts today) counts once per lead."""
    try:
        return id_part(event.event_type, event.payload, event.received_at)
    except InvalidInput:
        return f"replydesk_lead:{lead_id}"


async def _bison_unsubscribed(session: AsyncSession, event: Event) -> EventOutcome:
    """LEAD_UNSUBSCRIBED: status unsubscribed, one timeline event per webhook dedupe key,
    category unsubscribe (source provider, unless an operator set one)."""
    lead_id = (await _bison_lead(session, event)).lead_id
    at = _event_time(event)
    await leads.record_unsubscribe(
        session, event.workspace_id, lead_id, _unsubscribe_key(event, lead_id), occurred_at=at
    )
    await leads.set_category(
        session,
        event.workspace_id,
        lead_id,
        LeadCategory.UNSUBSCRIBE,
        source=CategorySource.PROVIDER,
        at=at,
    )
    return EventOutcome(lead_id=lead_id)


def lead_key(payload: Mapping[str, Any]) -> str:
    email = get_path(payload, "data.lead.email") or get_path(
        payload, "data.reply.from_email_address"
    )
    return f"e:{str(email or '').strip().lower()}"


# Message events: planned, so a group of them is applied set-based (integrations.planning).
PLANNERS: dict[str, Planner] = {
    "EMAIL_SENT": _plan_sent,
    "LEAD_FIRST_CONTACTED": _plan_sent,
    "MANUAL_EMAIL_SENT": _plan_manual,
    "LEAD_REPLIED": _plan_reply,
    "LEAD_INTERESTED": _plan_reply,
    "UNTRACKED_REPLY_RECEIVED": _plan_reply,
}
HANDLERS: dict[str, EventHandler] = {
    **{event_type: planned(planner) for event_type, planner in PLANNERS.items()},
    "EMAIL_BOUNCED": _bison_bounced,
    "EMAIL_OPENED": _bison_opened,
    "LEAD_UNSUBSCRIBED": _bison_unsubscribed,
}
