"""The leads domain's words, in one place: models, schemas, SQL and CHECK constraints use them."""

from __future__ import annotations

from enum import StrEnum


class LeadStatus(StrEnum):
    """Where a lead stands; unsubscribed and closed leads never require attention. The order
    is the rank automatic changes only raise (``raise_status``, merges)."""

    ACTIVE = "active"
    MEETING_BOOKED = "meeting_booked"  # POST leads/{id}/meeting
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"
    CLOSED = "closed"


class Channel(StrEnum):
    """How a message travelled: EmailBison e-mail, GHL SMS, Unipile LinkedIn."""

    EMAIL = "email"
    SMS = "sms"
    LINKEDIN = "linkedin"


class MessageStatus(StrEnum):
    """Where a message stands: ``received`` is every message recorded from a provider
    (webhook or sync, either direction); our own replies go ``queued`` → ``sent`` or
    ``failed``."""

    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class ChannelState(StrEnum):
    """A lead's channel as replies see it: quarantined after the provider said the
    recipient cannot be reached there (until an operator lifts it)."""

    OK = "ok"
    QUARANTINED = "quarantined"


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


class IdentityKind(StrEnum):
    """Hard identities of a person (``lead_identities.kind``): one lead per (kind, value)."""

    EMAIL = "email"  # trimmed, lower-case
    PHONE = "phone"  # E.164
    LINKEDIN_ID = "linkedin_id"  # Unipile attendee_provider_id
    LINKEDIN_URL = "linkedin_url"  # normalised: linkedin.com/in/<slug>
    GHL_CONTACT = "ghl_contact"  # GHL contactId
    EMAILBISON_LEAD = "emailbison_lead"  # EmailBison lead id


class MergeKind(StrEnum):
    """A recorded identity change (``lead_merges.kind``)."""

    MERGE = "merge"  # absorbed lead's rows moved to the surviving lead; absorbed lead deleted
    SPLIT = "split"  # one identity (and its messages) moved to a new lead


class SuggestionReason(StrEnum):
    """Why two leads may be one person; only an operator merges them."""

    # One event carried hard identities of both (stored before such events merged the leads;
    # no longer written: ``resolve_lead`` merges them).
    SHARED_IDENTITY = "shared_identity"
    SAME_NAME = "same_name"  # same full name, no conflicting company domain


class LeadCategory(StrEnum):
    """What the lead's replies say (``leads.category``; one vocabulary for providers, the
    offline rules, AI and operators)."""

    INTERESTED = "interested"
    MEETING_REQUEST = "meeting_request"
    QUESTION = "question"
    REFERRAL = "referral"
    NOT_INTERESTED = "not_interested"
    WRONG_PERSON = "wrong_person"
    OUT_OF_OFFICE = "out_of_office"
    UNSUBSCRIBE = "unsubscribe"
    OTHER = "other"


class CategorySource(StrEnum):
    """Who set a lead's category (``leads.category_source``)."""

    PROVIDER = "provider"  # a provider signal (EmailBison LEAD_INTERESTED, LEAD_UNSUBSCRIBED)
    RULES = "rules"  # the offline categoriser
    AI = "ai"
    MANUAL = "manual"  # an operator; automation never overwrites it


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
# Categories that say little about the lead's intent: an automatic category of this kind
# never replaces another automatic one (an auto-reply after "interested" keeps "interested").
WEAK_CATEGORIES = (LeadCategory.OUT_OF_OFFICE, LeadCategory.OTHER)
