"""The words of replying: which integration carries a channel, which health states gate it."""

from __future__ import annotations

from enum import StrEnum

from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.leads.vocabulary import Channel


class JobType(StrEnum):
    REPLY_SEND = "reply.send"


class HoldReason(StrEnum):
    """Why a send waits (the ``ignored`` note of its job, counted by ``queue stats``)."""

    HEALTH_GATED = "health_gated"  # disconnected / auth_failed: resumes when a check is ok
    RATE_LIMITED = "rate_limited"  # until Retry-After or the next UTC day
    PROVIDER_ERROR = "provider_error"  # 5xx and the like: backoff, then failed


# The integration each reply channel goes through.
CHANNEL_PROVIDER: dict[Channel, Integration] = {
    Channel.EMAIL: Integration.EMAILBISON,
    Channel.SMS: Integration.GHL,
    Channel.LINKEDIN: Integration.UNIPILE,
}
# Health states in which replies are refused (409) and queued sends wait: someone must act
# (reconnect the LinkedIn account, fix the key); a successful check lifts them.
GATED = (HealthStatus.DISCONNECTED, HealthStatus.AUTH_FAILED)
