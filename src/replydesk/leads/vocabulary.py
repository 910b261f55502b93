"""The leads domain's words, in one place: models, schemas, SQL and CHECK constraints use them."""

from __future__ import annotations

from enum import StrEnum


class LeadStatus(StrEnum):
    """Where a lead stands; unsubscribed and closed leads never require attention."""

    ACTIVE = "active"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    CLOSED = "closed"


class Channel(StrEnum):
    """How a message travelled: EmailBison e-mail, GHL SMS, Unipile LinkedIn."""

    EMAIL = "email"
    SMS = "sms"
    LINKEDIN = "linkedin"


class Direction(StrEnum):
    """Inbound: from the lead. Outbound: to the lead (campaign, team, AI or system)."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class SentBy(StrEnum):
    """Who wrote a message: campaign/sequence sends do not count as the team answering."""

    LEAD = "lead"
    CAMPAIGN = "campaign"
    TEAM = "team"
    AI = "ai"
    SYSTEM = "system"


class LeadEventKind(StrEnum):
    """What a timeline event records (``lead_events.kind``): provider events (open and
    bounce also move a lead counter), operator changes, and merges/splits of leads."""

    OPEN = "open"
    BOUNCE = "bounce"
    CLICK = "click"
    UNSUBSCRIBE = "unsubscribe"
    STATUS_CHANGE = "status_change"
    CATEGORY_CHANGE = "category_change"
    ASSIGNEE_CHANGE = "assignee_change"
    MERGE = "merge"
    SPLIT = "split"


class JobType(StrEnum):
    """Jobs the leads domain enqueues when a message is stored."""

    FOLLOWUP_START = "followup.start"
    INBOUND_POSTPROCESS = "inbound.postprocess"


# Outbound messages that count as the team answering (campaign/system sends do not).
TEAM_SENDERS = (SentBy.TEAM, SentBy.AI)
# Status precedence: a lead never moves down this list because of a provider event, so the
# final status does not depend on the order events arrive in.
STATUS_RANK = {status: rank for rank, status in enumerate(LeadStatus)}
# Statuses that take a lead out of "requires attention".
OUT_OF_ATTENTION = (LeadStatus.UNSUBSCRIBED, LeadStatus.CLOSED)
