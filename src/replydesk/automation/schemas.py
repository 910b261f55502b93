"""Request and response bodies of automation: ``settings/automation`` and drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from replydesk.automation.vocabulary import (
    DRAFTED,
    NEVER_AUTO_SENT,
    DraftSource,
    DraftStatus,
    VerifierStatus,
)
from replydesk.leads.vocabulary import Channel, LeadCategory

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoSend(_Body):
    enabled: bool = False
    categories: list[LeadCategory] = Field(
        default_factory=list,
        max_length=len(LeadCategory),
        description="Categories whose drafts may go out without a human (drafted ones only: "
        "interested, meeting_request, question, referral)",
    )
    min_confidence: float = Field(default=0.9, ge=0, le=1)
    delay_s: int = Field(
        default=300, ge=0, le=7 * 86_400, description="A human can still reject in this window"
    )

    @field_validator("categories")
    @classmethod
    def _drafted_only(cls, value: list[LeadCategory]) -> list[LeadCategory]:
        never = sorted(c.value for c in value if c in NEVER_AUTO_SENT)
        if never:
            raise ValueError(f"{', '.join(never)} is never sent automatically")
        other = sorted(c.value for c in value if c not in DRAFTED)
        if other:
            raise ValueError(f"no draft is written for {', '.join(other)}: nothing to auto-send")
        return list(dict.fromkeys(value))


class AutomationSettingsIn(_Body):
    """The whole body is stored as given (a PUT replaces it)."""

    auto_send: AutoSend = Field(default_factory=AutoSend)
    attention_sla_hours: float | None = Field(default=None, gt=0, le=24 * 90)
    persona: str | None = Field(default=None, max_length=2000)
    offer: str | None = Field(default=None, max_length=4000)
    signature: str | None = Field(default=None, max_length=1000)
    banned_phrases: list[Phrase] = Field(default_factory=list, max_length=200)


class AutomationSettingsOut(AutomationSettingsIn):
    updated_at: datetime | None = None


class Verifier(BaseModel):
    status: VerifierStatus
    notes: list[str]


class DraftOut(BaseModel):
    id: int
    lead_id: int
    in_reply_to_message_id: int
    channel: Channel
    subject: str | None
    body: str
    status: DraftStatus
    source: DraftSource
    verifier: Verifier
    category: LeadCategory | None
    category_confidence: float | None
    model: str | None
    prompt_version: str
    reply_message_id: int | None
    auto_send_at: datetime | None
    approved_by: str | None = Field(description="User id; null for an automatic send")
    approved_at: datetime | None
    edited: bool
    rejected_by: str | None
    rejected_at: datetime | None
    reject_reason: str | None
    created_at: datetime


class DraftList(BaseModel):
    items: list[DraftOut]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null at end.")


class ApproveIn(_Body):
    body: str | None = Field(
        default=None, min_length=1, max_length=20_000, description="An edit of the draft's body"
    )

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("body must not be blank")
        return value


class RejectIn(_Body):
    reason: str | None = Field(default=None, max_length=500)
