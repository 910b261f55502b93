"""Statements of merges, splits and their undoing (the leads domain owns every table here).

Table and column names come from closed sets (``LEAD_OWNED_TABLES``, the ``leads`` model's
columns), never from input.
"""

from __future__ import annotations

from sqlalchemy import TextClause

from replydesk.core.sql import sql_values, statement
from replydesk.leads.models import Lead
from replydesk.leads.repository import IDENTITY_COLUMNS
from replydesk.leads.vocabulary import (
    STATUS_RANK,
    TEAM_SENDERS,
    Direction,
    IdentityKind,
    LeadEventKind,
    MergeKind,
    MessageStatus,
)

# Every table whose rows belong to a lead (each with ``id``, ``workspace_id`` and ``lead_id``):
# a merge moves them to the surviving lead and records their ids, an unmerge moves exactly
# those back. A new lead-owned table with a row id is added here, and only here; the ones
# without (``lead_tags``, ``lead_reads``) are copied by value in ``leads.merge_links``.
LEAD_OWNED_TABLES: tuple[str, ...] = (
    "messages",
    "lead_identities",
    "lead_events",
    "lead_notes",
    "category_overrides",
    "lead_channel_quarantines",
    # Drafts of the lead's replies (automation's table; only their lead moves here).
    "drafts",
    "meetings",
)

# leads columns a merge may fill on the surviving lead from the absorbed one (blanks only),
# plus the operator fields it combines; rollups and counters are recomputed instead.
FILLED_COLUMNS = (
    "email",
    "phone_e164",
    "linkedin_provider_id",
    "linkedin_profile_url",
    "ghl_contact_id",
    "emailbison_lead_id",
    "first_name",
    "last_name",
    "company",
    "title",
    "category",
    "sentiment",
    "assignee_user_id",
)
# The category's companions travel with it: the surviving lead's when it has a category,
# else the absorbed lead's (never a mix of both).
CATEGORY_COLUMNS = ("category_source", "category_confidence", "category_at", "category_message_id")
# Out-of-office: the newer auto-reply's time and return date.
OUT_OF_OFFICE_COLUMNS = ("out_of_office_at", "out_of_office_until")
RESTORED_COLUMNS = (
    *FILLED_COLUMNS,
    *CATEGORY_COLUMNS,
    *OUT_OF_OFFICE_COLUMNS,
    "status",
    "untracked",
)
# Every stored column (the generated awaiting_reply is computed by PostgreSQL).
LEAD_COLUMNS = tuple(c.name for c in Lead.__table__.columns if c.name != "awaiting_reply")


def move_all(table: str) -> TextClause:
    assert table in LEAD_OWNED_TABLES
    return statement(
        f"UPDATE {table} SET lead_id = :to WHERE workspace_id = :ws AND lead_id = :from "
        "RETURNING id"
    )


def move_back(table: str) -> TextClause:
    assert table in LEAD_OWNED_TABLES
    return statement(
        f"UPDATE {table} SET lead_id = :to WHERE workspace_id = :ws AND lead_id = :from "
        "AND id = ANY(CAST(:ids AS bigint[])) RETURNING id"
    )


def set_columns(columns: list[str]) -> TextClause:
    """Set ``columns`` of one lead from a JSON object (typed by the leads row type)."""
    assert set(columns) <= set(LEAD_COLUMNS)
    sets = ", ".join(f"{c} = r.{c}" for c in columns)
    return statement(
        f"UPDATE leads l SET {sets}, updated_at = now() "
        "FROM jsonb_populate_record(NULL::leads, CAST(:row AS jsonb)) AS r "
        "WHERE l.id = :id AND l.workspace_id = :ws"
    )


LOCK_LEADS = statement(
    "SELECT id, to_jsonb(l) - 'awaiting_reply' AS row FROM leads l "
    "WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[])) ORDER BY id FOR UPDATE"
)
LEAD_ROW = statement(
    "SELECT to_jsonb(l) - 'awaiting_reply' FROM leads l WHERE id = :id AND workspace_id = :ws"
)

_RANK = " ".join(f"WHEN '{s}' THEN {r}" for s, r in STATUS_RANK.items())
# Blanks filled, the higher status kept (an unsubscribe of either address stands), untracked
# only if both were.
_ABSORBED = ", ".join(
    [
        *(f"{c} = coalesce(s.{c}, a.{c})" for c in FILLED_COLUMNS),
        *(
            f"{c} = CASE WHEN s.category IS NULL THEN a.{c} ELSE s.{c} END"
            for c in CATEGORY_COLUMNS
        ),
        "out_of_office_until = CASE WHEN a.out_of_office_at > s.out_of_office_at "
        "OR s.out_of_office_at IS NULL THEN coalesce(a.out_of_office_until, s.out_of_office_until) "
        "ELSE s.out_of_office_until END",
        "out_of_office_at = greatest(s.out_of_office_at, a.out_of_office_at)",
        f"status = CASE WHEN (CASE a.status {_RANK} END) > (CASE s.status {_RANK} END) "
        "THEN a.status ELSE s.status END",
        "untracked = s.untracked AND a.untracked",
        "updated_at = now()",
    ]
)
ABSORB_FIELDS = statement(
    f"UPDATE leads s SET {_ABSORBED} FROM leads a "
    "WHERE s.id = :to AND s.workspace_id = :ws AND a.id = :from AND a.workspace_id = :ws"
)

