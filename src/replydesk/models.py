"""Imports every domain's models so the metadata (Alembic, tests) sees all tables."""

from replydesk.auth.models import ApiToken, Membership, User
from replydesk.core.base import Base
from replydesk.ingest.models import WebhookEvent
from replydesk.leads.models import Lead, Message
from replydesk.queue.models import Job
from replydesk.workspaces.models import Workspace

__all__ = [
    "ApiToken",
    "Base",
    "Job",
    "Lead",
    "Membership",
    "Message",
    "User",
    "WebhookEvent",
    "Workspace",
]
