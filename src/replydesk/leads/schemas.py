"""Bodies of the leads domain that the API shows (inbox and replies share them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from replydesk.leads.vocabulary import Channel, ChannelState, Direction, MessageStatus, SentBy


class MessageFailure(BaseModel):
    category: str = Field(
        description="provider_auth, provider_disconnected, provider_invalid_recipient, "
        "provider_rate_limited, provider_timeout, provider_error, recipient_missing …"
    )
    message: str = Field(description="What happened and what to do; never a credential.")
    unknown_delivery: bool = Field(
        default=False,
        description="The send may have reached the provider but could not be confirmed: "
        "check the provider before sending the reply again.",
    )


class MessageOut(BaseModel):
    id: int
    channel: Channel
    direction: Direction
    sent_by: SentBy
    subject: str | None
    body: str | None = Field(
        description="As stored before renderings existed: the provider's text, else its HTML."
    )
    body_html: str | None = Field(description="The provider's HTML, when it sent one.")
    body_text: str | None = Field(
        description="Plain text: the provider's text, else a rendering of its HTML."
    )
    body_visible: str | None = Field(
        description="body_text without quoted history and signature (e-mail); what to show "
        "folded. Null for messages stored before renderings existed."
    )
    occurred_at: datetime
    status: MessageStatus = Field(
        description="received: recorded from a provider (webhook or sync, either direction); "
        "our replies: queued → sent | failed."
    )
    failure: MessageFailure | None = Field(
        default=None, description="Why a failed reply failed; null unless status is failed."
    )

    @model_validator(mode="before")
    @classmethod
    def _failure_from_columns(cls, data: Any) -> Any:
        """A stored row carries the failure as columns (failure_category, …)."""
        if not isinstance(data, dict) or "failure_category" not in data:
            return data
        values = dict(data)
        category = values.pop("failure_category", None)
        message = values.pop("failure_message", None)
        unknown = bool(values.pop("unknown_delivery", False))
        if values.get("status") == MessageStatus.FAILED and category is not None:
            values["failure"] = {
                "category": str(category),
                "message": str(message or ""),
                "unknown_delivery": unknown,
            }
        return values


class ChannelStateOut(BaseModel):
    state: ChannelState
    reason: str | None = Field(description="Why quarantined (the provider's error type).")
    since: datetime | None
