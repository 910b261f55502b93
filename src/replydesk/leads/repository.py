"""Every statement that writes leads, messages, lead events, notes, tags and read marks (the
leads domain owns them).

Identity claims are ``INSERT … ON CONFLICT`` on ``lead_identities``' unique key, never
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
from replydesk.leads.vocabulary import (
    STATUS_RANK,
    TEAM_SENDERS,
    WEAK_CATEGORIES,
    CategorySource,
    Channel,
    Direction,
    IdentityKind,
    LeadCategory,
    LeadEventKind,
    LeadStatus,
    MessageStatus,
    SentBy,
)

MESSAGE_KEYS = (
    "emailbison_reply_id",
    "emailbison_scheduled_email_id",
    "ghl_message_id",
    "unipile_message_id",
)
COUNTERS = {LeadEventKind.OPEN: "open_count", LeadEventKind.BOUNCE: "bounce_count"}

# Lead identity columns (display values) filled from the identities a lead holds.
IDENTITY_COLUMNS = {
    IdentityKind.EMAIL: "email",
    IdentityKind.PHONE: "phone_e164",
    IdentityKind.LINKEDIN_ID: "linkedin_provider_id",
    IdentityKind.LINKEDIN_URL: "linkedin_profile_url",
    IdentityKind.GHL_CONTACT: "ghl_contact_id",
    IdentityKind.EMAILBISON_LEAD: "emailbison_lead_id",
}
_PROFILE_COLUMNS = ("first_name", "last_name", "company", "title")
# Identity values are text; the EmailBison lead id column is a bigint.
_CASTS = {"emailbison_lead_id": "CAST(CAST(:emailbison_lead_id AS text) AS bigint)"}
_ALL_COLUMNS = (*IDENTITY_COLUMNS.values(), *_PROFILE_COLUMNS)
# For the set-based statements (group_repository): every column a lead is filled from.
PROFILE_COLUMNS, LEAD_FILL_COLUMNS = _PROFILE_COLUMNS, _ALL_COLUMNS

FIND_IDENTITIES = statement(
    """
    SELECT i.id, i.kind, i.value, i.lead_id FROM lead_identities i
    JOIN unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS k(kind, value)
      ON i.kind = k.kind AND i.value = k.value
    WHERE i.workspace_id = :ws
    """
)
# A lead's identities (per-lead sync), and whether the lead exists in the workspace.
LEAD_IDENTITIES = statement(
    """
    SELECT l.id AS lead_id, i.kind, i.value FROM leads l
    LEFT JOIN lead_identities i ON i.lead_id = l.id AND i.workspace_id = l.workspace_id
    WHERE l.workspace_id = :ws AND l.id = :lead
    ORDER BY i.id
    """
)
# The Unipile chats of the lead's LinkedIn identities (what a lead sync pulls), oldest first.
LINKEDIN_CHATS = statement(
    "SELECT value, unipile_chat_id FROM lead_identities "
    f"WHERE workspace_id = :ws AND lead_id = :lead AND kind = '{IdentityKind.LINKEDIN_ID}' "
    "AND unipile_chat_id IS NOT NULL ORDER BY id"
)
# Claimed in (kind, value) order, so concurrent events wait on each other's keys in one
# global order; a key another lead holds is skipped (DO NOTHING) and read back by the caller.
CLAIM_IDENTITIES = statement(
    """
    INSERT INTO lead_identities (workspace_id, lead_id, kind, value)
    SELECT :ws, :lead_id, k.kind, k.value
    FROM unnest(CAST(:kinds AS text[]), CAST(:values AS text[])) AS k(kind, value)
    ORDER BY k.kind, k.value
    ON CONFLICT (workspace_id, kind, value) DO NOTHING
    RETURNING id, kind, value, lead_id
    """
)
INSERT_LEAD = statement(
    f"""
    INSERT INTO leads (workspace_id, untracked, {", ".join(_ALL_COLUMNS)})
    VALUES (:ws, :untracked, {", ".join(_CASTS.get(c, ":" + c) for c in _ALL_COLUMNS)})
    RETURNING id
    """
)
# Locks the lead for the rest of the event (None: it was merged away meanwhile).
FILL_PROFILE = statement(
    f"UPDATE leads SET {', '.join(f'{c} = coalesce({c}, :{c})' for c in _PROFILE_COLUMNS)}, "
    "untracked = untracked AND :untracked WHERE id = :id AND workspace_id = :ws RETURNING id"
)
_FILLED_IDENTITIES = ", ".join(
    f"{c} = coalesce({c}, {_CASTS.get(c, ':' + c)})" for c in IDENTITY_COLUMNS.values()
)
FILL_IDENTITY_COLUMNS = statement(
    f"UPDATE leads SET {_FILLED_IDENTITIES} WHERE id = :id AND workspace_id = :ws"
)

# Rollups are a pure function of the stored message (direction, sender, time, channel), so
# folding a message in twice, or messages in any order, gives the same lead. Campaign and
# system sends never count as the team answering (TEAM_SENDERS), nor does a reply of ours
# that failed (it returns the lead to "requires attention").
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
            AND m.status <> '{MessageStatus.FAILED}'
        THEN greatest(l.last_team_outbound_at, m.occurred_at)
        ELSE l.last_team_outbound_at END,
    last_message_at = greatest(l.last_message_at, m.occurred_at)
"""
_MESSAGE_COLUMNS = "id, lead_id, channel, direction, sent_by, occurred_at, status"

