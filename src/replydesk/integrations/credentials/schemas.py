"""Request and response bodies of the integration settings API (docs/integrations.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration

GHL_DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"

Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
# Keys are opaque; whitespace inside one is a paste error, not part of the key.
Secret = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=r"^\S+$"),
]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^\S+$")
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailBisonIn(_Body):
    base_url: Url = Field(description="The instance origin, e.g. https://send.meetinboxxia.com")
    api_key: Secret


class GhlIn(_Body):
    location_id: Identifier
    api_key: Secret = Field(description="A Private Integration Token of the location")
    base_url: Url = GHL_DEFAULT_BASE_URL


class UnipileIn(_Body):
    base_url: Url = Field(description="The DSN as a URL, e.g. https://api8.unipile.com:13851")
    api_key: Secret
    account_id: Identifier


class SlackIn(_Body):
    webhook_url: Secret = Field(description="An incoming-webhook URL (it is the secret)")


class OpenAiIn(_Body):
    base_url: Url | None = Field(
        default=None,
        description="An OpenAI-compatible API base URL, path included (default: the "
        "instance's REPLYDESK_AI_BASE_URL, e.g. https://api.openai.com/v1)",
    )
    api_key: Secret
    model: Identifier | None = Field(
        default=None, description="The model (default: the instance's REPLYDESK_AI_MODEL)"
    )


class LastError(BaseModel):
    category: str
    message: str


class IntegrationOut(BaseModel):
    provider: Integration
    configured: bool
    status: HealthStatus
    since: datetime | None
    last_checked_at: datetime | None
    last_error: LastError | None
    # Non-secret fields, plus "api_key" (or Slack's "webhook_url") as "…last4".
    settings: dict[str, str]


class IntegrationList(BaseModel):
    items: list[IntegrationOut]
    emailbison_allowed_hosts: list[str] = Field(
        description="Instance-level allowlist (read-only here; `replydesk integrations hosts`)"
    )


class CheckQueued(BaseModel):
    provider: Integration
    status: Literal["queued", "already_queued"]
