"""Lead matching, message insertion and rollups: every write is idempotent by a unique key.

Leads are matched with ``INSERT … ON CONFLICT`` on their per-workspace identity (e-mail,
phone, LinkedIn provider id, GHL contact id), never find-then-create. Messages are keyed by
their provider id; a message that already exists is not inserted again, but its rollups are
re-applied from the stored row, so replays and out-of-order deliveries converge to the same
lead state (``GREATEST`` is commutative and idempotent).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.queue.errors import RetryableError
from replydesk.queue.store import cached_text as text

# Outbound messages that count as the team answering (campaign/system sends do not).
TEAM_SENDERS = ("team", "ai")
# Status precedence: a lead never moves down this list because of a provider event, so the
# final status does not depend on the order events arrive in.
STATUS_RANK = {"active": 0, "bounced": 1, "unsubscribed": 2, "closed": 3}
MESSAGE_KEYS = (
    "emailbison_reply_id",
    "emailbison_scheduled_email_id",
    "ghl_message_id",
    "unipile_message_id",
)
COUNTERS = {"open": "open_count", "bounce": "bounce_count"}


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
    sql = text(
        """
        INSERT INTO leads (workspace_id, email, first_name, last_name, company, title,
                           emailbison_lead_id, untracked)
        VALUES (:ws, :email, :first_name, :last_name, :company, :title, :eb_id, :untracked)
        ON CONFLICT (workspace_id, email) WHERE email IS NOT NULL DO UPDATE SET
            first_name = coalesce(leads.first_name, EXCLUDED.first_name),
            last_name = coalesce(leads.last_name, EXCLUDED.last_name),
            company = coalesce(leads.company, EXCLUDED.company),
            title = coalesce(leads.title, EXCLUDED.title),
            emailbison_lead_id = coalesce(leads.emailbison_lead_id, EXCLUDED.emailbison_lead_id),
            untracked = leads.untracked AND EXCLUDED.untracked
        RETURNING id
        """
    )
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
    return int((await session.execute(sql, params)).scalar_one())


async def upsert_lead_by_linkedin(
    session: AsyncSession, workspace_id: uuid.UUID, provider_id: str, profile: LeadProfile
) -> int:
    sql = text(
        """
        INSERT INTO leads (workspace_id, linkedin_provider_id, linkedin_profile_url,
                           first_name, last_name)
        VALUES (:ws, :pid, :url, :first_name, :last_name)
        ON CONFLICT (workspace_id, linkedin_provider_id)
            WHERE linkedin_provider_id IS NOT NULL DO UPDATE SET
            linkedin_profile_url = coalesce(leads.linkedin_profile_url,
                                            EXCLUDED.linkedin_profile_url),
            first_name = coalesce(leads.first_name, EXCLUDED.first_name),
            last_name = coalesce(leads.last_name, EXCLUDED.last_name)
        RETURNING id
        """
    )
    params = {
        "ws": workspace_id,
        "pid": provider_id,
        "url": profile.linkedin_profile_url,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
    }
    return int((await session.execute(sql, params)).scalar_one())


async def resolve_ghl_lead(
    session: AsyncSession, workspace_id: uuid.UUID, contact_id: str | None, phone: str | None
) -> int:
    """The lead for a GHL contact: by contact id, then by phone (E.164), else a new lead.

    The insert goes first (``ON CONFLICT DO NOTHING`` on both identities); only when it
    conflicts do we read the existing lead and attach the identity it lacks.
    """
    assert contact_id or phone
    params = {"ws": workspace_id, "contact": contact_id, "phone": phone}
    created = (
        await session.execute(
            text(
                "INSERT INTO leads (workspace_id, ghl_contact_id, phone_e164) "
                "VALUES (:ws, :contact, :phone) ON CONFLICT DO NOTHING RETURNING id"
            ),
            params,
        )
    ).scalar_one_or_none()
    if created is not None:
        return int(created)
    if contact_id:
        by_contact = (
            await session.execute(
                text(
                    "SELECT id FROM leads WHERE workspace_id = :ws AND ghl_contact_id = :contact "
                    "FOR UPDATE"
                ),
                params,
            )
        ).scalar_one_or_none()
        if by_contact is not None:
            if phone:
                await session.execute(
                    text(
                        "UPDATE leads SET phone_e164 = :phone WHERE id = :id "
                        "AND phone_e164 IS NULL AND NOT EXISTS (SELECT 1 FROM leads "
                        "WHERE workspace_id = :ws AND phone_e164 = :phone)"
                    ),
                    {**params, "id": by_contact},
                )
            return int(by_contact)
    if phone:
        by_phone = (
            await session.execute(
                text(
                    "UPDATE leads SET ghl_contact_id = coalesce(ghl_contact_id, :contact) "
                    "WHERE workspace_id = :ws AND phone_e164 = :phone RETURNING id"
                ),
                params,
            )
        ).scalar_one_or_none()
        if by_phone is not None:
            return int(by_phone)
    # The conflicting row belonged to a transaction that has since rolled back.
    raise RetryableError("GHL lead changed concurrently", category="db_conflict")


@dataclass(frozen=True)
class NewMessage:
    channel: str
    direction: str
    sent_by: str
    occurred_at: datetime
    key_column: str
    key: int | str
    subject: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    lead_id: int
    channel: str
    direction: str
    sent_by: str
    occurred_at: datetime
    created: bool  # False: it existed (a replay, a re-delivery, or the echo of our own send)


_ROLLUPS = """
    last_inbound_channel = CASE
        WHEN {m}.direction = 'inbound' AND (l.last_inbound_at IS NULL
            OR {m}.occurred_at > l.last_inbound_at
            OR ({m}.occurred_at = l.last_inbound_at
                AND {m}.channel > coalesce(l.last_inbound_channel, '')))
        THEN {m}.channel ELSE l.last_inbound_channel END,
    last_inbound_at = CASE WHEN {m}.direction = 'inbound'
        THEN greatest(l.last_inbound_at, {m}.occurred_at) ELSE l.last_inbound_at END,
    last_outbound_at = CASE WHEN {m}.direction = 'outbound'
        THEN greatest(l.last_outbound_at, {m}.occurred_at) ELSE l.last_outbound_at END,
    last_team_outbound_at = CASE
        WHEN {m}.direction = 'outbound' AND {m}.sent_by IN ('team', 'ai')
        THEN greatest(l.last_team_outbound_at, {m}.occurred_at)
        ELSE l.last_team_outbound_at END,
    last_message_at = greatest(l.last_message_at, {m}.occurred_at)
