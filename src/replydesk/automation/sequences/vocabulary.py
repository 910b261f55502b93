"""The follow-up sequences' words: models, schemas, SQL and CHECK constraints use them."""

from __future__ import annotations

from enum import StrEnum


class SequenceTrigger(StrEnum):
    """``no_reply_after_outbound``: started by the lead's first campaign send (the
    ``followup.start`` job) when the sequence is enabled; ``manual``: only by
    ``POST leads/{id}/followups``."""

    NO_REPLY_AFTER_OUTBOUND = "no_reply_after_outbound"
    MANUAL = "manual"


class FollowupState(StrEnum):
    """An enrolment: ``active`` (its next step waits for ``next_step_at``), ``paused`` (by an
    operator; a resume continues), ``stopped`` (for ``stop_reason``; final), ``completed``
    (every step done; final)."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


class StopReason(StrEnum):
    REPLIED = "replied"  # any inbound reply but an out-of-office one
    UNSUBSCRIBED = "unsubscribed"
    MEETING_BOOKED = "meeting_booked"
    LEAD_CLOSED = "lead_closed"
    MANUAL = "manual"  # POST leads/{id}/followups/{fid}/stop


class StepStatus(StrEnum):
    """One step of one enrolment (unique per lead x sequence x step): ``queued`` (its reply
    went into the reply path, which sends it), ``skipped`` (not sendable: reason kept),
    ``failed`` (our own error, after the retries)."""

    QUEUED = "queued"
    SKIPPED = "skipped"
    FAILED = "failed"


# Final states: nothing changes them any more.
FINAL_STATES = (FollowupState.STOPPED, FollowupState.COMPLETED)
