"""Bodies of the identity, merge-suggestion, merge, split and unmerge endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from replydesk.inbox.schemas import LeadOut
from replydesk.leads.vocabulary import IdentityKind, MergeKind, SuggestionReason

MAX_ID = 2**63 - 1


class IdentityOut(BaseModel):
    id: int
    kind: IdentityKind
    value: str = Field(
        description="Normalised: lower-case e-mail, E.164 phone, "
        "linkedin.com/in/<slug>, provider ids as text"
    )
    created_at: datetime


class IdentityList(BaseModel):
    items: list[IdentityOut]


class SuggestionOut(BaseModel):
    lead: LeadOut
    reason: SuggestionReason = Field(
        description="shared_identity: one event carried identities of both leads; "
        "same_name: same full name, compatible company or e-mail domain"
    )
    identity_kind: IdentityKind | None = Field(
        description="For shared_identity: the kind of identity the other lead holds"
    )


class SuggestionList(BaseModel):
    items: list[SuggestionOut]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other_lead_id: int = Field(ge=1, le=MAX_ID, description="The lead absorbed into this one")


class SplitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity_id: int = Field(ge=1, le=MAX_ID, description="One of this lead's identities")


class UnmergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merge_id: int = Field(ge=1, le=MAX_ID, description="A merge or split of this lead")


class MergeOut(BaseModel):
    id: int
    kind: MergeKind
    surviving_lead_id: int = Field(description="merge: the lead kept; split: the lead split")
    absorbed_lead_id: int = Field(description="merge: the lead merged away; split: the new lead")
    identity_id: int | None
    actor_user_id: uuid.UUID | None
    moved: dict[str, list[Any]] = Field(
        description="Ids of the moved rows per table (messages, lead_identities, lead_events, "
        "lead_notes); lead_tags: tag ids the merge added to the surviving lead; "
        "absorbed_lead_tags: the absorbed lead's own tag ids; lead_reads: per user "
        "[user_id, absorbed lead's mark, surviving lead's mark before, after] (times or null)"
    )
    created_at: datetime
    undone_at: datetime | None
    undone_by_user_id: uuid.UUID | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> MergeOut:
        return cls.model_validate({k: row[k] for k in cls.model_fields})


class MergeResult(BaseModel):
    lead: LeadOut = Field(description="merge/unmerge: the surviving lead; split: the new lead")
    merge: MergeOut


class MergeList(BaseModel):
    items: list[MergeOut]


class MergedAway(BaseModel):
    merged_into: int = Field(description="The lead this id was merged into (follow Location)")
