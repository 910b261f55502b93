"""One webhook event's payload → leads, messages, rollups and follow-up jobs (no network calls).

``process_event`` is the entry point (the queue handler calls it; tests and replays may too). It
runs in the caller's transaction and is idempotent: processing the same event twice, or a set
of events in any order, leaves the same leads, messages, counters and rollups.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.logging import get_logger
from replydesk.leads import parsing as p
from replydesk.leads.service import (
    LeadProfile,
    NewMessage,
    StoredMessage,
    count_lead_event,
    raise_status,
    record_message,
    resolve_ghl_lead,
    set_category,
    upsert_lead_by_email,
    upsert_lead_by_linkedin,
)
from replydesk.queue.errors import PermanentError
from replydesk.queue.service import enqueue
from replydesk.queue.store import cached_text as text

log = get_logger(__name__)

# Job types enqueued here. Both are recorded no-ops until their features exist (see jobs.py).
FOLLOWUP_START = "followup.start"
INBOUND_POSTPROCESS = "inbound.postprocess"


@dataclass(frozen=True)
class Event:
    workspace_id: uuid.UUID
    provider: str
    event_type: str
    payload: Mapping[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class EventOutcome:
    """What processing did. ``skipped`` (a reason) means nothing was written."""

    skipped: str | None = None
    lead_id: int | None = None
    message_id: int | None = None
    message_created: bool = False


EventHandler = Callable[[AsyncSession, Event], Awaitable[EventOutcome]]


async def process_event(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    provider: str,
    event_type: str,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> EventOutcome:
    """Apply one event in the caller's transaction.

    Raises ``PermanentError`` for a payload that can never be processed (e.g. no lead
    e-mail); returns ``EventOutcome(skipped=…)`` for events with nothing to do.
    """
    if provider == "emailbison":
        event_type = event_type.upper()
    handler = HANDLERS.get((provider, event_type))
    if handler is None:
        return EventOutcome(skipped=f"no handler for {provider} {event_type}")
    event = Event(workspace_id, provider, event_type, payload, received_at or datetime.now(UTC))
    return await handler(session, event)


def lead_identity(provider: str, payload: Mapping[str, Any]) -> str:
    """Which lead an event is about, cheaply and without the database: used only to order
    work so concurrent transactions lock leads in one global order."""
    if provider == "emailbison":
        email = p.get(payload, "data.lead.email") or p.get(payload, "data.reply.from_email_address")
        return f"e:{str(email or '').strip().lower()}"
    if provider == "ghl":
        return f"g:{payload.get('contactId') or payload.get('from') or ''}"
    if provider == "unipile":
        return f"u:{p.get(payload, 'sender.attendee_provider_id') or payload.get('chat_id') or ''}"
    return ""


def _outcome(stored: StoredMessage) -> EventOutcome:
    return EventOutcome(
        lead_id=stored.lead_id, message_id=stored.id, message_created=stored.created
    )


async def _message_job(
    session: AsyncSession, event: Event, stored: StoredMessage, job_type: str, **extra: str
) -> None:
    """Enqueue ``job_type`` for a stored message, once per message (dedupe key)."""
    payload = {"lead_id": stored.lead_id, "message_id": stored.id, **extra}
    await enqueue(
        session, job_type, payload, f"{job_type}:{stored.id}", workspace_id=event.workspace_id
    )


async def _followup_job(session: AsyncSession, event: Event, stored: StoredMessage) -> None:
    await _message_job(session, event, stored, FOLLOWUP_START, sent_by=stored.sent_by)


async def _inbound_job(session: AsyncSession, event: Event, stored: StoredMessage) -> None:
    await _message_job(session, event, stored, INBOUND_POSTPROCESS, channel=stored.channel)


# --- EmailBison --------------------------------------------------------------------------


def _bison_profile(lead: Mapping[str, Any]) -> LeadProfile:
    return LeadProfile(
        first_name=p.text_or_none(lead.get("first_name"), 200),
        last_name=p.text_or_none(lead.get("last_name"), 200),
        company=p.text_or_none(lead.get("company"), 300),
        title=p.text_or_none(lead.get("title"), 300),
        emailbison_lead_id=p.optional_int(lead.get("id")),
    )


async def _bison_lead(session: AsyncSession, event: Event, fallback_path: str | None = None) -> int:
    """The campaign lead (``data.lead``), else the address at ``fallback_path``."""
    lead = p.block(event.payload, "data.lead")
    email = p.email_or_none(lead.get("email"))
    if email is None and fallback_path:
        email = p.email_or_none(p.get(event.payload, fallback_path))
    if email is None:
        where = "data.lead.email" + (f" or {fallback_path}" if fallback_path else "")
        raise PermanentError(f"{event.event_type}: no valid e-mail address in {where}")
    return await upsert_lead_by_email(session, event.workspace_id, email, _bison_profile(lead))


def _reply(event: Event) -> tuple[Mapping[str, Any], int]:
    reply = p.block(event.payload, "data.reply")
    return reply, p.int_id(reply.get("id"), "data.reply.id")


def _reply_time(event: Event, reply: Mapping[str, Any]) -> datetime:
    when = p.first_time(reply.get("date_received"), reply.get("created_at"))
    return when or event.received_at


def _reply_body(reply: Mapping[str, Any]) -> str | None:
    return p.text_or_none(reply.get("text_body")) or p.text_or_none(reply.get("html_body"))


async def _bison_sent(session: AsyncSession, event: Event) -> EventOutcome:
    """EMAIL_SENT / LEAD_FIRST_CONTACTED: a campaign send, keyed by its scheduled e-mail."""
    se = p.block(event.payload, "data.scheduled_email")
    se_id = p.int_id(se.get("id"), "data.scheduled_email.id")
    lead_id = await _bison_lead(session, event)
    when = p.first_time(se.get("sent_at"), p.get(event.payload, "data.campaign_event.created_at"))
    msg = NewMessage(
        channel="email",
        direction="outbound",
        sent_by="campaign",
        occurred_at=when or event.received_at,
        key_column="emailbison_scheduled_email_id",
        key=se_id,
        subject=p.text_or_none(se.get("email_subject"), 2000),
        body=p.text_or_none(se.get("email_body")),
    )
    stored = await record_message(session, event.workspace_id, lead_id, msg)
    await _followup_job(session, event, stored)
    return _outcome(stored)


def _reply_message(
    event: Event, reply: Mapping[str, Any], reply_id: int, *, direction: str, sent_by: str
) -> NewMessage:
    """The message an EmailBison reply object describes, keyed by its reply id."""
    return NewMessage(
        channel="email",
        direction=direction,
        sent_by=sent_by,
        occurred_at=_reply_time(event, reply),
        key_column="emailbison_reply_id",
        key=reply_id,
        subject=p.text_or_none(reply.get("email_subject"), 2000),
        body=_reply_body(reply),
    )


async def _bison_manual(session: AsyncSession, event: Event) -> EventOutcome:
    """MANUAL_EMAIL_SENT: the team wrote to the lead (counts as answering)."""
    reply, reply_id = _reply(event)
    lead_id = await _bison_lead(session, event, "data.reply.primary_to_email_address")
    msg = _reply_message(event, reply, reply_id, direction="outbound", sent_by="team")
    stored = await record_message(session, event.workspace_id, lead_id, msg)
    await _followup_job(session, event, stored)
    return _outcome(stored)


async def _bison_reply(session: AsyncSession, event: Event) -> EventOutcome:
    """LEAD_REPLIED / LEAD_INTERESTED / UNTRACKED_REPLY_RECEIVED: an inbound reply."""
    reply, reply_id = _reply(event)
    if event.event_type == "UNTRACKED_REPLY_RECEIVED":
        # No campaign lead: the sender's address is the lead, created flagged untracked.
        email = p.email_or_none(reply.get("from_email_address"))
        if email is None:
            raise PermanentError("UNTRACKED_REPLY_RECEIVED: no valid data.reply.from_email_address")
        first, last = p.split_name(reply.get("from_name"))
        profile = LeadProfile(first_name=first, last_name=last)
        lead_id = await upsert_lead_by_email(
            session, event.workspace_id, email, profile, untracked=True
        )
    else:
        lead_id = await _bison_lead(session, event, "data.reply.from_email_address")
    msg = _reply_message(event, reply, reply_id, direction="inbound", sent_by="lead")
    stored = await record_message(session, event.workspace_id, lead_id, msg)
    if event.event_type == "LEAD_INTERESTED" or reply.get("interested") is True:
        await set_category(session, stored.lead_id, "interested")
    await _inbound_job(session, event, stored)
    return _outcome(stored)


async def _bison_bounced(session: AsyncSession, event: Event) -> EventOutcome:
    """EMAIL_BOUNCED: status bounced, bounce_count once per bounce (no message is stored:
    a bounce notice is not the lead writing)."""
    _, reply_id = _reply(event)
    lead_id = await _bison_lead(session, event)
    when = p.first_time(p.get(event.payload, "data.campaign_event.created_at"))
    await count_lead_event(
        session, event.workspace_id, lead_id, "bounce", f"reply:{reply_id}", when
    )
    await raise_status(session, lead_id, "bounced")
    return EventOutcome(lead_id=lead_id)


async def _bison_opened(session: AsyncSession, event: Event) -> EventOutcome:
    """EMAIL_OPENED: open_count once per tracked open (campaign_event id)."""
    event_id = p.str_id(p.get(event.payload, "data.campaign_event.id"))
    if event_id is not None:
        key = f"campaign_event:{event_id}"
    else:
        se_id = p.int_id(p.get(event.payload, "data.scheduled_email.id"), "data.scheduled_email.id")
        key = f"scheduled_email:{se_id}"  # without an event id: at most one open per send
    lead_id = await _bison_lead(session, event)
    when = p.first_time(p.get(event.payload, "data.campaign_event.created_at"))
    await count_lead_event(session, event.workspace_id, lead_id, "open", key, when)
    return EventOutcome(lead_id=lead_id)


async def _bison_unsubscribed(session: AsyncSession, event: Event) -> EventOutcome:
    lead_id = await _bison_lead(session, event)
    await raise_status(session, lead_id, "unsubscribed")
    return EventOutcome(lead_id=lead_id)


# --- GoHighLevel (SMS) -------------------------------------------------------------------


def _ghl_fallback_key(payload: Mapping[str, Any]) -> str:
    parts = [str(payload.get(k) or "") for k in ("conversationId", "direction", "dateAdded")]
    parts.append(str(payload.get("body") or ""))
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def _ghl_message(session: AsyncSession, event: Event) -> EventOutcome:
    """InboundMessage / OutboundMessage (SMS only). An OutboundMessage whose messageId we
    already store (our own send coming back) is an echo: nothing new is written."""
    payload = event.payload
    kind = str(payload.get("messageType") or payload.get("messageTypeString") or "")
    if kind.upper() not in ("SMS", "TYPE_SMS"):
        return EventOutcome(skipped=f"GHL {kind or 'untyped'} message: only SMS is handled")
    inbound = event.event_type == "InboundMessage"
    phone = p.phone_e164(payload.get("from" if inbound else "to"))
    contact = p.str_id(payload.get("contactId"))
    if contact is None and phone is None:
        raise PermanentError(f"{event.event_type}: neither contactId nor a valid phone number")
    lead_id = await resolve_ghl_lead(session, event.workspace_id, contact, phone)
    sent_by = "lead" if inbound else ("team" if p.str_id(payload.get("userId")) else "campaign")
    msg = NewMessage(
        channel="sms",
        direction="inbound" if inbound else "outbound",
        sent_by=sent_by,
        occurred_at=p.first_time(payload.get("dateAdded")) or event.received_at,
        key_column="ghl_message_id",
        key=p.str_id(payload.get("messageId")) or _ghl_fallback_key(payload),
        body=p.text_or_none(payload.get("body")),
    )
    stored = await record_message(session, event.workspace_id, lead_id, msg)
    if inbound:
        await _inbound_job(session, event, stored)
    elif not stored.created:
        log.debug("ghl_echo_dropped", message_id=stored.id, workspace_id=str(event.workspace_id))
    return _outcome(stored)


# --- Unipile (LinkedIn) ------------------------------------------------------------------


async def _own_linkedin_ids(session: AsyncSession, event: Event) -> set[str]:
    configured = (
        await session.execute(
            text("SELECT unipile_account_provider_id FROM workspaces WHERE id = :id"),
            {"id": event.workspace_id},
        )
    ).scalar_one_or_none()
    ids = {configured, p.str_id(p.get(event.payload, "account_info.user_id"))}
    return {i for i in ids if i}


def _attendee_profile(attendee: Mapping[str, Any]) -> LeadProfile:
    first, last = p.split_name(attendee.get("attendee_name"))
    url = p.text_or_none(attendee.get("attendee_profile_url"), 1000)
    return LeadProfile(first_name=first, last_name=last, linkedin_profile_url=url)


async def _unipile_message(session: AsyncSession, event: Event) -> EventOutcome:
    """message_received: from the lead (inbound) or, when the sender is the connected account
    itself (sent from another device), the team's own message (outbound)."""
    payload = event.payload
    message_id = p.str_id(payload.get("message_id"))
    if message_id is None:
        raise PermanentError("message_received: message_id is required")
    sender = p.block(payload, "sender")
    sender_id = p.str_id(sender.get("attendee_provider_id"))
    if sender_id is None:
        raise PermanentError("message_received: sender.attendee_provider_id is required")
    own = await _own_linkedin_ids(session, event)
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
    lead_id = await upsert_lead_by_linkedin(
        session, event.workspace_id, lead_pid, _attendee_profile(lead_attendee)
    )
    msg = NewMessage(
        channel="linkedin",
        direction="outbound" if outbound else "inbound",
        sent_by="team" if outbound else "lead",
        occurred_at=p.first_time(payload.get("timestamp")) or event.received_at,
        key_column="unipile_message_id",
        key=message_id,
        body=p.text_or_none(payload.get("message")),
    )
    stored = await record_message(session, event.workspace_id, lead_id, msg)
    if not outbound:
        await _inbound_job(session, event, stored)
    return _outcome(stored)


HANDLERS: dict[tuple[str, str], EventHandler] = {
    ("emailbison", "EMAIL_SENT"): _bison_sent,
    ("emailbison", "LEAD_FIRST_CONTACTED"): _bison_sent,
    ("emailbison", "MANUAL_EMAIL_SENT"): _bison_manual,
    ("emailbison", "LEAD_REPLIED"): _bison_reply,
    ("emailbison", "LEAD_INTERESTED"): _bison_reply,
    ("emailbison", "UNTRACKED_REPLY_RECEIVED"): _bison_reply,
    ("emailbison", "EMAIL_BOUNCED"): _bison_bounced,
    ("emailbison", "EMAIL_OPENED"): _bison_opened,
    ("emailbison", "LEAD_UNSUBSCRIBED"): _bison_unsubscribed,
    ("ghl", "InboundMessage"): _ghl_message,
    ("ghl", "OutboundMessage"): _ghl_message,
    ("unipile", "message_received"): _unipile_message,
}
