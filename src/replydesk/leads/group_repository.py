"""The set-based statements of ``leads.message_events``: one statement per step for a whole
group of message events (docs/decisions/0018-set-based-group-processing.md).

Every statement takes parallel arrays (``unnest``) and writes rows in an order fixed by the
caller (identities by workspace, kind and value; leads by id; messages and jobs by their
keys), so concurrent groups wait on each other's rows in one global order. Rollups are the
same pure function of the stored messages as ``repository._ROLLUPS``, aggregated per lead
first (an ``UPDATE … FROM`` joins each lead row once).
"""

from __future__ import annotations

from replydesk.core.sql import sql_values, statement
from replydesk.leads.repository import LEAD_FILL_COLUMNS, MESSAGE_KEYS
from replydesk.leads.vocabulary import TEAM_SENDERS, Direction, MessageStatus

# Column types of the message key columns (EmailBison ids are bigints, the others text).
KEY_TYPES = {
    "emailbison_reply_id": "bigint",
    "emailbison_scheduled_email_id": "bigint",
    "ghl_message_id": "text",
    "unipile_message_id": "text",
}
assert set(KEY_TYPES) == set(MESSAGE_KEYS)

FIND_IDENTITIES = statement(
    """
    SELECT i.id, i.workspace_id, i.kind, i.value, i.lead_id FROM lead_identities i
    JOIN unnest(CAST(:ws AS uuid[]), CAST(:kinds AS text[]), CAST(:values AS text[]))
        AS k(ws, kind, value)
      ON i.workspace_id = k.ws AND i.kind = k.kind AND i.value = k.value
    """
)
_LEAD_COLUMNS = ", ".join(("id", "untracked", *LEAD_FILL_COLUMNS))
# The leads the group's events are about, locked in id order (fewer rows: one was merged
# away meanwhile). Their current fields tell the caller whether a fill changes anything.
LOCK_LEADS = statement(
    f"SELECT {_LEAD_COLUMNS} FROM leads "
    "WHERE workspace_id = ANY(CAST(:ws AS uuid[])) AND id = ANY(CAST(:ids AS bigint[])) "
    "ORDER BY id FOR UPDATE"
)


def _arrays(columns: tuple[str, ...]) -> str:
    return ", ".join(f"CAST(:{c} AS text[])" for c in columns)


def _value(column: str, source: str) -> str:
    """A text array element as the lead column's type (the EmailBison lead id is a bigint)."""
    expr = f"{source}.{column}"
    return f"CAST({expr} AS bigint)" if column == "emailbison_lead_id" else expr


# New leads, ids drawn first so each row maps back to its position (``ord``).
INSERT_LEADS = statement(
    f"""
    WITH v AS MATERIALIZED (
        SELECT nextval(pg_get_serial_sequence('leads', 'id')) AS id, u.*
        FROM unnest(CAST(:ws AS uuid[]), CAST(:untracked AS boolean[]),
                    {_arrays(LEAD_FILL_COLUMNS)})
            WITH ORDINALITY AS u(workspace_id, untracked, {", ".join(LEAD_FILL_COLUMNS)}, ord)
    ), ins AS (
        INSERT INTO leads (id, workspace_id, untracked, {", ".join(LEAD_FILL_COLUMNS)})
        SELECT id, workspace_id, untracked, {", ".join(_value(c, "v") for c in LEAD_FILL_COLUMNS)}
        FROM v ORDER BY id
    )
    SELECT id, ord FROM v
    """
)
# Claimed in (workspace, kind, value) order; a key another lead holds is skipped (DO NOTHING)
# and the caller retries the resolution. Rows come back in the order they were inserted.
CLAIM_IDENTITIES = statement(
    """
    INSERT INTO lead_identities (workspace_id, lead_id, kind, value)
    SELECT k.ws, k.lead_id, k.kind, k.value
    FROM unnest(CAST(:ws AS uuid[]), CAST(:lead_ids AS bigint[]), CAST(:kinds AS text[]),
                CAST(:values AS text[])) AS k(ws, lead_id, kind, value)
    ORDER BY k.ws, k.kind, k.value
    ON CONFLICT (workspace_id, kind, value) DO NOTHING
    RETURNING id, workspace_id, kind, value, lead_id
    """
)
# The Unipile chat each event's LinkedIn identity came through (the newest event's wins);
# a row already holding that chat is not written.
RECORD_CHATS = statement(
    """
    UPDATE lead_identities i SET unipile_chat_id = v.chat
    FROM unnest(CAST(:ws AS uuid[]), CAST(:ids AS bigint[]), CAST(:chats AS text[]))
        AS v(ws, id, chat)
    WHERE i.workspace_id = v.ws AND i.id = v.id AND i.unipile_chat_id IS DISTINCT FROM v.chat
    """
)
# Profile and identity columns only fill blanks; ``untracked`` only ever turns false.
_FILLS = ", ".join(f"{c} = coalesce(l.{c}, {_value(c, 'v')})" for c in LEAD_FILL_COLUMNS)
FILL_LEADS = statement(
    f"""
    UPDATE leads l SET {_FILLS}, untracked = l.untracked AND v.untracked
    FROM unnest(CAST(:ids AS bigint[]), CAST(:untracked AS boolean[]),
                {_arrays(LEAD_FILL_COLUMNS)}) AS v(id, untracked, {", ".join(LEAD_FILL_COLUMNS)})
    WHERE l.id = v.id AND l.workspace_id = ANY(CAST(:ws AS uuid[]))
    """
)

