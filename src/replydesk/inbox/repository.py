"""Every statement the inbox reads with (and what it writes: the counts cache, recount fixes).

Fixed statements are named ``text()`` constants (the counts statements are hand-written so
their plans stay small index scans); lists are SQLAlchemy Core, built from the filters.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from replydesk.core.errors import NotFound
from replydesk.core.sql import statement
from replydesk.inbox.models import (
    ATTENTION_PREDICATE,
    COUNTED_PREDICATE,
    UNCATEGORIZED,
    UNKNOWN_CHANNEL,
)
from replydesk.ingest.models import WebhookEvent
from replydesk.leads.models import Lead, Message

# Counter rows (inbox_counters, kept by triggers on leads) summed per (channel, category),
# plus the leads whose snooze ended but are not woken yet (ix_leads_snooze_ended: a few
# rows). Neither side grows with the backlog. LEFT JOIN from the lead total so an empty
# backlog still returns one row; zero sums are left out (as groups without leads were).
COUNTS_SQL = statement(
    f"""
    SELECT a.last_inbound_channel, a.category, a.n, t.total_leads
      FROM (SELECT coalesce(sum(lead_count), 0) AS total_leads
              FROM workspace_lead_totals WHERE workspace_id = :ws) AS t
      LEFT JOIN (
            SELECT channel AS last_inbound_channel, category, sum(n) AS n FROM (
                SELECT channel, category, n FROM inbox_counters WHERE workspace_id = :ws
                UNION ALL
                SELECT coalesce(last_inbound_channel, '{UNKNOWN_CHANNEL}'),
                       coalesce(category, '{UNCATEGORIZED}'), 1
                  FROM leads
                 WHERE workspace_id = :ws AND snooze_active AND snoozed_until <= now()
                   AND {ATTENTION_PREDICATE}
            ) AS u
             GROUP BY 1, 2 HAVING sum(n) <> 0
           ) AS a ON true
    """
)

# The attention SLA's breaches: leads requiring attention whose newest inbound message is
# older than the SLA (``:sla_s`` seconds), snoozed ones left out, counted up to ``:cap``.
# Time-based, so no trigger keeps it: one index-only range scan of ix_leads_attention_waiting
# (migration 0018), bounded by the cap and the counts statement budget.
SLA_BREACHED_SQL = statement(
    f"""
    SELECT count(*) FROM (
        SELECT 1 FROM leads
         WHERE workspace_id = :ws AND {ATTENTION_PREDICATE}
           AND last_inbound_at < now() - make_interval(secs => :sla_s)
           AND (snoozed_until IS NULL OR snoozed_until <= now())
         LIMIT :cap
    ) AS breached
    """
)

# The daily digest: how long the longest-waiting lead requiring attention has waited (its
# newest inbound message): the first entry of the workspace in ix_leads_attention_waiting
# that is not snoozed.
OLDEST_WAITING_SQL = statement(
    f"""
    SELECT extract(epoch FROM now() - last_inbound_at) AS waited_s FROM leads
     WHERE workspace_id = :ws AND {ATTENTION_PREDICATE}
       AND (snoozed_until IS NULL OR snoozed_until <= now())
     ORDER BY last_inbound_at LIMIT 1
    """
)

# Workspaces due for today's digest: Slack configured, the UTC hour reached, no digest alert
# recorded for today (the alert outbox's dedupe key, one probe of its unique index each), in
# workspace order, at most :limit. One clock: the database's.
DIGEST_DUE_SQL = statement(
    """
    SELECT c.workspace_id FROM integration_credentials c
     WHERE c.provider = :slack
       AND extract(hour FROM now() AT TIME ZONE 'UTC') >= :hour
       AND NOT EXISTS (
           SELECT 1 FROM alerts a
            WHERE a.dedupe_key = c.workspace_id::text || :infix
                                 || ((now() AT TIME ZONE 'UTC')::date)::text)
     ORDER BY c.workspace_id LIMIT :limit
    """
)

# The reference the counters must equal: the workspace's backlog counted from leads (an
# index-only scan of ix_leads_attention, O(backlog); the counts query before 0014). Used by
# ``replydesk inbox recount`` and the tests, never on a request path.
BACKLOG_COUNTS_SQL = statement(
    f"""
    SELECT coalesce(last_inbound_channel, '{UNKNOWN_CHANNEL}') AS channel,
           coalesce(category, '{UNCATEGORIZED}') AS category, count(*) AS n
      FROM leads
     WHERE workspace_id = :ws AND {ATTENTION_PREDICATE}
       AND (snoozed_until IS NULL OR snoozed_until <= now())
     GROUP BY 1, 2
    """
)

# Recount: the drift between the counter rows and the leads they count (one statement, so
# one snapshot: a writer changes both in one transaction), added to this transaction's own
# slot. Additive, so writers committing meanwhile stay exact. Returns what it fixed.
RECOUNT_SQL = statement(
    f"""
    WITH truth AS (
        SELECT coalesce(last_inbound_channel, '{UNKNOWN_CHANNEL}') AS channel,
               coalesce(category, '{UNCATEGORIZED}') AS category, count(*) AS n
          FROM leads WHERE workspace_id = :ws AND {COUNTED_PREDICATE}
         GROUP BY 1, 2
    ), held AS (
        SELECT channel, category, sum(n) AS n FROM inbox_counters
         WHERE workspace_id = :ws GROUP BY 1, 2
    ), drift AS (
        SELECT channel, category, coalesce(t.n, 0) - coalesce(h.n, 0) AS delta,
               coalesce(h.n, 0) AS counted, coalesce(t.n, 0) AS actual
          FROM truth t FULL JOIN held h USING (channel, category)
         WHERE coalesce(t.n, 0) <> coalesce(h.n, 0)
    ), fixed AS (
        INSERT INTO inbox_counters AS c (workspace_id, slot, channel, category, n)
        SELECT CAST(:ws AS uuid), inbox_counter_slot(CAST(:ws AS uuid)), channel, category,
               delta
          FROM drift ORDER BY channel, category
        ON CONFLICT (workspace_id, slot, channel, category)
          DO UPDATE SET n = c.n + EXCLUDED.n
        RETURNING 1
    )
    SELECT channel, category, counted, actual, (SELECT count(*) FROM fixed) AS fixed_rows
      FROM drift ORDER BY channel, category
    """
)

LOAD_CACHE_SQL = statement(
    "SELECT counts, computed_at FROM inbox_counts_cache WHERE workspace_id = :ws"
)

STORE_CACHE_SQL = statement(
    """
    INSERT INTO inbox_counts_cache AS c (workspace_id, counts, computed_at)
    VALUES (:ws, CAST(:counts AS jsonb), :computed_at)
    ON CONFLICT (workspace_id) DO UPDATE
       SET counts = EXCLUDED.counts, computed_at = EXCLUDED.computed_at
     WHERE c.computed_at < EXCLUDED.computed_at
    """
)

SET_TIMEOUT_SQL = statement("SELECT set_config('statement_timeout', :ms, true)")


# Literal SQL, not bound parameters: the planner must see the same constants as the
# partial index predicate (ix_leads_attention) to use it.
ATTENTION = text(ATTENTION_PREDICATE)
NOT_SNOOZED = text("(snoozed_until IS NULL OR snoozed_until <= now())")
REQUIRES_ATTENTION: ColumnElement[bool] = and_(ATTENTION, NOT_SNOOZED)


def sla_breached(sla_hours: float) -> ColumnElement[bool]:
    """Requires attention and waiting (newest inbound) longer than the SLA: the lead list's
    ``filter=sla_breached``, the same rule as ``SLA_BREACHED_SQL``."""
    waited = text("last_inbound_at < now() - make_interval(secs => :sla_s)").bindparams(
        sla_s=sla_hours * 3600
    )
    return and_(REQUIRES_ATTENTION, waited)


# The search expressions, written exactly as in the ix_leads_search_* indexes.
FULL_NAME: ColumnElement[str] = literal_column(
    "lower((coalesce(first_name, '') || ' ') || coalesce(last_name, ''))"
)
LAST_NAME: ColumnElement[str] = literal_column("lower(last_name)")
COMPANY: ColumnElement[str] = literal_column("lower(company)")
# The leads table inside the q= subquery (uncorrelated: the expressions above are
# unqualified and resolve to it).
SEARCH_LEAD = aliased(Lead, name="search_lead")
SEARCH_COLUMNS: tuple[Any, ...] = (
    SEARCH_LEAD.email,
    FULL_NAME,
    LAST_NAME,
    COMPANY,
)

LEAD_COLUMNS = (
    Lead.id,
    Lead.email,
    Lead.phone_e164,
    Lead.linkedin_profile_url,
    Lead.first_name,
    Lead.last_name,
    Lead.company,
    Lead.title,
    Lead.status,
    Lead.category,
    Lead.category_source,
    Lead.category_confidence,
    Lead.out_of_office_until,
    Lead.sentiment,
    Lead.score,
    Lead.score_reasons,
    Lead.scored_at,
    Lead.snoozed_until,
    Lead.assignee_user_id,
    Lead.last_inbound_at,
    Lead.last_outbound_at,
    Lead.last_team_outbound_at,
    Lead.last_message_at,
    Lead.last_inbound_channel,
    REQUIRES_ATTENTION.label("requires_attention"),
    Lead.created_at,
    Lead.updated_at,
)

MESSAGE_COLUMNS = (
    Message.id,
    Message.channel,
    Message.direction,
    Message.sent_by,
    Message.subject,
    Message.body,
    Message.body_html,
    Message.body_text,
    Message.body_visible,
    Message.occurred_at,
    Message.status,
    Message.failure_category,
    Message.failure_message,
    Message.unknown_delivery,
)


SET_BUDGET_SQL = statement(
    "SELECT set_config('statement_timeout', :ms, true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)


async def apply_budget(session: AsyncSession, timeout_ms: int) -> None:
    """Per-transaction time budget; custom plans so LIKE prefixes and partial indexes are
    planned with the real values (a generic prepared plan cannot use either)."""
    await session.execute(SET_BUDGET_SQL, {"ms": str(timeout_ms)})


EVENT_COLUMNS = (
    WebhookEvent.id,
    WebhookEvent.provider,
    WebhookEvent.event_type,
    WebhookEvent.status,
    WebhookEvent.attempts,
    WebhookEvent.max_attempts,
    WebhookEvent.last_error,
    WebhookEvent.received_at,
    WebhookEvent.run_at,
    WebhookEvent.processed_at,
)


async def one_of_workspace(
    session: AsyncSession,
    entity: type[Lead] | type[WebhookEvent],
    columns: Sequence[Any],
    row_id: int,
    workspace_id: uuid.UUID,
    missing: str,
) -> dict[str, Any]:
    """One row by id, only if it belongs to the workspace: another tenant's id is NotFound
    (``missing`` is its message), exactly like an id that does not exist."""
    where = (entity.id == row_id, entity.workspace_id == workspace_id)
    row = (await session.execute(select(*columns).where(*where))).mappings().one_or_none()
    if row is None:
        raise NotFound(missing)
    return dict(row)


# The lead's timeline: messages (tier 0), events (tier 1) and notes (tier 2) merged into one
# stream ordered by (occurred_at, tier, id), newest first. Each branch is a bounded backward
# scan of its (lead_id, time, id) index; the outer ORDER BY/LIMIT merges them.
_PAD = "NULL::text"
# The message branch's own columns, as NULLs in the other branches (11 text, 1 boolean).
_MESSAGE_PADS = ", ".join([_PAD] * 11) + ", NULL::boolean"
_TIMELINE_BRANCHES = (
    f"""SELECT 0 AS tier, m.id, m.occurred_at, m.channel, m.direction, m.sent_by, m.subject,
            m.body, m.body_html, m.body_text, m.body_visible, m.status, m.failure_category,
            m.failure_message, m.unknown_delivery, {_PAD} AS event_kind,
            NULL::uuid AS actor_user_id, NULL::jsonb AS data, {_PAD} AS note_body,
            NULL::timestamptz AS updated_at
       FROM messages m WHERE m.lead_id = :lead_id AND m.workspace_id = :ws {{after_m}}
      ORDER BY m.occurred_at DESC, m.id DESC LIMIT :n""",
    f"""SELECT 1, e.id, e.occurred_at, {_MESSAGE_PADS}, e.kind, e.actor_user_id,
            e.data, {_PAD}, NULL::timestamptz
       FROM lead_events e WHERE e.lead_id = :lead_id AND e.workspace_id = :ws {{after_e}}
      ORDER BY e.occurred_at DESC, e.id DESC LIMIT :n""",
    f"""SELECT 2, n.id, n.created_at, {_MESSAGE_PADS}, {_PAD}, n.author_user_id,
            NULL::jsonb, n.body, n.updated_at
       FROM lead_notes n WHERE n.lead_id = :lead_id AND n.workspace_id = :ws {{after_n}}
      ORDER BY n.created_at DESC, n.id DESC LIMIT :n""",
)
_TIMELINE = (
    " UNION ALL ".join(f"({branch})" for branch in _TIMELINE_BRANCHES)
    + " ORDER BY occurred_at DESC, tier DESC, id DESC LIMIT :n"
)


def _after(alias: str, at: str, tier: int) -> str:
    # The time bound lets the index range start at the cursor; the row comparison settles
    # ties within one timestamp.
    return f"AND {alias}.{at} <= :at AND ({alias}.{at}, {tier}, {alias}.id) < (:at, :tier, :id)"


TIMELINE_FIRST = statement(_TIMELINE.format(after_m="", after_e="", after_n=""))
TIMELINE_AFTER = statement(
    _TIMELINE.format(
        after_m=_after("m", "occurred_at", 0),
        after_e=_after("e", "occurred_at", 1),
        after_n=_after("n", "created_at", 2),
    )
)

# The signed-in user's unread leads, counted up to :cap (a badge says "1000+"): a walk of
# ix_leads_last_inbound with one lead_reads primary-key probe per lead, stopped at :cap.
UNREAD_SQL = statement(
    """
    SELECT count(*) FROM (
        SELECT 1 FROM leads l
         WHERE l.workspace_id = :ws AND l.last_inbound_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM lead_reads r
                            WHERE r.user_id = :user_id AND r.lead_id = l.id
                              AND r.read_at >= l.last_inbound_at)
         LIMIT :cap
    ) AS unread
    """
)


WORKSPACE_EXISTS = statement("SELECT 1 FROM workspaces WHERE id = :ws")
WORKSPACE_IDS_AFTER = statement(
    "SELECT id FROM workspaces WHERE id > CAST(:after AS uuid) ORDER BY id LIMIT :limit"
)
