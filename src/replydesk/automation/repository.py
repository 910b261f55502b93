"""Every statement on ``drafts`` and ``automation_settings`` (the automation domain owns them).

A draft is unique per inbound message (``INSERT … ON CONFLICT DO NOTHING``); every change of
its status is a conditional ``UPDATE … WHERE status = 'pending_review'``, so an approval, a
rejection, an automatic send and a newer message cannot both win.
"""

from __future__ import annotations

from replydesk.automation.vocabulary import DraftStatus
from replydesk.core.sql import statement
from replydesk.leads.vocabulary import Direction, MessageStatus

PENDING = DraftStatus.PENDING_REVIEW.value

GET_SETTINGS = statement(
    "SELECT settings, updated_at FROM automation_settings WHERE workspace_id = :ws"
)
# The attention SLA alone (the inbox counts read it on every request: a primary-key read).
GET_ATTENTION_SLA = statement(
    "SELECT CAST(settings ->> 'attention_sla_hours' AS double precision) "
    "FROM automation_settings WHERE workspace_id = :ws"
)
PUT_SETTINGS = statement(
    """
    INSERT INTO automation_settings (workspace_id, settings, updated_by, updated_at)
    VALUES (:ws, CAST(:settings AS jsonb), :actor, now())
    ON CONFLICT (workspace_id) DO UPDATE
       SET settings = EXCLUDED.settings, updated_by = EXCLUDED.updated_by, updated_at = now()
    RETURNING updated_at
    """
)

GET_AVAILABILITY = statement(
    "SELECT availability, updated_at FROM automation_settings WHERE workspace_id = :ws"
)
PUT_AVAILABILITY = statement(
    """
    INSERT INTO automation_settings (workspace_id, availability, updated_by, updated_at)
    VALUES (:ws, CAST(:availability AS jsonb), :actor, now())
    ON CONFLICT (workspace_id) DO UPDATE
       SET availability = EXCLUDED.availability, updated_by = EXCLUDED.updated_by,
           updated_at = now()
    RETURNING updated_at
    """
)
OFFER_COUNTS = statement(
    "SELECT slot_start, offered FROM slot_offers "
    "WHERE workspace_id = :ws AND slot_start = ANY(:starts)"
)
# One statement: no interactive transaction (the P2028 incident of the seeds).
COUNT_OFFERS = statement(
    """
    INSERT INTO slot_offers (workspace_id, slot_start, offered)
    SELECT :ws, s, 1 FROM unnest(CAST(:starts AS timestamptz[])) AS s
    ON CONFLICT (workspace_id, slot_start)
    DO UPDATE SET offered = slot_offers.offered + 1, updated_at = now()
    """
)

