"""The automation domain's words: drafts, their sources and verifier outcomes, job types."""

from __future__ import annotations

from enum import StrEnum

from replydesk.leads.vocabulary import LeadCategory


class DraftStatus(StrEnum):
    """``pending_review`` waits for a human (or the auto-send delay); ``approved`` queued the
    reply, which is then ``sent`` or ``failed`` (read from the reply message); a newer inbound
    message makes a waiting draft ``superseded``."""

    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    SENT = "sent"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class DraftSource(StrEnum):
    AI = "ai"
    TEMPLATE = "template"


class VerifierStatus(StrEnum):
    """``timeout``/``truncated``: the verifier gave no verdict; the draft is kept all the same."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"
    TRUNCATED = "truncated"


class JobType(StrEnum):
    DRAFT_GENERATE = "draft.generate"
    DRAFT_AUTO_SEND = "draft.auto_send"
    INBOUND_CATEGORISE = "inbound.categorise"  # the AI's categorisation of one message
    LEAD_SCORE = "lead.score"


# Categories a reply is drafted for; the others need no answer or a human.
DRAFTED = frozenset(
    {
        LeadCategory.INTERESTED,
        LeadCategory.MEETING_REQUEST,
        LeadCategory.QUESTION,
        LeadCategory.REFERRAL,
    }
)
# Never sent automatically, whatever the settings say.
NEVER_AUTO_SENT = frozenset(
    {LeadCategory.UNSUBSCRIBE, LeadCategory.OUT_OF_OFFICE, LeadCategory.NOT_INTERESTED}
)
