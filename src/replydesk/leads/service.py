"""The leads domain's commands: the only code that writes leads, messages and lead events.

Leads are matched with ``INSERT … ON CONFLICT`` on their per-workspace identity (e-mail,
phone, LinkedIn provider id, GHL contact id), never find-then-create. Messages are keyed by
their provider id; a message that already exists is not inserted again, but its rollups are
re-applied from the stored row, so replays and out-of-order deliveries converge to the same
lead state (``GREATEST`` is commutative and idempotent). Every command runs in the caller's
transaction. Provider events (``integrations/``) and operator actions (``inbox/``) both
come through here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import ConcurrentUpdate
from replydesk.leads import repository
from replydesk.leads.bodies import render
from replydesk.leads.repository import MESSAGE_KEYS
from replydesk.leads.vocabulary import STATUS_RANK, JobType, LeadEventKind, LeadStatus
from replydesk.queue.service import enqueue


@dataclass(frozen=True)
class LeadProfile:
    """Descriptive fields: they only fill blanks (the first non-empty value is kept)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    emailbison_lead_id: int | None = None
    linkedin_profile_url: str | None = None


async def upsert_lead_by_email(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    email: str,
    profile: LeadProfile,
    *,
    untracked: bool = False,
) -> int:
    """The lead with this (normalised) e-mail, created if unknown.

    ``untracked`` stays true only while every event about the lead was an untracked reply.
    """
    params = {
        "ws": workspace_id,
        "email": email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "company": profile.company,
        "title": profile.title,
        "eb_id": profile.emailbison_lead_id,
        "untracked": untracked,
    }
    return int(await repository.scalar(session, repository.UPSERT_BY_EMAIL, params))


async def upsert_lead_by_linkedin(
    session: AsyncSession, workspace_id: uuid.UUID, provider_id: str, profile: LeadProfile
) -> int:
    params = {
        "ws": workspace_id,
        "pid": provider_id,
        "url": profile.linkedin_profile_url,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
    }
    return int(await repository.scalar(session, repository.UPSERT_BY_LINKEDIN, params))


async def resolve_ghl_lead(
    session: AsyncSession, workspace_id: uuid.UUID, contact_id: str | None, phone: str | None
) -> int:
    """The lead for a GHL contact: by contact id, then by phone (E.164), else a new lead.

    The insert goes first (``ON CONFLICT DO NOTHING`` on both identities); only when it
    conflicts do we read the existing lead and attach the identity it lacks.
    """
    assert contact_id or phone
    params = {"ws": workspace_id, "contact": contact_id, "phone": phone}
    created = await repository.scalar(session, repository.INSERT_GHL_LEAD, params)
    if created is not None:
        return int(created)
    if contact_id:
        by_contact = await repository.scalar(session, repository.LOCK_BY_GHL_CONTACT, params)
        if by_contact is not None:
            if phone:
                await session.execute(repository.ATTACH_PHONE, {**params, "id": by_contact})
            return int(by_contact)
    if phone:
        by_phone = await repository.scalar(session, repository.ATTACH_GHL_CONTACT, params)
        if by_phone is not None:
            return int(by_phone)
    # The conflicting row belonged to a transaction that has since rolled back.
    raise ConcurrentUpdate("GHL lead changed concurrently")


@dataclass(frozen=True)
class NewMessage:
    channel: str
    direction: str
    sent_by: str
    occurred_at: datetime
    key_column: str
    key: int | str
    subject: str | None = None
    body: str | None = None  # as before: the provider's text, else its HTML
    body_html: str | None = None  # what the provider sent as HTML
    body_text: str | None = None  # what the provider sent as plain text


@dataclass(frozen=True)
class StoredMessage:
    id: int
    lead_id: int
    channel: str
    direction: str
    sent_by: str
    occurred_at: datetime
    created: bool  # False: it existed (a replay, a re-delivery, or the echo of our own send)


async def record_message(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, msg: NewMessage
) -> StoredMessage:
    """Insert the message unless its provider key exists, and fold the stored row into the
    lead's rollups, in the caller's transaction."""
    col = msg.key_column
    if col not in MESSAGE_KEYS:
        raise ValueError(f"not a message key column: {col}")
    rendered = render(msg.channel, msg.body, msg.body_html, msg.body_text)
    params: dict[str, Any] = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "channel": msg.channel,
        "direction": msg.direction,
        "sent_by": msg.sent_by,
        "subject": msg.subject,
        "body": msg.body,
        "body_html": rendered.html,
        "body_text": rendered.text,
        "body_visible": rendered.visible,
        "at": msg.occurred_at,
        "key": msg.key,
    }
    row = await repository.row(session, repository.INSERT_MESSAGE[col], params)
    created = row is not None
    if row is None:
        row = await repository.row(session, repository.REFOLD_MESSAGE[col], params)
        if row is None:
            raise ConcurrentUpdate("message changed concurrently")
    return StoredMessage(**row._mapping, created=created)


