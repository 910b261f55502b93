"""Bodies of the sync endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SyncQueued(BaseModel):
    lead_id: int
    status: Literal["queued", "already_queued"] = Field(
        description="already_queued: a sync of this lead is waiting; it covers this request"
    )