# Rollups and counters from the lead's rows: the same result as folding every message in
# (leads.repository._ROLLUPS: newest inbound wins, ties to the greatest channel name).
RECOMPUTE_ROLLUPS = statement(
    f"""
    UPDATE leads l SET
        last_inbound_at = r.last_inbound_at,
        last_outbound_at = r.last_outbound_at,
        last_team_outbound_at = r.last_team_outbound_at,
        last_message_at = r.last_message_at,
        last_inbound_channel = (
            SELECT channel FROM messages
            WHERE workspace_id = :ws AND lead_id = l.id AND direction = '{Direction.INBOUND}'
            ORDER BY occurred_at DESC, channel DESC LIMIT 1),
        open_count = (SELECT count(*) FROM lead_events
                      WHERE workspace_id = :ws AND lead_id = l.id
                        AND kind = '{LeadEventKind.OPEN}'),
        bounce_count = (SELECT count(*) FROM lead_events
                        WHERE workspace_id = :ws AND lead_id = l.id
                          AND kind = '{LeadEventKind.BOUNCE}')
    FROM (
        SELECT
            max(occurred_at) FILTER (WHERE direction = '{Direction.INBOUND}') AS last_inbound_at,
            max(occurred_at) FILTER (WHERE direction = '{Direction.OUTBOUND}')
                AS last_outbound_at,
            max(occurred_at) FILTER (WHERE direction = '{Direction.OUTBOUND}'
                AND sent_by IN {sql_values(TEAM_SENDERS)}
                AND status <> '{MessageStatus.FAILED}') AS last_team_outbound_at,
            max(occurred_at) AS last_message_at
        FROM messages WHERE workspace_id = :ws AND lead_id = :id
    ) AS r
    WHERE l.id = :id AND l.workspace_id = :ws
    """
)

DELETE_LEAD = statement("DELETE FROM leads WHERE id = :id AND workspace_id = :ws")
RESTORE_LEAD = statement(
    f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) "
    f"SELECT {', '.join(LEAD_COLUMNS)} "
    "FROM jsonb_populate_record(NULL::leads, CAST(:row AS jsonb)) AS r WHERE r.workspace_id = :ws"
)
# A split's new lead: the person's name and company, the identity's display value.
INSERT_SPLIT_LEAD = statement(
    "INSERT INTO leads (workspace_id, first_name, last_name, company, title, untracked) "
    "SELECT workspace_id, first_name, last_name, company, title, untracked FROM leads "
    "WHERE id = :id AND workspace_id = :ws "
    "RETURNING id"
)

# Suggestions of the absorbed lead now concern the surviving one.
MOVE_SUGGESTIONS = statement(
    """
    INSERT INTO lead_merge_suggestions (workspace_id, lead_id, other_lead_id, reason,
                                        identity_kind)
    SELECT workspace_id, least(CAST(:to AS bigint), o), greatest(CAST(:to AS bigint), o),
           reason, identity_kind FROM (
        SELECT workspace_id, reason, identity_kind,
               CASE WHEN lead_id = CAST(:from AS bigint) THEN other_lead_id ELSE lead_id END AS o
        FROM lead_merge_suggestions
        WHERE workspace_id = :ws
          AND (lead_id = CAST(:from AS bigint) OR other_lead_id = CAST(:from AS bigint))) AS s
    WHERE o <> CAST(:to AS bigint)
    ON CONFLICT DO NOTHING
    """
)
STORED_SUGGESTIONS = statement(
    "SELECT CASE WHEN lead_id = :id THEN other_lead_id ELSE lead_id END AS other_lead_id, "
    "reason, identity_kind FROM lead_merge_suggestions "
    "WHERE workspace_id = :ws AND (lead_id = :id OR other_lead_id = :id) "
    "ORDER BY other_lead_id LIMIT :limit"
)
_FULL_NAME = "lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
# Same full name (ix_leads_search_full_name); the caller checks the company signals.
SAME_NAME = statement(
    f"SELECT id, email, company FROM leads WHERE workspace_id = :ws AND id <> :id "
    f"AND {_FULL_NAME} = :name ORDER BY id LIMIT :limit"
)
LEAD_NAME = statement(
    f"SELECT first_name, last_name, email, company, {_FULL_NAME} AS full_name "
    "FROM leads WHERE id = :id AND workspace_id = :ws"
)

