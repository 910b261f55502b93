"""Reads of a lead and its thread that drafting needs (statements of ``leads.context``)."""

from __future__ import annotations

from replydesk.core.sql import statement
from replydesk.leads.vocabulary import Direction, LeadCategory, LeadStatus

LEAD_PROFILE = statement(
    f"""
    SELECT id, first_name, last_name, company, title, status, category, category_confidence,
           email, phone_e164, linkedin_provider_id,
           status = '{LeadStatus.UNSUBSCRIBED}' OR category = '{LeadCategory.UNSUBSCRIBE}'
               AS unsubscribed,
           (SELECT max(occurred_at) FROM messages m
             WHERE m.lead_id = leads.id AND m.direction = '{Direction.INBOUND}') AS last_inbound_at
      FROM leads WHERE id = :lead_id AND workspace_id = :ws
    """
)
# The newest messages up to and including the one answered, newest first (bounded).
THREAD = statement(
    """
    SELECT id, channel, direction, sent_by, subject, occurred_at,
           left(coalesce(body_visible, body_text, body, ''), :chars) AS text
      FROM messages
     WHERE lead_id = :lead_id AND workspace_id = :ws AND occurred_at <= :until
     ORDER BY occurred_at DESC, id DESC
     LIMIT :limit
    """
)
LEAD_EXISTS = statement("SELECT 1 FROM leads WHERE id = :lead_id AND workspace_id = :ws")
# What the lead score reads: the profile, its inbound replies (count capped) and the newest.
SCORE_FACTS = statement(
    f"""
    SELECT id, first_name, last_name, company, title, status, category, category_confidence,
           status = '{LeadStatus.UNSUBSCRIBED}' OR category = '{LeadCategory.UNSUBSCRIBE}'
               AS unsubscribed,
           (SELECT max(occurred_at) FROM messages m
             WHERE m.lead_id = leads.id AND m.direction = '{Direction.INBOUND}') AS last_inbound_at,
           (SELECT count(*) FROM (SELECT 1 FROM messages m
             WHERE m.lead_id = leads.id AND m.direction = '{Direction.INBOUND}'
             LIMIT 100) AS c) AS inbound_count
      FROM leads WHERE id = :lead_id AND workspace_id = :ws
    """
)
# The score of the newest inbound message wins: an older (replayed, late) job changes nothing.
SET_SCORE = statement(
    """
    UPDATE leads SET score = :score, score_reasons = CAST(:reasons AS jsonb), scored_at = now(),
                     score_source = :source, score_message_id = :message_id
     WHERE id = :lead_id AND workspace_id = :ws
       AND (score_message_id IS NULL OR score_message_id <= :message_id)
    RETURNING id
    """
)
