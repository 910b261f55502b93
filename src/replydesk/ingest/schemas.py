"""Response bodies of the webhook endpoint (for OpenAPI; the handler builds them directly)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Stored(BaseModel):
    """A new event: ``accepted`` (queued for processing) or ``ignored`` (unknown type, kept)."""

    status: Literal["accepted", "ignored"]
    event_id: int


class Duplicate(BaseModel):
    """The dedupe key was already stored; nothing was written."""

    status: Literal["duplicate"]
