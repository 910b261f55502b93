"""Response and request bodies of the inbox read API (all appear in OpenAPI)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from replydesk.core.inputs import ApiDatetime
from replydesk.leads.vocabulary import Channel, Direction, LeadStatus, SentBy
from replydesk.queue.vocabulary import QueueStatus

CATEGORY_MAX_LENGTH = 64


class CountsOut(BaseModel):
    requires_attention: int = Field(
        description="Leads whose newest inbound message is newer than the newest team/AI "
        "answer, not snoozed, status not unsubscribed/closed."
    )
    by_channel: dict[str, int] = Field(
        description="requires_attention split by the channel of the lead's newest inbound "
        "message: email, sms, linkedin always present; 'unknown' when the channel is not known."
    )
    by_category: dict[str, int] = Field(
        description="requires_attention split by lead category; 'uncategorized' for none."
    )
    total_leads: int = Field(description="All leads of the workspace.")
    stale: bool = Field(
        description="True when the counts query failed or timed out and these are the last "
        "good counts (computed_at tells how old)."
    )
    computed_at: datetime


class LeadOut(BaseModel):
    id: int
    email: str | None
    phone_e164: str | None
    linkedin_profile_url: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    status: LeadStatus
    category: str | None
    sentiment: str | None
    snoozed_until: datetime | None
    assignee_user_id: uuid.UUID | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    last_team_outbound_at: datetime | None
    last_message_at: datetime | None
    last_inbound_channel: Channel | None
    requires_attention: bool
    created_at: datetime
    updated_at: datetime


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null at end.")


class LeadPatch(BaseModel):
    """Only the fields present are changed; null clears category, snooze and assignee."""

    model_config = ConfigDict(extra="forbid")

    status: LeadStatus | None = None
    category: str | None = Field(default=None, max_length=CATEGORY_MAX_LENGTH)
    snoozed_until: ApiDatetime | None = Field(
        default=None, description="With a time zone; null or a past time ends the snooze."
    )
    assignee: uuid.UUID | None = Field(
        default=None, description="User id of a member of this workspace; null unassigns."
    )

    @field_validator("category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            raise ValueError("category must not be blank (send null to clear it)")
        return value


class MessageOut(BaseModel):
    id: int
    channel: Channel
    direction: Direction
    sent_by: SentBy
    subject: str | None
    body: str | None
    occurred_at: datetime


class MessagePage(BaseModel):
    items: list[MessageOut] = Field(description="Oldest first within the page.")
    next_cursor: str | None = Field(
        description="Older messages: pass as cursor=; null when this page reaches the start."
    )


class WebhookEventOut(BaseModel):
    id: int
    provider: str
    event_type: str
    status: QueueStatus
    attempts: int
    max_attempts: int
    last_error: str | None
    received_at: datetime
    run_at: datetime
    processed_at: datetime | None


class WebhookEventPage(BaseModel):
    items: list[WebhookEventOut]
    next_cursor: str | None


class ReplayOut(BaseModel):
    event: WebhookEventOut
    replayed: bool = Field(description="False when the event was already pending or running.")
