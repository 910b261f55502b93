"""The words of integration settings: which integrations exist, and how healthy one is."""

from __future__ import annotations

from enum import StrEnum


class Integration(StrEnum):
    """What a workspace can configure: the three webhook providers, Slack alerts and the AI
    provider (an OpenAI-compatible Responses API, overriding the instance default)."""

    EMAILBISON = "emailbison"
    GHL = "ghl"
    UNIPILE = "unipile"
    SLACK = "slack"
    OPENAI = "openai"


class HealthStatus(StrEnum):
    """An integration's health as the last check (or a provider answer) left it."""

    NOT_CONFIGURED = "not_configured"  # only in API answers: no credentials stored
    UNKNOWN = "unknown"  # credentials stored or changed, not checked yet
    OK = "ok"
    DEGRADED = "degraded"  # 5xx, timeouts, unexpected answers
    RATE_LIMITED = "rate_limited"
    DISCONNECTED = "disconnected"  # Unipile: the LinkedIn account must be reconnected
    AUTH_FAILED = "auth_failed"  # EmailBison/GHL: the key is wrong for this host/location


class JobType(StrEnum):
    HEALTH_CHECK = "integration.health_check"


# Statuses a stored health row can hold (not_configured is the absence of a row).
STORED_HEALTH = tuple(s for s in HealthStatus if s is not HealthStatus.NOT_CONFIGURED)