async def raise_status(session: AsyncSession, lead_id: int, status: LeadStatus) -> bool:
    """Move the lead up to ``status`` (never down the precedence); True when it changed."""
    params = {"id": lead_id, "status": status.value, "rank": STATUS_RANK[status]}
    return await repository.scalar(session, repository.RAISE_STATUS, params) is not None


async def set_category(session: AsyncSession, lead_id: int, category: str) -> None:
    await session.execute(repository.SET_CATEGORY, {"id": lead_id, "category": category})


async def count_lead_event(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    kind: LeadEventKind,
    external_id: str,
    occurred_at: datetime | None,
) -> bool:
    """Record the event once and bump its counter only then; True when it was new."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "kind": kind.value,
        "external_id": external_id,
        "at": occurred_at,
    }
    return await repository.scalar(session, repository.COUNT_LEAD_EVENT[kind], params) is not None


async def record_timeline_event(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    kind: LeadEventKind,
    *,
    actor_user_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    external_id: str | None = None,
) -> bool:
    """Add an event to the lead's timeline, in the caller's transaction; True when added.

    Any domain may call it (provider events, operator changes, merges). With
    ``external_id`` (a provider event: the id part of its webhook dedupe key) the event is
    recorded once, however often it is delivered; without one every call is an entry.
    ``occurred_at`` defaults to now; ``data`` is JSON (kind-specific, e.g. from/to). A lead
    that is not in the workspace records nothing (False).
    """
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "kind": kind.value,
        "external_id": external_id,
        "actor": actor_user_id,
        "data": json.dumps(data or {}),
        "at": occurred_at,
    }
    return await repository.scalar(session, repository.RECORD_EVENT, params) is not None


# Operator fields whose changes are timeline events (snoozes are not).
_CHANGE_EVENTS = {
    "status": LeadEventKind.STATUS_CHANGE,
    "category": LeadEventKind.CATEGORY_CHANGE,
    "assignee_user_id": LeadEventKind.ASSIGNEE_CHANGE,
}


def _json_value(value: Any) -> str | None:
    return None if value is None else str(value)


async def update_lead(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    values: dict[str, Any],
    *,
    actor_user_id: uuid.UUID | None = None,
) -> None:
    """An operator's change to status, category, snooze or assignee (already validated).
    Idempotent: a repeat changes nothing, not even ``updated_at``, and records no event.
    Each changed status, category or assignee is a timeline event {"from", "to"}."""
    params = {"id": lead_id, "ws": workspace_id}
    before = await repository.row(session, repository.LOCK_OPERATOR_FIELDS, params)
    if before is None:
        return
    await repository.update_fields(session, workspace_id, lead_id, values)
    for column, kind in _CHANGE_EVENTS.items():
        if column not in values:
            continue
        old, new = _json_value(getattr(before, column)), _json_value(values[column])
        if old != new:
            await record_timeline_event(
                session,
                workspace_id,
                lead_id,
                kind,
                actor_user_id=actor_user_id,
                data={"from": old, "to": new},
            )


async def _message_job(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    stored: StoredMessage,
    job_type: JobType,
    **extra: str,
) -> None:
    """Enqueue ``job_type`` for a stored message, once per message (dedupe key)."""
    payload = {"lead_id": stored.lead_id, "message_id": stored.id, **extra}
    await enqueue(
        session, job_type.value, payload, f"{job_type}:{stored.id}", workspace_id=workspace_id
    )


async def start_followup(
    session: AsyncSession, workspace_id: uuid.UUID, stored: StoredMessage
) -> None:
    """An outbound message may start (or stop) a follow-up sequence."""
    await _message_job(
        session, workspace_id, stored, JobType.FOLLOWUP_START, sent_by=stored.sent_by
    )


async def postprocess_inbound(
    session: AsyncSession, workspace_id: uuid.UUID, stored: StoredMessage
) -> None:
    """An inbound message is analysed after it is stored (categorisation, drafts)."""
    await _message_job(
        session, workspace_id, stored, JobType.INBOUND_POSTPROCESS, channel=stored.channel
    )
