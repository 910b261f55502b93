"""Imports every domain's models so the metadata (Alembic, tests) sees all tables."""

from replydesk.auth.models import (
    ApiToken,
    BrowserSession,
    Invitation,
    LoginThrottle,
    Membership,
    User,
)
from replydesk.automation.models import AutomationSettings, Draft, Meeting, SlotOffer
from replydesk.automation.sequences.models import Followup, FollowupStep, Sequence
from replydesk.core.base import Base
from replydesk.inbox.models import InboxCountsCache, WorkspaceLeadTotal
from replydesk.ingest.models import WebhookEvent
from replydesk.integrations.credentials.models import (
    EmailBisonHost,
    IntegrationCredential,
    IntegrationHealth,
)
from replydesk.integrations.sync.models import EmailBisonReconcile, LeadSync, ProviderActivity
from replydesk.leads.models import (
    Lead,
    LeadChannelQuarantine,
    LeadEvent,
    LeadNote,
    LeadRead,
    LeadTag,
    Message,
    Tag,
)
from replydesk.queue.models import Alert, Job, QueueAttempt, SchedulerRun
from replydesk.workspaces.models import Workspace

__all__ = [
    "Alert",
    "ApiToken",
    "AutomationSettings",
    "Base",
    "BrowserSession",
    "Draft",
    "EmailBisonHost",
    "EmailBisonReconcile",
    "Followup",
    "FollowupStep",
    "InboxCountsCache",
    "IntegrationCredential",
    "IntegrationHealth",
    "Invitation",
    "Job",
    "Lead",
    "LeadChannelQuarantine",
    "LeadEvent",
    "LeadNote",
    "LeadRead",
    "LeadSync",
    "LeadTag",
    "LoginThrottle",
    "Meeting",
    "Membership",
    "Message",
    "ProviderActivity",
    "QueueAttempt",
    "SchedulerRun",
    "Sequence",
    "SlotOffer",
    "Tag",
    "User",
    "WebhookEvent",
    "Workspace",
    "WorkspaceLeadTotal",
]
