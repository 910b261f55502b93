"""Request bodies of replying."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from replydesk.leads.vocabulary import Channel

SUBJECT_MAX_LENGTH = 998  # RFC 5322 line limit
IDEMPOTENCY_KEY_MAX_LENGTH = 200


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel
    body: str = Field(min_length=1, max_length=200_000, description="The reply's text.")
    subject: str | None = Field(
        default=None,
        max_length=SUBJECT_MAX_LENGTH,
        description="E-mail only: the subject of a new e-mail (needed when the lead has no "
        "e-mail reply to answer in its thread; EmailBison ignores it in a thread).",
    )

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("body must not be blank")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value or None