_INSERT_MESSAGE = """
WITH m AS (
    INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, subject,
                          body, body_html, body_text, body_visible, occurred_at, identity_id,
                          {col})
    VALUES (:ws, :lead_id, :channel, :direction, :sent_by, :subject, :body, :body_html,
            :body_text, :body_visible, :at, :identity_id, :key)
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

# --- our replies (outbound messages the team writes in ReplyDesk) ---------------------------

# The identity a reply travels through, per channel (its first identity of that kind).
REPLY_IDENTITY = {
    Channel.EMAIL: IdentityKind.EMAIL,
    Channel.SMS: IdentityKind.PHONE,
    Channel.LINKEDIN: IdentityKind.LINKEDIN_ID,
}
# A new reply: queued, folded into the rollups at once (the team answered: the lead leaves
# "requires attention"). With an Idempotency-Key a repeat inserts nothing (ON CONFLICT) and
# the caller reads the stored one.
INSERT_REPLY = statement(
    f"""
    WITH m AS (
        INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, subject,
                              body, body_text, body_visible, occurred_at, identity_id,
                              status, idempotency_key, answers_message_id)
        SELECT :ws, l.id, :channel, '{Direction.OUTBOUND}', '{SentBy.TEAM}', :subject,
               :body, :body, :body, now(),
               (SELECT i.id FROM lead_identities i
                 WHERE i.lead_id = l.id AND i.kind = :identity_kind ORDER BY i.id LIMIT 1),
               '{MessageStatus.QUEUED}', :idempotency_key, CAST(:answers AS bigint)
          FROM leads l WHERE l.id = :lead_id AND l.workspace_id = :ws
        ON CONFLICT (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL
            DO NOTHING
        RETURNING {_MESSAGE_COLUMNS}
    ), rollup AS (
        UPDATE leads AS l SET {_ROLLUPS} FROM m WHERE l.id = m.lead_id
    )
    SELECT id FROM m
    """
)
# The lead's newest inbound message (what a manual reply answers).
NEWEST_INBOUND = statement(
    f"SELECT id FROM messages WHERE lead_id = :lead_id AND workspace_id = :ws "
    f"AND direction = '{Direction.INBOUND}' ORDER BY occurred_at DESC, id DESC LIMIT 1"
)
# The reply that answers an inbound message (failed ones do not count): the unique key's row.
ANSWERED_BY = statement(
    f"SELECT id FROM messages WHERE workspace_id = :ws AND answers_message_id = :answers "
    f"AND status <> '{MessageStatus.FAILED}'"
)
# A reply as the API shows it (the inbox's message columns).
REPLY_MESSAGE = statement(
    "SELECT id, channel, direction, sent_by, subject, body, body_html, body_text, "
    "body_visible, occurred_at, status, failure_category, failure_message, unknown_delivery "
    "FROM messages WHERE id = :id AND workspace_id = :ws"
)
REPLY_ADDRESSES = statement(
    "SELECT email, phone_e164, linkedin_provider_id FROM leads "
    "WHERE id = :lead_id AND workspace_id = :ws"
)
REPLY_BY_IDEMPOTENCY_KEY = statement(
    "SELECT id, lead_id, channel FROM messages "
    "WHERE workspace_id = :ws AND idempotency_key = :idempotency_key"
)
_SEND_COLUMNS = (
    "m.id, m.lead_id, m.channel, m.subject, m.body, m.status, m.send_started_at, "
    "m.send_holds, m.created_at, l.email, l.phone_e164, l.linkedin_provider_id, "
    "l.ghl_contact_id, l.first_name, l.last_name, l.company"
)
# What a send job needs, in one short read.
SEND_SUBJECT = statement(
    f"SELECT {_SEND_COLUMNS} FROM messages m JOIN leads l ON l.id = m.lead_id "
    "WHERE m.id = :id AND m.workspace_id = :ws"
)
# The newest EmailBison reply of the lead (what an e-mail reply answers in its thread).
LATEST_EMAIL_REPLY = statement(
    f"""
    SELECT emailbison_reply_id FROM messages
     WHERE lead_id = :lead_id AND workspace_id = :ws AND channel = '{Channel.EMAIL}'
       AND direction = '{Direction.INBOUND}' AND emailbison_reply_id IS NOT NULL
     ORDER BY occurred_at DESC, id DESC LIMIT 1
    """
)
# Before the call leaves (its own short transaction): only a queued message with no send in
# flight is claimed, so two runs of the job cannot both send.
START_SEND = statement(
    f"UPDATE messages SET send_started_at = now() "
    f"WHERE id = :id AND workspace_id = :ws AND status = '{MessageStatus.QUEUED}' "
    "AND send_started_at IS NULL RETURNING id"
)
# A held send (rate limit, gate, provider error): nothing in flight, one more hold.
HOLD_SEND = statement(
    f"UPDATE messages SET send_started_at = NULL, send_holds = send_holds + 1, "
    f"failure_category = :category, failure_message = :message "
    f"WHERE id = :id AND workspace_id = :ws AND status = '{MessageStatus.QUEUED}' "
    "RETURNING send_holds"
)
# The echo of our own send may have been stored first (its webhook won the race): that row
# goes, its provider id moves to our message. Only an outbound row of the same lead and
# channel that is not one of our replies is ever removed.
DROP_ECHO = {
    col: statement(
        f"DELETE FROM messages WHERE workspace_id = :ws AND {col} = :key AND id <> :id "
        f"AND lead_id = :lead_id AND channel = :channel "
        f"AND direction = '{Direction.OUTBOUND}' AND idempotency_key IS NULL "
        f"AND status = '{MessageStatus.RECEIVED}' RETURNING id"
    )
    for col in MESSAGE_KEYS
}
MARK_SENT = {
    col: statement(
        f"UPDATE messages SET status = '{MessageStatus.SENT}', {col} = :key, "
        "send_started_at = NULL, failure_category = NULL, failure_message = NULL, "
        "unknown_delivery = false "
        f"WHERE id = :id AND workspace_id = :ws AND status = '{MessageStatus.QUEUED}' "
        "RETURNING id"
    )
    for col in MESSAGE_KEYS
}
# The chat Unipile answered for our own LinkedIn reply, on the identity we sent to.
RECORD_LINKEDIN_CHAT = statement(
    "UPDATE lead_identities SET unipile_chat_id = :chat "
    f"WHERE workspace_id = :ws AND kind = '{IdentityKind.LINKEDIN_ID}' AND value = :value "
    "AND unipile_chat_id IS DISTINCT FROM CAST(:chat AS text)"
)
MARK_SENT_WITHOUT_ID = statement(
    f"UPDATE messages SET status = '{MessageStatus.SENT}', send_started_at = NULL, "
    "failure_category = NULL, failure_message = NULL, unknown_delivery = false "
    f"WHERE id = :id AND workspace_id = :ws AND status = '{MessageStatus.QUEUED}' "
    "RETURNING id"
)
MARK_FAILED = statement(
    f"UPDATE messages SET status = '{MessageStatus.FAILED}', send_started_at = NULL, "
    "failure_category = :category, failure_message = :message, "
    "unknown_delivery = :unknown_delivery "
    f"WHERE id = :id AND workspace_id = :ws AND status = '{MessageStatus.QUEUED}' "
    "RETURNING lead_id"
)
# A failed reply no longer counts as the team answering: the newest team answer is
# recomputed from the lead's other messages (one index range of one lead).
REFOLD_TEAM_OUTBOUND = statement(
    f"""
    UPDATE leads l SET last_team_outbound_at = (
        SELECT max(occurred_at) FROM messages
         WHERE workspace_id = :ws AND lead_id = l.id AND direction = '{Direction.OUTBOUND}'
           AND sent_by IN {sql_values(TEAM_SENDERS)} AND status <> '{MessageStatus.FAILED}')
     WHERE l.id = :lead_id AND l.workspace_id = :ws
    """
)
QUARANTINE = statement(
    """
    INSERT INTO lead_channel_quarantines (workspace_id, lead_id, channel, reason, message_id)
    SELECT :ws, id, :channel, :reason, :message_id FROM leads
     WHERE id = :lead_id AND workspace_id = :ws
    ON CONFLICT (workspace_id, message_id) WHERE message_id IS NOT NULL DO NOTHING
    RETURNING id
    """
)
LIFT_QUARANTINE = statement(
    "UPDATE lead_channel_quarantines SET lifted_at = now(), lifted_by_user_id = :actor "
    "WHERE lead_id = :lead_id AND workspace_id = :ws AND channel = :channel "
    "AND lifted_at IS NULL RETURNING id"
)
# Each channel's newest standing quarantine (at most one row per channel).
CHANNEL_QUARANTINES = statement(
    """
    SELECT DISTINCT ON (channel) channel, reason, created_at FROM lead_channel_quarantines
     WHERE lead_id = :lead_id AND workspace_id = :ws AND lifted_at IS NULL
     ORDER BY channel, created_at DESC, id DESC
    """
)

_STATUS_CASES = " ".join(f"WHEN '{s}' THEN {r}" for s, r in STATUS_RANK.items())
RAISE_STATUS = statement(
    f"UPDATE leads SET status = :status, updated_at = now() "
    f"WHERE id = :id AND workspace_id = :ws AND (CASE status {_STATUS_CASES} ELSE 0 END) < :rank "
    "RETURNING id"
)

# An automatic category (provider signal, rules, AI). Never over an operator's (manual);
# the newest message wins whatever order the jobs run in, except that a weak category
# (out_of_office, other) never replaces a substantive one: the final category is that of the
# newest substantive message, else of the newest weak one. A repeat matches nothing.
_WEAK = sql_values(WEAK_CATEGORIES)
SET_AUTOMATIC_CATEGORY = statement(
    f"""
    UPDATE leads SET category = CAST(:category AS text), category_source = CAST(:source AS text),
           category_confidence = CAST(:confidence AS double precision),
           category_at = CAST(:at AS timestamptz),
           category_message_id = CAST(:message_id AS bigint), updated_at = now()
     WHERE id = :id AND workspace_id = :ws
       AND category_source IS DISTINCT FROM '{CategorySource.MANUAL}'
       AND (category IS NULL
            OR (NOT CAST(:weak AS boolean)
                AND (category IN {_WEAK} OR category_at IS NULL
                     OR CAST(:at AS timestamptz) >= category_at))
            OR (CAST(:weak AS boolean) AND category IN {_WEAK}
                AND (category_at IS NULL OR CAST(:at AS timestamptz) >= category_at)))
       AND (category, category_source, category_confidence, category_at, category_message_id)
           IS DISTINCT FROM (CAST(:category AS text), CAST(:source AS text),
                             CAST(:confidence AS double precision), CAST(:at AS timestamptz),
                             CAST(:message_id AS bigint))
    RETURNING id
    """
)
# The newest auto-reply's time and its return date (an older one changes nothing).
RECORD_OUT_OF_OFFICE = statement(
    """
    UPDATE leads SET
        out_of_office_until = CAST(:until AS date),
        out_of_office_at = CAST(:at AS timestamptz), updated_at = now()
     WHERE id = :id AND workspace_id = :ws
       AND (out_of_office_at IS NULL OR CAST(:at AS timestamptz) > out_of_office_at
            OR (CAST(:at AS timestamptz) = out_of_office_at
                AND out_of_office_until IS DISTINCT FROM CAST(:until AS date)))
    RETURNING id
    """
)
IS_UNSUBSCRIBED = statement(
    f"SELECT status = '{LeadStatus.UNSUBSCRIBED}' OR category = '{LeadCategory.UNSUBSCRIBE}' "
    "FROM leads WHERE id = :id AND workspace_id = :ws"
)
INBOUND_MESSAGE = statement(
    "SELECT id, lead_id, channel, direction, subject, body, body_html, body_text, body_visible, "
    "occurred_at FROM messages WHERE id = :id AND workspace_id = :ws"
)
INSERT_OVERRIDE = statement(
    """
    INSERT INTO category_overrides (workspace_id, lead_id, message_id, automatic_category,
                                    automatic_source, automatic_confidence, manual_category,
                                    actor_user_id)
    VALUES (:ws, :lead_id, :message_id, :automatic_category, :automatic_source,
            :automatic_confidence, :manual_category, :actor)
    """
)
STAMP_CATEGORY = statement(
    "UPDATE leads SET category_at = now() WHERE id = :id AND workspace_id = :ws"
)

_COUNT_LEAD_EVENT = """
WITH ins AS (
    INSERT INTO lead_events (workspace_id, lead_id, kind, external_id, occurred_at)
    VALUES (:ws, :lead_id, :kind, :external_id, coalesce(:at, now()))
    ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
    RETURNING lead_id
)
UPDATE leads SET {counter} = {counter} + 1
WHERE workspace_id = :ws AND id IN (SELECT lead_id FROM ins) RETURNING id
"""
COUNT_LEAD_EVENT = {
    kind: statement(_COUNT_LEAD_EVENT.format(counter=counter)) for kind, counter in COUNTERS.items()
}

# A timeline event; with an external id it is inserted once (NULL ids never conflict).
RECORD_EVENT = statement(
    """
    INSERT INTO lead_events (workspace_id, lead_id, kind, external_id, actor_user_id, data,
                             occurred_at)
    SELECT :ws, id, :kind, :external_id, :actor, CAST(:data AS jsonb), coalesce(:at, now())
      FROM leads WHERE id = :lead_id AND workspace_id = :ws
    ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
    RETURNING id
    """
)
# The operator fields before a change, locked so the recorded "from" is what was replaced.
LOCK_OPERATOR_FIELDS = statement(
    "SELECT status, category, category_source, category_confidence, category_message_id, "
    "assignee_user_id FROM leads "
    "WHERE id = :id AND workspace_id = :ws FOR UPDATE"
)

_NOTE_COLUMNS = "id, lead_id, author_user_id, body, created_at, updated_at"
INSERT_NOTE = statement(
    f"INSERT INTO lead_notes (workspace_id, lead_id, author_user_id, body) "
    f"SELECT :ws, id, :author, :body FROM leads WHERE id = :lead_id AND workspace_id = :ws "
    f"RETURNING {_NOTE_COLUMNS}"
)
LOCK_NOTE = statement(
    f"SELECT {_NOTE_COLUMNS} FROM lead_notes "
    "WHERE id = :id AND lead_id = :lead_id AND workspace_id = :ws FOR UPDATE"
)
UPDATE_NOTE = statement(
    f"UPDATE lead_notes SET body = :body, updated_at = now() "
    f"WHERE id = :id AND workspace_id = :ws AND body IS DISTINCT FROM :body "
    f"RETURNING {_NOTE_COLUMNS}"
)
DELETE_NOTE = statement("DELETE FROM lead_notes WHERE id = :id AND workspace_id = :ws")
LIST_NOTES = statement(
    f"SELECT {_NOTE_COLUMNS} FROM lead_notes WHERE lead_id = :lead_id AND workspace_id = :ws "
    "ORDER BY created_at DESC, id DESC LIMIT :limit"
)

_TAG_COLUMNS = "id, name, created_at"
INSERT_TAG = statement(
    f"INSERT INTO tags (workspace_id, name) VALUES (:ws, :name) "
    f"ON CONFLICT (workspace_id, name) DO NOTHING RETURNING {_TAG_COLUMNS}"
)
RENAME_TAG = statement(
    f"UPDATE tags SET name = :name WHERE id = :id AND workspace_id = :ws RETURNING {_TAG_COLUMNS}"
)
TAG_BY_ID = statement(f"SELECT {_TAG_COLUMNS} FROM tags WHERE id = :id AND workspace_id = :ws")
DELETE_TAG = statement("DELETE FROM tags WHERE id = :id AND workspace_id = :ws RETURNING id")
LIST_TAGS = statement(
    f"SELECT {_TAG_COLUMNS} FROM tags WHERE workspace_id = :ws ORDER BY name LIMIT :limit"
)
LEAD_TAGS = statement(
    "SELECT t.id, t.name, t.created_at FROM lead_tags lt JOIN tags t ON t.id = lt.tag_id "
    "WHERE lt.lead_id = :lead_id AND lt.workspace_id = :ws ORDER BY t.name LIMIT :limit"
)
ATTACH_TAG = statement(
    "INSERT INTO lead_tags (lead_id, tag_id, workspace_id) "
    "SELECT l.id, t.id, :ws FROM leads l, tags t "
    "WHERE l.id = :lead_id AND l.workspace_id = :ws AND t.id = :tag_id AND t.workspace_id = :ws "
    "ON CONFLICT (workspace_id, lead_id, tag_id) DO NOTHING"
)
DETACH_TAG = statement(
    "DELETE FROM lead_tags WHERE lead_id = :lead_id AND tag_id = :tag_id AND workspace_id = :ws"
)

# Read up to the lead's newest inbound message; a lead without one cannot be unread.
MARK_READ = statement(
    """
    INSERT INTO lead_reads (lead_id, user_id, workspace_id, read_at)
    SELECT id, :user_id, :ws, last_inbound_at FROM leads
     WHERE id = :lead_id AND workspace_id = :ws AND last_inbound_at IS NOT NULL
    ON CONFLICT (workspace_id, user_id, lead_id) DO UPDATE SET read_at = EXCLUDED.read_at
    """
)
MARK_UNREAD = statement(
    "DELETE FROM lead_reads WHERE user_id = :user_id AND lead_id = :lead_id AND workspace_id = :ws"
)


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


# Snoozes whose time has passed, oldest first, a bounded batch (ix_leads_snooze_wake); a
# lead an operator is changing right now is left for the next run. The outer WHERE
# re-checks the row it locked. Clearing the flag is the change the inbox counter triggers
# count (migration 0014).
WAKE_SNOOZED = statement(
    """
    UPDATE leads SET snooze_active = false
     WHERE id IN (SELECT id FROM leads
                   WHERE snooze_active AND snoozed_until <= now()
                   ORDER BY snoozed_until LIMIT :limit
                   FOR UPDATE SKIP LOCKED)
       AND snooze_active AND snoozed_until <= now()
    """
)


async def wake_snoozed(session: AsyncSession, limit: int) -> int:
    result = await session.execute(WAKE_SNOOZED, {"limit": limit})
    return int(getattr(result, "rowcount", 0) or 0)
