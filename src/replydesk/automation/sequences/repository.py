"""Statements of follow-up sequences (decision 0004): the only SQL on ``sequences``,
``followups`` and ``followup_steps``. Reads of leads and messages are reads only."""

from __future__ import annotations

from replydesk.automation.sequences.vocabulary import (
    FollowupState,
    SequenceTrigger,
    StepStatus,
)
from replydesk.core.sql import statement
from replydesk.leads.vocabulary import Direction

ACTIVE = FollowupState.ACTIVE.value
PAUSED = FollowupState.PAUSED.value
STOPPED = FollowupState.STOPPED.value
COMPLETED = FollowupState.COMPLETED.value

# --- sequences ------------------------------------------------------------------------------

SEQUENCE_COLUMNS = "id, name, trigger, steps, enabled, created_at, updated_at"
INSERT_SEQUENCE = statement(
    f"""
    INSERT INTO sequences (workspace_id, name, trigger, steps, enabled, updated_by)
    VALUES (:ws, :name, :trigger, CAST(:steps AS jsonb), :enabled, :actor)
    RETURNING {SEQUENCE_COLUMNS}
    """
)
UPDATE_SEQUENCE = statement(
    f"""
    UPDATE sequences
       SET name = :name, trigger = :trigger, steps = CAST(:steps AS jsonb), enabled = :enabled,
           updated_by = :actor, updated_at = now()
     WHERE workspace_id = :ws AND id = :id
    RETURNING {SEQUENCE_COLUMNS}
    """
)
GET_SEQUENCE = statement(
    f"SELECT {SEQUENCE_COLUMNS} FROM sequences WHERE workspace_id = :ws AND id = :id"
)
LIST_SEQUENCES = statement(
    f"""
    SELECT {SEQUENCE_COLUMNS} FROM sequences WHERE workspace_id = :ws ORDER BY id LIMIT :limit
    """
)
AUTO_SEQUENCES = statement(
    f"""
    SELECT id, steps FROM sequences
     WHERE workspace_id = :ws AND enabled
       AND trigger = '{SequenceTrigger.NO_REPLY_AFTER_OUTBOUND}'
     ORDER BY id LIMIT :limit
    """
)

# --- enrolments -----------------------------------------------------------------------------

INSERT_FOLLOWUP = statement(
    """
    INSERT INTO followups
        (workspace_id, lead_id, sequence_id, started_at, next_step_at, paused_until,
         started_by_message_id, created_by)
    VALUES (:ws, :lead_id, :sequence_id, :started_at, :next_step_at, :paused_until,
            :message_id, :actor)
    ON CONFLICT (workspace_id, lead_id, sequence_id) DO NOTHING
    RETURNING id
    """
)
FOLLOWUP_OF = statement(
    """
    SELECT id, state FROM followups
     WHERE workspace_id = :ws AND lead_id = :lead_id AND sequence_id = :sequence_id
    """
)
_SHOWN = """
    SELECT f.id, f.lead_id, f.sequence_id, s.name AS sequence_name, f.state, f.current_step,
           jsonb_array_length(s.steps) AS steps_total, f.next_step_at, f.paused_until,
           f.stop_reason, f.last_skip_reason, f.sent_count, f.skipped_count, f.failed_count,
           f.created_at, f.updated_at, f.stopped_at
      FROM followups f
      JOIN sequences s ON s.workspace_id = f.workspace_id AND s.id = f.sequence_id
"""
LEAD_FOLLOWUPS = statement(
    _SHOWN + " WHERE f.workspace_id = :ws AND f.lead_id = :lead_id ORDER BY f.id LIMIT :limit"
)
GET_FOLLOWUP = statement(
    _SHOWN + " WHERE f.workspace_id = :ws AND f.lead_id = :lead_id AND f.id = :id"
)
PAUSE = statement(
    f"""
    UPDATE followups SET state = '{PAUSED}', updated_at = now()
     WHERE workspace_id = :ws AND lead_id = :lead_id AND id = :id AND state = '{ACTIVE}'
    RETURNING id
    """
)
RESUME = statement(
    f"""
    UPDATE followups SET state = '{ACTIVE}', updated_at = now()
     WHERE workspace_id = :ws AND lead_id = :lead_id AND id = :id AND state = '{PAUSED}'
    RETURNING id
    """
)
STOP_ONE = statement(
    f"""
    UPDATE followups
       SET state = '{STOPPED}', stop_reason = :reason, stopped_at = now(), next_step_at = NULL,
           updated_at = now()
     WHERE workspace_id = :ws AND lead_id = :lead_id AND id = :id
       AND state IN ('{ACTIVE}', '{PAUSED}')
    RETURNING id
    """
)
# Every running enrolment of a lead (a reply, an unsubscribe, a meeting).
STOP_LEAD = statement(
    f"""
    UPDATE followups
       SET state = '{STOPPED}', stop_reason = :reason, stopped_at = now(), next_step_at = NULL,
           updated_at = now()
     WHERE workspace_id = :ws AND lead_id = :lead_id AND state IN ('{ACTIVE}', '{PAUSED}')
       AND (CAST(:replied_at AS timestamptz) IS NULL OR started_at < :replied_at)
    RETURNING id
    """
)
# Out of office: the next step waits until the lead is back (never earlier than it was due).
HOLD_LEAD_UNTIL = statement(
    f"""
    UPDATE followups
       SET next_step_at = greatest(next_step_at, :until), paused_until = :until,
           updated_at = now()
     WHERE workspace_id = :ws AND lead_id = :lead_id AND state IN ('{ACTIVE}', '{PAUSED}')
       AND next_step_at IS NOT NULL
    RETURNING id
    """
)