"""
# Rollups are a pure function of the stored message (direction, sender, time, channel), so
# folding a message in twice, or messages in any order, gives the same lead. Campaign and
# system sends never count as the team answering (TEAM_SENDERS).


async def record_message(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, msg: NewMessage
) -> StoredMessage:
    """Insert the message unless its provider key exists, and fold the stored row into the
    lead's rollups, in the caller's transaction.

    New message: one statement (insert + rollups). Existing message (a replay, a
    re-delivery, the echo of our own send): rollups are re-applied from the stored row.
    """
    col = msg.key_column
    if col not in MESSAGE_KEYS:
        raise ValueError(f"not a message key column: {col}")
    columns = "id, lead_id, channel, direction, sent_by, occurred_at"
    insert = text(
        f"""
        WITH m AS (
            INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, subject,
                                  body, occurred_at, {col})
            VALUES (:ws, :lead_id, :channel, :direction, :sent_by, :subject, :body, :at, :key)
            ON CONFLICT (workspace_id, {col}) WHERE {col} IS NOT NULL DO NOTHING
            RETURNING {columns}
        ), rollup AS (
            UPDATE leads AS l SET {_ROLLUPS.format(m="m")} FROM m WHERE l.id = m.lead_id
        )
        SELECT {columns} FROM m
        """
    )
    params: dict[str, Any] = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "channel": msg.channel,
        "direction": msg.direction,
        "sent_by": msg.sent_by,
        "subject": msg.subject,
        "body": msg.body,
        "at": msg.occurred_at,
        "key": msg.key,
    }
    row = (await session.execute(insert, params)).one_or_none()
    created = row is not None
    if row is None:
        existing = text(
            f"""
            WITH m AS (SELECT {columns} FROM messages WHERE workspace_id = :ws AND {col} = :key),
            rollup AS (
                UPDATE leads AS l SET {_ROLLUPS.format(m="m")} FROM m WHERE l.id = m.lead_id
            )
            SELECT {columns} FROM m
            """
        )
        row = (await session.execute(existing, params)).one_or_none()
        if row is None:
            raise RetryableError("message changed concurrently", category="db_conflict")
    return StoredMessage(
        id=row.id,
        lead_id=row.lead_id,
        channel=row.channel,
        direction=row.direction,
        sent_by=row.sent_by,
        occurred_at=row.occurred_at,
        created=created,
    )


async def raise_status(session: AsyncSession, lead_id: int, status: str) -> bool:
    """Move the lead up to ``status`` (never down the precedence); True when it changed."""
    rank = STATUS_RANK[status]
    cases = " ".join(f"WHEN '{s}' THEN {r}" for s, r in STATUS_RANK.items())
    sql = text(
        f"UPDATE leads SET status = :status, updated_at = now() "
        f"WHERE id = :id AND (CASE status {cases} ELSE 0 END) < :rank RETURNING id"
    )
    params = {"id": lead_id, "status": status, "rank": rank}
    return (await session.execute(sql, params)).scalar_one_or_none() is not None


async def set_category(session: AsyncSession, lead_id: int, category: str) -> None:
    await session.execute(
        text(
            "UPDATE leads SET category = :category, updated_at = now() "
            "WHERE id = :id AND category IS DISTINCT FROM :category"
        ),
        {"id": lead_id, "category": category},
    )


async def count_lead_event(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    kind: str,
    external_id: str,
    occurred_at: datetime | None,
) -> bool:
    """Record the event once and bump its counter only then; True when it was new."""
    counter = COUNTERS[kind]
    sql = text(
        f"""
        WITH ins AS (
            INSERT INTO lead_events (workspace_id, lead_id, kind, external_id, occurred_at)
            VALUES (:ws, :lead_id, :kind, :external_id, :at)
            ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
            RETURNING lead_id
        )
        UPDATE leads SET {counter} = {counter} + 1
        WHERE id IN (SELECT lead_id FROM ins) RETURNING id
        """
    )
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "kind": kind,
        "external_id": external_id,
        "at": occurred_at,
    }
    return (await session.execute(sql, params)).scalar_one_or_none() is not None
