"""What a drafted reply is written from: the lead's profile and the newest part of its
thread (public reads of the leads domain; statements in ``context_repository``). Bounded:
at most ``limit`` messages of at most ``chars`` characters each."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.leads import context_repository as sql


@dataclass(frozen=True)
class ThreadMessage:
    id: int
    channel: str
    direction: str
    sent_by: str
    subject: str | None
    occurred_at: datetime
    text: str


@dataclass(frozen=True)
class LeadContext:
    lead_id: int
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    status: str
    category: str | None
    category_confidence: float | None
    unsubscribed: bool
    last_inbound_at: datetime | None
    thread: list[ThreadMessage]  # oldest first


async def lead_context(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    until: datetime,
    *,
    limit: int = 8,
    chars: int = 2000,
) -> LeadContext | None:
    params = {"ws": workspace_id, "lead_id": lead_id}
    lead = (await session.execute(sql.LEAD_PROFILE, params)).one_or_none()
    if lead is None:
        return None
    rows = await session.execute(
        sql.THREAD, {**params, "until": until, "limit": limit, "chars": chars}
    )
    thread = [
        ThreadMessage(
            r.id, r.channel, r.direction, r.sent_by, r.subject, r.occurred_at, r.text or ""
        )
        for r in rows
    ]
    thread.reverse()
    return LeadContext(
        lead.id,
        lead.first_name,
        lead.last_name,
        lead.company,
        lead.title,
        lead.status,
        lead.category,
        lead.category_confidence,
        bool(lead.unsubscribed),
        lead.last_inbound_at,
        thread,
    )


async def lead_exists(session: AsyncSession, workspace_id: uuid.UUID, lead_id: int) -> bool:
    params = {"ws": workspace_id, "lead_id": lead_id}
    return (await session.execute(sql.LEAD_EXISTS, params)).first() is not None


@dataclass(frozen=True)
class ScoreFacts:
    """What a lead score is computed from (one short read)."""

    lead_id: int
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    status: str
    category: str | None
    category_confidence: float | None
    unsubscribed: bool
    last_inbound_at: datetime | None
    inbound_count: int  # capped at 100


async def score_facts(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> ScoreFacts | None:
    params = {"ws": workspace_id, "lead_id": lead_id}
    row = (await session.execute(sql.SCORE_FACTS, params)).one_or_none()
    if row is None:
        return None
    return ScoreFacts(
        row.id,
        row.first_name,
        row.last_name,
        row.company,
        row.title,
        row.status,
        row.category,
        row.category_confidence,
        bool(row.unsubscribed),
        row.last_inbound_at,
        int(row.inbound_count),
    )


async def set_score(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    score: int,
    reasons: list[str],
    source: str,
    message_id: int,
) -> bool:
    """Store the lead's score (the leads domain writes leads); False when a score computed
    after a newer inbound message is already stored, or the lead is gone."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "score": score,
        "reasons": json.dumps(reasons),
        "source": source,
        "message_id": message_id,
    }
    return (await session.execute(sql.SET_SCORE, params)).first() is not None