_MESSAGE_COLUMNS = (
    "id, workspace_id, lead_id, channel, direction, sent_by, occurred_at, status, "
    + ", ".join(MESSAGE_KEYS)
)
# Per lead: the newest inbound (time, then channel, as the per-message CASE orders them),
# outbound, team answer and message of the rows in ``m``.
_AGGREGATE = f"""
agg AS (
    SELECT workspace_id, lead_id,
        max(occurred_at) FILTER (WHERE direction = '{Direction.INBOUND}') AS in_at,
        (array_agg(channel ORDER BY occurred_at DESC, channel DESC)
            FILTER (WHERE direction = '{Direction.INBOUND}'))[1] AS in_channel,
        max(occurred_at) FILTER (WHERE direction = '{Direction.OUTBOUND}') AS out_at,
        max(occurred_at) FILTER (WHERE direction = '{Direction.OUTBOUND}'
            AND sent_by IN {sql_values(TEAM_SENDERS)}
            AND status <> '{MessageStatus.FAILED}') AS team_at,
        max(occurred_at) AS any_at
    FROM m GROUP BY workspace_id, lead_id
), rollup AS (
    UPDATE leads AS l SET
        last_inbound_channel = CASE
            WHEN a.in_at IS NOT NULL AND (l.last_inbound_at IS NULL
                OR a.in_at > l.last_inbound_at
                OR (a.in_at = l.last_inbound_at
                    AND a.in_channel > coalesce(l.last_inbound_channel, '')))
            THEN a.in_channel ELSE l.last_inbound_channel END,
        last_inbound_at = greatest(l.last_inbound_at, a.in_at),
        last_outbound_at = greatest(l.last_outbound_at, a.out_at),
        last_team_outbound_at = greatest(l.last_team_outbound_at, a.team_at),
        last_message_at = greatest(l.last_message_at, a.any_at)
    FROM agg a WHERE l.id = a.lead_id AND l.workspace_id = a.workspace_id
)
"""
_KEY_ARRAYS = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in KEY_TYPES.items())
# New messages (DO NOTHING on any provider key that exists) and their rollups.
INSERT_MESSAGES = statement(
    f"""
    WITH m AS (
        INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, subject,
                              body, body_html, body_text, body_visible, occurred_at,
                              identity_id, {", ".join(MESSAGE_KEYS)})
        SELECT u.ws, u.lead_id, u.channel, u.direction, u.sent_by, u.subject, u.body,
               u.body_html, u.body_text, u.body_visible, u.at, u.identity_id,
               {", ".join("u." + c for c in MESSAGE_KEYS)}
        FROM unnest(CAST(:ws AS uuid[]), CAST(:lead_ids AS bigint[]),
                    CAST(:channels AS text[]), CAST(:directions AS text[]),
                    CAST(:sent_by AS text[]), CAST(:subjects AS text[]),
                    CAST(:bodies AS text[]), CAST(:bodies_html AS text[]),
                    CAST(:bodies_text AS text[]), CAST(:bodies_visible AS text[]),
                    CAST(:at AS timestamptz[]), CAST(:identity_ids AS bigint[]), {_KEY_ARRAYS})
            WITH ORDINALITY AS u(ws, lead_id, channel, direction, sent_by, subject, body,
                                 body_html, body_text, body_visible, at, identity_id,
                                 {", ".join(MESSAGE_KEYS)}, ord)
        ORDER BY u.ord
        ON CONFLICT DO NOTHING
        RETURNING {_MESSAGE_COLUMNS}
    ), {_AGGREGATE}
    SELECT {_MESSAGE_COLUMNS} FROM m
    """
)


def _existing(col: str) -> str:
    return (
        f"SELECT {_MESSAGE_COLUMNS} FROM messages "
        f"JOIN unnest(CAST(:ws_{col} AS uuid[]), CAST(:{col} AS {KEY_TYPES[col]}[])) "
        f"AS k(ws, key) ON workspace_id = k.ws AND {col} = k.key"
    )


# Messages that existed (a replay, a re-delivery, the echo of our own send, or a second
# event about a message of the group): their stored rows, folded into the rollups again.
REFOLD_MESSAGES = statement(
    f"""
    WITH m AS ({" UNION ALL ".join(_existing(c) for c in MESSAGE_KEYS)}), {_AGGREGATE}
    SELECT {_MESSAGE_COLUMNS} FROM m
    """
)