DRAFT_FOR_MESSAGE = statement(
    "SELECT id FROM drafts WHERE workspace_id = :ws AND in_reply_to_message_id = :message_id"
)
# Born superseded when a newer inbound message of the lead is already stored, or a reply
# (a manual one) answers the message already.
INSERT_DRAFT = statement(
    f"""
    INSERT INTO drafts (workspace_id, lead_id, in_reply_to_message_id, channel, subject, body,
                        generated_body, status, source, category, category_confidence,
                        verifier_status, verifier_notes, model, prompt_version, context_hash,
                        input_tokens, output_tokens, timings, offered_slots)
    SELECT :ws, :lead_id, :message_id, :channel, :subject, :body, :body,
           CASE WHEN EXISTS (
               SELECT 1 FROM messages n
                WHERE n.lead_id = :lead_id AND n.workspace_id = :ws
                  AND n.direction = '{Direction.INBOUND}'
                  AND (n.occurred_at, n.id) > (m.occurred_at, m.id))
                  OR EXISTS (
               SELECT 1 FROM messages a
                WHERE a.workspace_id = :ws AND a.answers_message_id = m.id
                  AND a.status <> '{MessageStatus.FAILED}')
                THEN '{DraftStatus.SUPERSEDED}' ELSE '{PENDING}' END,
           :source, :category, :confidence, :verifier_status, CAST(:notes AS jsonb), :model,
           :prompt_version, :context_hash, :input_tokens, :output_tokens,
           CAST(:timings AS jsonb), CAST(:offered_slots AS jsonb)
      FROM messages m WHERE m.id = :message_id AND m.workspace_id = :ws
    ON CONFLICT (workspace_id, in_reply_to_message_id) DO NOTHING
    RETURNING id, status
    """
)
SUPERSEDE_OLDER = statement(
    f"""
    UPDATE drafts d SET status = '{DraftStatus.SUPERSEDED}', superseded_by_message_id = :message_id,
                        updated_at = now()
      FROM messages m
     WHERE d.workspace_id = :ws AND d.lead_id = :lead_id AND d.status = '{PENDING}'
       AND m.id = d.in_reply_to_message_id
       AND (m.occurred_at, m.id) < (:occurred_at, :message_id)
    RETURNING d.id
    """
)
# A manual reply answers the lead: its pending drafts can no longer be sent (the row lock
# orders this against a concurrent approval: whichever commits first wins).
SUPERSEDE_BY_HAND = statement(
    f"""
    UPDATE drafts SET status = '{DraftStatus.SUPERSEDED}',
                      verifier_notes = verifier_notes || to_jsonb(CAST(:note AS text)),
                      updated_at = now()
     WHERE workspace_id = :ws AND lead_id = :lead_id AND status = '{PENDING}'
    RETURNING id
    """
)
# The approved draft whose reply answers the message (a failed reply does not count).
APPROVED_ANSWER = statement(
    f"""
    SELECT d.id FROM drafts d
      LEFT JOIN messages r ON r.id = d.reply_message_id AND r.workspace_id = d.workspace_id
     WHERE d.workspace_id = :ws AND d.in_reply_to_message_id = :message_id
       AND d.status = '{DraftStatus.APPROVED}'
       AND (r.id IS NULL OR r.status <> '{MessageStatus.FAILED}')
    """
)
SET_AUTO_SEND_AT = statement(
    f"UPDATE drafts SET auto_send_at = :at, updated_at = now() "
    f"WHERE id = :id AND workspace_id = :ws AND status = '{PENDING}'"
)
APPEND_NOTE = statement(
    "UPDATE drafts SET verifier_notes = verifier_notes || to_jsonb(CAST(:note AS text)), "
    "updated_at = now() WHERE id = :id AND workspace_id = :ws"
)
APPROVE = statement(
    f"""
    UPDATE drafts SET status = '{DraftStatus.APPROVED}', body = :body, edit_diff = :diff,
                      approved_by = :actor, approved_at = now(), auto_sent = :auto,
                      updated_at = now()
     WHERE id = :id AND workspace_id = :ws AND status = '{PENDING}'
    RETURNING id, lead_id, channel, subject, body
    """
)
SET_REPLY = statement(
    "UPDATE drafts SET reply_message_id = :message_id WHERE id = :id AND workspace_id = :ws"
)
REJECT = statement(
    f"""
    UPDATE drafts SET status = '{DraftStatus.REJECTED}', rejected_by = :actor,
                      rejected_at = now(), reject_reason = :reason, updated_at = now()
     WHERE id = :id AND workspace_id = :ws AND status = '{PENDING}'
    RETURNING id
    """
)
# What the API shows: an approved draft is sent or failed as its reply message is.
_SHOWN = f"""
    SELECT d.id, d.lead_id, d.in_reply_to_message_id, d.channel, d.subject, d.body,
           CASE WHEN d.status = '{DraftStatus.APPROVED}' AND r.status = '{MessageStatus.SENT}'
                    THEN '{DraftStatus.SENT}'
                WHEN d.status = '{DraftStatus.APPROVED}' AND r.status = '{MessageStatus.FAILED}'
                    THEN '{DraftStatus.FAILED}'
                ELSE d.status END AS status,
           d.source, d.verifier_status, d.verifier_notes, d.category, d.category_confidence,
           d.model, d.prompt_version, d.reply_message_id, d.auto_send_at, d.auto_sent,
           d.approved_by, d.approved_at, d.edit_diff IS NOT NULL AS edited, d.rejected_by,
           d.rejected_at, d.reject_reason, d.created_at, d.context_hash, d.input_tokens,
           d.output_tokens, d.timings, d.offered_slots
      FROM drafts d
      LEFT JOIN messages r ON r.id = d.reply_message_id AND r.workspace_id = d.workspace_id
"""
DRAFT = statement(_SHOWN + " WHERE d.id = :id AND d.workspace_id = :ws")
LEAD_DRAFTS = statement(
    _SHOWN
    + """ WHERE d.workspace_id = :ws AND d.lead_id = :lead_id
            AND (CAST(:at AS timestamptz) IS NULL OR (d.created_at, d.id) < (:at, :after_id))
          ORDER BY d.created_at DESC, d.id DESC LIMIT :limit"""
)
# The approval queue: oldest first, on the partial index of pending drafts.
PENDING_QUEUE = statement(
    _SHOWN
    + f""" WHERE d.workspace_id = :ws AND d.status = '{PENDING}'
            AND (CAST(:at AS timestamptz) IS NULL OR (d.created_at, d.id) > (:at, :after_id))
          ORDER BY d.created_at, d.id LIMIT :limit"""
)
# The nav's pending count, capped (the partial index of pending drafts bounds it).
PENDING_COUNT = statement(
    f"""SELECT count(*) FROM (SELECT 1 FROM drafts
         WHERE workspace_id = :ws AND status = '{PENDING}' LIMIT :cap) p"""
)
# Pending drafts that arrived after the approval queue page was drawn (ids only grow).
PENDING_NEWER_COUNT = statement(
    f"""SELECT count(*) FROM (SELECT 1 FROM drafts
         WHERE workspace_id = :ws AND status = '{PENDING}' AND id > :after_id LIMIT :cap) p"""
)
NEWEST_PENDING_ID = statement(
    f"SELECT coalesce(max(id), 0) FROM drafts WHERE workspace_id = :ws AND status = '{PENDING}'"
)
# Other statuses (no index of their own): the newest first, bounded by the limit.
BY_STATUS = statement(
    f"""SELECT * FROM ({_SHOWN} WHERE d.workspace_id = :ws) s
         WHERE s.status = :status
           AND (CAST(:at AS timestamptz) IS NULL OR (s.created_at, s.id) < (:at, :after_id))
         ORDER BY s.created_at DESC, s.id DESC LIMIT :limit"""
)

BOOK_MEETING = statement(
    """
    INSERT INTO meetings (workspace_id, lead_id, start, booked_by)
    VALUES (:ws, :lead_id, :start, :actor)
    ON CONFLICT (workspace_id, lead_id, start) DO NOTHING
    """
)
MEETING = statement(
    "SELECT id, lead_id, start, booked_by, created_at FROM meetings "
    "WHERE workspace_id = :ws AND lead_id = :lead_id AND start = :start"
)
