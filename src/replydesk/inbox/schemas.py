"""Response and request bodies of the inbox read API (all appear in OpenAPI)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from replydesk.core.inputs import ApiDatetime
from replydesk.leads.schemas import ChannelStateOut, MessageOut
from replydesk.leads.vocabulary import (
    CategorySource,
    Channel,
    LeadCategory,
    LeadEventKind,
    LeadStatus,
)
from replydesk.queue.vocabulary import AttemptOutcome, QueueStatus

CATEGORY_MAX_LENGTH = 64


class CountsOut(BaseModel):
    requires_attention: int = Field(
        description="Leads whose newest inbound message is newer than the newest team/AI "
        "answer and is not an out-of-office auto-reply, not snoozed, status not "
        "unsubscribed/closed."
    )
    by_channel: dict[str, int] = Field(
        description="requires_attention split by the channel of the lead's newest inbound "
        "message: email, sms, linkedin always present; 'unknown' when the channel is not known."
    )
    by_category: dict[str, int] = Field(
        description="requires_attention split by lead category; 'uncategorized' for none."
    )
    total_leads: int = Field(description="All leads of the workspace.")
    attention_sla_hours: float | None = Field(
        default=None,
        description="The workspace's attention SLA (PUT settings/automation); null when none.",
    )
    sla_breached: int | None = Field(
        default=None,
        description="Leads requiring attention whose newest inbound message is older than "
        "attention_sla_hours (waiting on the team longer than the SLA), counted up to "
        "10,000; null when no SLA is set. GET leads?filter=sla_breached lists them.",
    )
    sla_breached_capped: bool = Field(
        default=False, description="True when sla_breached reached its cap (10,000 or more)."
    )
    unread: int | None = Field(
        default=None,
        description="Leads with an inbound message newer than the signed-in user's read "
        "mark, counted up to unread_cap; null when that count was over its time budget.",
    )
    unread_capped: bool = Field(
        default=False, description="True when there are at least unread_cap unread leads."
    )
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
    category: LeadCategory | None
    category_source: CategorySource | None = Field(
        description="Who set the category: provider (a provider signal), rules (the offline "
        "categoriser), ai, manual (an operator; automation never overwrites it)."
    )
    category_confidence: float | None = Field(
        ge=0, le=1, description="0-1; null when the source gave none (provider signals)."
    )
    out_of_office_until: date | None = Field(
        description="The return date the lead's newest out-of-office reply stated."
    )
    sentiment: str | None
    score: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="0-100: how promising the lead is (the lead.score job after each inbound "
        "message: AI when configured, else the offline heuristic); null until scored.",
    )
    score_reasons: list[str] | None = Field(
        default=None, description="Why, in a few short texts; null until scored."
    )
    scored_at: datetime | None = Field(default=None, description="When the score was computed.")
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


class LeadDetailOut(LeadOut):
    channels: dict[Channel, ChannelStateOut] = Field(
        description="Each channel's state for replies: ok, or quarantined (reason, since) "
        "after the provider said the lead cannot be reached there."
    )


class LeadPage(BaseModel):
    items: list[LeadOut]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null at end.")


class LeadPatch(BaseModel):
    """Only the fields present are changed; null clears category, snooze and assignee."""

    model_config = ConfigDict(extra="forbid")

    status: LeadStatus | None = None
    category: LeadCategory | None = Field(
        default=None, description="One of the category vocabulary; null clears it."
    )
    snoozed_until: ApiDatetime | None = Field(
        default=None, description="With a time zone; null or a past time ends the snooze."
    )
    assignee: uuid.UUID | None = Field(
        default=None, description="User id of a member of this workspace; null unassigns."
    )

    @field_validator("category", mode="before")
    @classmethod
    def _category(cls, value: Any) -> Any:
        """Trimmed, any case, spaces or hyphens for underscores ("Not interested")."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            raise ValueError("category must not be blank (send null to clear it)")
        return "_".join(value.strip().lower().replace("-", " ").split())


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


class AttemptOut(BaseModel):
    attempt: int = Field(description="The event's attempt count then (a replay restarts at 1).")
    worker: str | None
    started_at: datetime | None
    finished_at: datetime
    outcome: AttemptOutcome
    category: str | None = Field(description="Error category (docs/runbook.md); null on success.")
    error: str | None = Field(
        description="Error class, SQLSTATE, constraint, or our own message; never values."
    )


class WebhookEventDetail(WebhookEventOut):
    payload: dict[str, Any] = Field(
        description="The stored payload; secrets and e-mail local parts masked unless the "
        "caller is an admin or owner."
    )
    payload_masked: bool
    attempts_history: list[AttemptOut] = Field(description="Oldest first.")
    attempts_truncated: bool = Field(description="True when older attempts were left out.")


class WebhookEventPage(BaseModel):
    items: list[WebhookEventOut]
    next_cursor: str | None


class ReplayOut(BaseModel):
    event: WebhookEventOut
    replayed: bool = Field(description="False when the event was already pending or running.")


class TimelineEventOut(BaseModel):
    id: int
    kind: LeadEventKind
    actor_user_id: uuid.UUID | None = Field(description="The operator; null for providers.")
    data: dict[str, Any] = Field(
        description='Kind-specific; changes carry {"from", "to"} (status, category, '
        "assignee user id; null = none)."
    )
    occurred_at: datetime


class NoteOut(BaseModel):
    id: int
    lead_id: int
    author_user_id: uuid.UUID | None = Field(description="Null once the author is deleted.")
    body: str
    created_at: datetime
    updated_at: datetime


class TimelineItemOut(BaseModel):
    kind: Literal["message", "event", "note"]
    id: int = Field(description="Id of the message, event or note (unique per kind).")
    occurred_at: datetime = Field(description="A note's time is its created_at.")
    message: MessageOut | None = None
    event: TimelineEventOut | None = None
    note: NoteOut | None = None


class TimelinePage(BaseModel):
    items: list[TimelineItemOut] = Field(description="Oldest first within the page.")
    next_cursor: str | None = Field(
        description="Older items: pass as cursor=; null when this page reaches the start."
    )


NOTE_MAX_LENGTH = 10_000
TAG_NAME_MAX_LENGTH = 64


def _not_blank(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{what} must not be blank")
    return value


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=NOTE_MAX_LENGTH)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _not_blank(value, "body")


class NoteList(BaseModel):
    items: list[NoteOut] = Field(description="Newest first, at most 1,000.")


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=TAG_NAME_MAX_LENGTH, description="Unique in the workspace.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _not_blank(value, "name")


class TagOut(BaseModel):
    id: int
    name: str
    created_at: datetime


class TagList(BaseModel):
    items: list[TagOut] = Field(description="By name, at most 1,000.")
