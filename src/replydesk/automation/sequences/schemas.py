"""Request and response bodies of follow-up sequences (docs/automation.md "Sequences")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from replydesk.automation.sequences import templates
from replydesk.automation.sequences.vocabulary import FollowupState, SequenceTrigger, StopReason
from replydesk.integrations.outbound.schemas import SUBJECT_MAX_LENGTH
from replydesk.leads.vocabulary import Channel

MAX_STEPS = 20
TEMPLATE_MAX_LENGTH = 10_000


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    delay_hours: float | None = Field(
        default=None, ge=0, le=24 * 365, description="Hours after the previous step (or the start)."
    )
    delay_business_days: int | None = Field(
        default=None, ge=0, le=365, description="Working days (Mon-Fri) after the previous step."
    )
    subject: str | None = Field(
        default=None,
        max_length=SUBJECT_MAX_LENGTH,
        description="E-mail only; without it the step answers in the lead's e-mail thread.",
    )
    template: str = Field(min_length=1, max_length=TEMPLATE_MAX_LENGTH)

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("template must not be blank")
        found = templates.problems(value)
        if found:
            raise ValueError("; ".join(found))
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value:
            found = templates.problems(value)
            if found:
                raise ValueError("; ".join(found))
        return value or None

    @model_validator(mode="after")
    def _one_delay(self) -> StepIn:
        if (self.delay_hours is None) == (self.delay_business_days is None):
            raise ValueError("give exactly one of delay_hours and delay_business_days")
        if self.subject is not None and self.channel is not Channel.EMAIL:
            raise ValueError(f"subject is for e-mail steps only, not {self.channel}")
        return self


class SequenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    trigger: SequenceTrigger
    steps: list[StepIn] = Field(min_length=1, max_length=MAX_STEPS)
    enabled: bool

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("name must not be blank")
        return value


class StepOut(BaseModel):
    channel: Channel
    delay_hours: float | None = None
    delay_business_days: int | None = None
    subject: str | None = None
    template: str


class SequenceOut(BaseModel):
    id: int
    name: str
    trigger: SequenceTrigger
    steps: list[StepOut]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class SequenceList(BaseModel):
    items: list[SequenceOut]


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequence_id: int = Field(ge=1, le=2**63 - 1)


class FollowupCounts(BaseModel):
    sent: int
    skipped: int
    failed: int


class FollowupOut(BaseModel):
    id: int
    lead_id: int
    sequence_id: int
    sequence_name: str
    state: FollowupState
    current_step: int = Field(description="Index (0-based) of the next step to take")
    steps_total: int
    next_step_at: datetime | None
    paused_until: datetime | None = Field(
        description="Out of office: the next step waits until then (and goes on by itself)"
    )
    stop_reason: StopReason | None
    last_skip_reason: str | None
    counts: FollowupCounts
    created_at: datetime
    updated_at: datetime
    stopped_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> FollowupOut:
        return cls(
            id=row.id,
            lead_id=row.lead_id,
            sequence_id=row.sequence_id,
            sequence_name=row.sequence_name,
            state=FollowupState(row.state),
            current_step=row.current_step,
            steps_total=row.steps_total,
            next_step_at=row.next_step_at,
            paused_until=row.paused_until,
            stop_reason=StopReason(row.stop_reason) if row.stop_reason else None,
            last_skip_reason=row.last_skip_reason,
            counts=FollowupCounts(
                sent=row.sent_count, skipped=row.skipped_count, failed=row.failed_count
            ),
            created_at=row.created_at,
            updated_at=row.updated_at,
            stopped_at=row.stopped_at,
        )


class FollowupList(BaseModel):
    items: list[FollowupOut]
