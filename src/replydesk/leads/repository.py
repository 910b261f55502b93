"""Every statement that writes leads, messages and lead events (the leads domain owns them).

Lead identity writes are ``INSERT … ON CONFLICT`` on the per-workspace identity indexes, never
find-then-create; messages are keyed by their provider id. Statements that differ only by the
message key column are rendered once per column (a closed set) through ``core.sql.statement``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.sql import sql_values, statement
from replydesk.leads.models import Lead
from replydesk.leads.vocabulary import STATUS_RANK, TEAM_SENDERS, Direction, LeadEventKind

MESSAGE_KEYS = (
    "emailbison_reply_id",
    "emailbison_scheduled_email_id",
    "ghl_message_id",
    "unipile_message_id",
)
COUNTERS = {LeadEventKind.OPEN: "open_count", LeadEventKind.BOUNCE: "bounce_count"}

UPSERT_BY_EMAIL = statement(
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

UPSERT_BY_LINKEDIN = statement(
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

INSERT_GHL_LEAD = statement(
    "INSERT INTO leads (workspace_id, ghl_contact_id, phone_e164) "
    "VALUES (:ws, :contact, :phone) ON CONFLICT DO NOTHING RETURNING id"
)
LOCK_BY_GHL_CONTACT = statement(
    "SELECT id FROM leads WHERE workspace_id = :ws AND ghl_contact_id = :contact FOR UPDATE"
)
ATTACH_PHONE = statement(
    "UPDATE leads SET phone_e164 = :phone WHERE id = :id "
    "AND phone_e164 IS NULL AND NOT EXISTS (SELECT 1 FROM leads "
    "WHERE workspace_id = :ws AND phone_e164 = :phone)"
)
ATTACH_GHL_CONTACT = statement(
    "UPDATE leads SET ghl_contact_id = coalesce(ghl_contact_id, :contact) "
    "WHERE workspace_id = :ws AND phone_e164 = :phone RETURNING id"
)

# Rollups are a pure function of the stored message (direction, sender, time, channel), so
# folding a message in twice, or messages in any order, gives the same lead. Campaign and
# system sends never count as the team answering (TEAM_SENDERS).
_ROLLUPS = f"""
    last_inbound_channel = CASE
        WHEN m.direction = '{Direction.INBOUND}' AND (l.last_inbound_at IS NULL
            OR m.occurred_at > l.last_inbound_at
            OR (m.occurred_at = l.last_inbound_at
                AND m.channel > coalesce(l.last_inbound_channel, '')))
        THEN m.channel ELSE l.last_inbound_channel END,
    last_inbound_at = CASE WHEN m.direction = '{Direction.INBOUND}'
        THEN greatest(l.last_inbound_at, m.occurred_at) ELSE l.last_inbound_at END,
    last_outbound_at = CASE WHEN m.direction = '{Direction.OUTBOUND}'
        THEN greatest(l.last_outbound_at, m.occurred_at) ELSE l.last_outbound_at END,
    last_team_outbound_at = CASE
        WHEN m.direction = '{Direction.OUTBOUND}' AND m.sent_by IN {sql_values(TEAM_SENDERS)}
        THEN greatest(l.last_team_outbound_at, m.occurred_at)
        ELSE l.last_team_outbound_at END,
    last_message_at = greatest(l.last_message_at, m.occurred_at)
"""
_MESSAGE_COLUMNS = "id, lead_id, channel, direction, sent_by, occurred_at"

_INSERT_MESSAGE = """
WITH m AS (
    INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, subject,
                          body, occurred_at, {col})
    VALUES (:ws, :lead_id, :channel, :direction, :sent_by, :subject, :body, :at, :key)
    ON CONFLICT (workspace_id, {col}) WHERE {col} IS NOT NULL DO NOTHING
    RETURNING {columns}
), rollup AS (
    UPDATE leads AS l SET {rollups} FROM m WHERE l.id = m.lead_id
)
SELECT {columns} FROM m
"""

_REFOLD_MESSAGE = """
WITH m AS (SELECT {columns} FROM messages WHERE workspace_id = :ws AND {col} = :key),
rollup AS (
    UPDATE leads AS l SET {rollups} FROM m WHERE l.id = m.lead_id
)
SELECT {columns} FROM m
"""


def _per_key(template: str) -> dict[str, Any]:
    return {
        col: statement(template.format(col=col, columns=_MESSAGE_COLUMNS, rollups=_ROLLUPS))
        for col in MESSAGE_KEYS
    }


# New message: one statement (insert + rollups). Existing one (a replay, a re-delivery, the
# echo of our own send): the rollups are re-applied from the stored row.
INSERT_MESSAGE = _per_key(_INSERT_MESSAGE)
REFOLD_MESSAGE = _per_key(_REFOLD_MESSAGE)

_STATUS_CASES = " ".join(f"WHEN '{s}' THEN {r}" for s, r in STATUS_RANK.items())
RAISE_STATUS = statement(
    f"UPDATE leads SET status = :status, updated_at = now() "
    f"WHERE id = :id AND (CASE status {_STATUS_CASES} ELSE 0 END) < :rank RETURNING id"
)

SET_CATEGORY = statement(
    "UPDATE leads SET category = :category, updated_at = now() "
    "WHERE id = :id AND category IS DISTINCT FROM :category"
)

_COUNT_LEAD_EVENT = """
WITH ins AS (
    INSERT INTO lead_events (workspace_id, lead_id, kind, external_id, occurred_at)
    VALUES (:ws, :lead_id, :kind, :external_id, :at)
    ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
    RETURNING lead_id
)
UPDATE leads SET {counter} = {counter} + 1
WHERE id IN (SELECT lead_id FROM ins) RETURNING id
"""
COUNT_LEAD_EVENT = {
    kind: statement(_COUNT_LEAD_EVENT.format(counter=counter)) for kind, counter in COUNTERS.items()
}


async def scalar(session: AsyncSession, sql: Any, params: dict[str, Any]) -> Any:
    """The first column of the first row, or None."""
    return (await session.execute(sql, params)).scalar_one_or_none()


async def row(session: AsyncSession, sql: Any, params: dict[str, Any]) -> Any:
    return (await session.execute(sql, params)).one_or_none()


async def update_fields(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, values: dict[str, Any]
) -> None:
    """Set operator fields; matches only when a value differs, so a repeat changes nothing
    (not even ``updated_at``)."""
    changed = or_(
        *(getattr(Lead, column).is_distinct_from(value) for column, value in values.items())
    )
    await session.execute(
        update(Lead)
        .where(Lead.id == lead_id, Lead.workspace_id == workspace_id, changed)
        .values(**values, updated_at=func.now())
    )
