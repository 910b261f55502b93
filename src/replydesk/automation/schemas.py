"""Request and response bodies of automation: ``settings/automation`` and drafts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from replydesk.automation.vocabulary import (
    DRAFTED,
    NEVER_AUTO_SENT,
    DraftSource,
    DraftStatus,
    VerifierStatus,
)
from replydesk.leads.vocabulary import Channel, LeadCategory, LeadStatus

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


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # weekday() order
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class AvailabilityIn(_Body):
    """``PUT settings/availability``: when meetings can be offered."""

    timezone: str = Field(
        min_length=1, max_length=64, description="An IANA zone, e.g. Europe/Berlin"
    )
    weekly: dict[Day, list[tuple[str, str]]] = Field(
        description='Windows per weekday, e.g. {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}'
    )
    slot_minutes: int = Field(ge=10, le=240)
    booking_url: str | None = Field(default=None, max_length=500)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA timezone (e.g. Europe/Berlin)") from None
        return value

    @field_validator("weekly")
    @classmethod
    def _windows(cls, value: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        for day, windows in value.items():
            if len(windows) > 8:
                raise ValueError(f"{day}: at most 8 windows")
            previous_end = ""
            for start, end in sorted(windows):
                if not _HHMM.match(start) or not _HHMM.match(end):
                    raise ValueError(f"{day}: times are HH:MM (00:00-24:00)")
                if start >= end:
                    raise ValueError(f"{day}: {start}-{end} ends before it starts")
                if previous_end and start < previous_end:
                    raise ValueError(f"{day}: windows overlap")
                previous_end = end
        if not any(value.values()):
            raise ValueError("weekly needs at least one window")
        return {day: sorted(windows) for day, windows in value.items()}

    @field_validator("booking_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("booking_url must be an http(s) URL")
        return value.strip()


class AvailabilityOut(AvailabilityIn):
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
    offered_slots: list[datetime] = Field(description="Meeting slots this draft offers (UTC)")
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


class MeetingIn(_Body):
    start: datetime = Field(description="When the meeting starts (with a UTC offset)")

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2026-01-27T14:00:00+01:00")
        return value


class MeetingOut(BaseModel):
    id: int
    lead_id: int
    start: datetime
    status: LeadStatus = Field(description="The lead's status: meeting_booked")
    booked_by: str | None
    created_at: datetime