INSERT_MERGE = statement(
    """
    INSERT INTO lead_merges (workspace_id, kind, surviving_lead_id, absorbed_lead_id,
                             identity_id, actor_user_id, moved, absorbed_row, surviving_changes)
    VALUES (:ws, :kind, :surviving, :absorbed, :identity_id, :actor, CAST(:moved AS jsonb),
            CAST(:absorbed_row AS jsonb), CAST(:changes AS jsonb))
    RETURNING *
    """
)
LOCK_MERGE = statement("SELECT * FROM lead_merges WHERE id = :id AND workspace_id = :ws FOR UPDATE")
MARK_UNDONE = statement(
    "UPDATE lead_merges SET undone_at = now(), undone_by_user_id = :actor "
    "WHERE id = :id AND workspace_id = :ws RETURNING *"
)
# A merge's own timeline entries (``data.merge_id``), wherever later merges moved them.
DELETE_MERGE_EVENTS = statement(
    f"DELETE FROM lead_events WHERE workspace_id = :ws "
    f"AND kind IN ('{LeadEventKind.MERGE}', '{LeadEventKind.SPLIT}') "
    "AND data ->> 'merge_id' = :merge_id"
)
MERGED_INTO = statement(
    f"SELECT surviving_lead_id FROM lead_merges WHERE workspace_id = :ws "
    f"AND absorbed_lead_id = :id AND kind = '{MergeKind.MERGE}' AND undone_at IS NULL"
)
MERGES_OF = statement(
    "SELECT * FROM lead_merges WHERE workspace_id = :ws "
    "AND (surviving_lead_id = :id OR absorbed_lead_id = :id) ORDER BY id DESC LIMIT :limit"
)
IDENTITIES_OF = statement(
    "SELECT id, kind, value, created_at FROM lead_identities "
    "WHERE workspace_id = :ws AND lead_id = :id ORDER BY kind, value"
)
IDENTITY_OF = statement(
    "SELECT id, kind, value FROM lead_identities "
    "WHERE workspace_id = :ws AND lead_id = :lead_id AND id = :id"
)
MOVE_IDENTITY = statement(
    "UPDATE lead_identities SET lead_id = :to WHERE id = :id AND workspace_id = :ws RETURNING id"
)
MOVE_IDENTITY_MESSAGES = statement(
    "UPDATE messages SET lead_id = :to WHERE workspace_id = :ws AND lead_id = :from "
    "AND identity_id = ANY(CAST(:ids AS bigint[])) RETURNING id"
)


def _display(column: str, kind: IdentityKind) -> str:
    value = (
        "(SELECT min(value) FROM lead_identities "
        f"WHERE workspace_id = l.workspace_id AND lead_id = l.id AND kind = '{kind}')"
    )
    if kind is IdentityKind.LINKEDIN_URL:
        return f"{column} = 'https://www.' || {value}"
    if kind is IdentityKind.EMAILBISON_LEAD:
        return f"{column} = CAST({value} AS bigint)"
    return f"{column} = {value}"


# Display columns from the identities the lead holds now (first value of each kind).
REFRESH_DISPLAY = statement(
    f"UPDATE leads l SET {', '.join(_display(c, k) for k, c in IDENTITY_COLUMNS.items())} "
    "WHERE l.id = :id AND l.workspace_id = :ws"
)

# --- tag links and read marks (no row id: copied on merge, recorded by value) -------------------
COPY_TAGS = statement(
    "INSERT INTO lead_tags (lead_id, tag_id, workspace_id) "
    "SELECT :to, tag_id, workspace_id FROM lead_tags WHERE workspace_id = :ws AND lead_id = :from "
    "ORDER BY tag_id ON CONFLICT (workspace_id, lead_id, tag_id) DO NOTHING RETURNING tag_id"
)
TAGS_OF = statement(
    "SELECT tag_id FROM lead_tags WHERE workspace_id = :ws AND lead_id = :id ORDER BY tag_id"
)
DETACH_TAGS = statement(
    "DELETE FROM lead_tags WHERE workspace_id = :ws AND lead_id = :id "
    "AND tag_id = ANY(CAST(:ids AS bigint[]))"
)
# Tags deleted since are not re-attached.
ATTACH_TAGS = statement(
    "INSERT INTO lead_tags (lead_id, tag_id, workspace_id) "
    "SELECT :id, id, workspace_id FROM tags "
    "WHERE workspace_id = :ws AND id = ANY(CAST(:ids AS bigint[])) ORDER BY id "
    "ON CONFLICT (workspace_id, lead_id, tag_id) DO NOTHING"
)
READS_OF = statement(
    "SELECT user_id, lead_id, read_at FROM lead_reads "
    "WHERE workspace_id = :ws AND lead_id = ANY(CAST(:ids AS bigint[])) ORDER BY user_id, lead_id"
)
# A user deleted since gets no mark back.
SET_READ = statement(
    "INSERT INTO lead_reads (lead_id, user_id, workspace_id, read_at) "
    "SELECT :id, id, :ws, :at FROM users WHERE id = :user_id "
    "ON CONFLICT (workspace_id, user_id, lead_id) DO UPDATE SET read_at = EXCLUDED.read_at"
)
DELETE_READ = statement(
    "DELETE FROM lead_reads WHERE workspace_id = :ws AND lead_id = :id AND user_id = :user_id"
)