# --- the tick -------------------------------------------------------------------------------

# Due steps of enabled sequences, oldest due first; rows another tick holds are skipped, and
# a row another tick moved on is re-checked against the WHERE (READ COMMITTED) before it is
# locked, so it is not taken again.
CLAIM_DUE = statement(
    f"""
    SELECT f.workspace_id, f.id, f.lead_id, f.sequence_id, f.current_step, f.next_step_at,
           f.step_failures, f.held_since, f.started_at,
           s.steps,
           l.first_name, l.last_name, l.company, l.title, l.status, l.category,
           l.out_of_office_until, l.last_inbound_at
      FROM followups f
      JOIN sequences s ON s.workspace_id = f.workspace_id AND s.id = f.sequence_id
      JOIN leads l ON l.workspace_id = f.workspace_id AND l.id = f.lead_id
     WHERE f.state = '{ACTIVE}' AND f.next_step_at <= now() AND s.enabled
     ORDER BY f.next_step_at
     LIMIT :limit
     FOR UPDATE OF f SKIP LOCKED
    """
)
INSERT_STEP = statement(
    """
    INSERT INTO followup_steps
        (workspace_id, lead_id, sequence_id, step, followup_id, channel, status, reason,
         reply_message_id)
    VALUES (:ws, :lead_id, :sequence_id, :step, :id, :channel, :status, :reason, :message_id)
    ON CONFLICT (workspace_id, lead_id, sequence_id, step) DO NOTHING
    RETURNING step
    """
)
SET_STEP_REPLY = statement(
    f"""
    UPDATE followup_steps SET reply_message_id = :message_id, status = '{StepStatus.QUEUED}'
     WHERE workspace_id = :ws AND lead_id = :lead_id AND sequence_id = :sequence_id
       AND step = :step
    """
)
# Move on from step :step (conditional: only the tick that holds it at that step).
ADVANCE = statement(
    f"""
    UPDATE followups
       SET current_step = :step + 1,
           state = CASE WHEN :done THEN '{COMPLETED}' ELSE state END,
           next_step_at = :next_step_at,
           sent_count = sent_count + :sent, skipped_count = skipped_count + :skipped,
           failed_count = failed_count + :failed,
           step_failures = 0, held_since = NULL, paused_until = :paused_until,
           last_skip_reason = coalesce(:reason, last_skip_reason), updated_at = now()
     WHERE workspace_id = :ws AND id = :id AND current_step = :step
    """
)
# Try the same step later: a gated provider (held), our own error, a fresh reply, OOO.
RETRY_LATER = statement(
    """
    UPDATE followups
       SET next_step_at = :at, step_failures = step_failures + :failure,
           held_since = CASE WHEN :held THEN coalesce(held_since, now()) ELSE held_since END,
           paused_until = coalesce(CAST(:paused_until AS timestamptz), paused_until),
           last_skip_reason = coalesce(:reason, last_skip_reason), updated_at = now()
     WHERE workspace_id = :ws AND id = :id
    """
)
STOP_CLAIMED = statement(
    f"""
    UPDATE followups
       SET state = '{STOPPED}', stop_reason = :reason, stopped_at = now(), next_step_at = NULL,
           updated_at = now()
     WHERE workspace_id = :ws AND id = :id AND state = '{ACTIVE}'
    """
)
COMPLETE = statement(
    f"""
    UPDATE followups SET state = '{COMPLETED}', next_step_at = NULL, updated_at = now()
     WHERE workspace_id = :ws AND id = :id AND state = '{ACTIVE}'
    """
)

# --- reads of other tables ------------------------------------------------------------------

LEAD_FACTS = statement(
    f"""
    SELECT id, status, category, out_of_office_until, last_inbound_at,
           EXISTS (SELECT 1 FROM messages m
                    WHERE m.workspace_id = leads.workspace_id AND m.lead_id = leads.id
                      AND m.direction = '{Direction.INBOUND}' AND m.occurred_at >= :since)
               AS replied_since
      FROM leads WHERE workspace_id = :ws AND id = :lead_id
    """
)
OUTBOUND_MESSAGE = statement(
    f"""
    SELECT id, lead_id, sent_by, occurred_at FROM messages
     WHERE workspace_id = :ws AND id = :id AND direction = '{Direction.OUTBOUND}'
    """
)
# The workspace's local time for business days (PUT settings/availability), if any.
TIMEZONE = statement(
    "SELECT availability->>'timezone' FROM automation_settings WHERE workspace_id = :ws"
)
