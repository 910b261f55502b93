"""One person across channels: identities, merge suggestions, merge, split and unmerge of
leads, under /api/v1/workspaces/{workspace_id}/leads/{lead_id}/… (any member; CSRF for
cookie sessions on POST, by WorkspaceDep)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.deps import WorkspaceDep
from replydesk.core.api_params import COMMON, LeadId
from replydesk.core.deps import SessionDep
from replydesk.core.http import error_doc
from replydesk.inbox import leads as leads_service
from replydesk.inbox.merge_schemas import (
    IdentityList,
    IdentityOut,
    MergeIn,
    MergeList,
    MergeOut,
    MergeResult,
    SplitIn,
    SuggestionList,
    SuggestionOut,
    UnmergeIn,
)
from replydesk.inbox.schemas import LeadOut
from replydesk.leads import merges

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/leads/{lead_id}", tags=["leads"])

WRITES: dict[int | str, dict[str, object]] = {
    **COMMON,
    403: error_doc("csrf_failed"),
    409: error_doc("conflict: already undone, only identity, or a later merge to undo first"),
}


async def _lead(session: AsyncSession, workspace_id: uuid.UUID, lead_id: int) -> LeadOut:
    return LeadOut.model_validate(await leads_service.get_lead(session, workspace_id, lead_id))


@router.get(
    "/identities",
    response_model=IdentityList,
    summary="The lead's hard identities (e-mail, phone, LinkedIn, provider contact ids)",
    responses=COMMON,
)
async def list_identities(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId
) -> IdentityList:
    await leads_service.get_lead_id(session, access.workspace_id, lead_id)
    rows = await merges.identities_of(session, access.workspace_id, lead_id)
    return IdentityList(items=[IdentityOut.model_validate(r) for r in rows])


@router.get(
    "/merge-suggestions",
    response_model=SuggestionList,
    summary="Leads that may be the same person (never merged automatically)",
    responses=COMMON,
)
async def merge_suggestions(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId
) -> SuggestionList:
    await leads_service.get_lead_id(session, access.workspace_id, lead_id)
    found = await merges.suggestions(session, access.workspace_id, lead_id)
    return SuggestionList(
        items=[
            SuggestionOut(
                lead=await _lead(session, access.workspace_id, s.other_lead_id),
                reason=s.reason,
                identity_kind=s.identity_kind,
            )
            for s in found
        ]
    )


@router.get(
    "/merges",
    response_model=MergeList,
    summary="Merges and splits this lead took part in, newest first",
    responses=COMMON,
)
async def list_merges(access: WorkspaceDep, session: SessionDep, lead_id: LeadId) -> MergeList:
    rows = await merges.merges_of(session, access.workspace_id, lead_id)
    if not rows:
        await leads_service.get_lead_id(session, access.workspace_id, lead_id)
    return MergeList(items=[MergeOut.of(r) for r in rows])


@router.post(
    "/merge",
    response_model=MergeResult,
    summary="Merge other_lead_id into this lead (recorded, reversible with unmerge)",
    responses=WRITES,
)
async def merge_lead(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, body: MergeIn
) -> MergeResult:
    record = await merges.merge(
        session, access.workspace_id, lead_id, body.other_lead_id, access.user_id
    )
    return MergeResult(
        lead=await _lead(session, access.workspace_id, lead_id), merge=MergeOut.of(record)
    )


@router.post(
    "/split",
    response_model=MergeResult,
    summary="Move one identity and its messages to a new lead (recorded, reversible)",
    responses=WRITES,
)
async def split_lead(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, body: SplitIn
) -> MergeResult:
    record = await merges.split(
        session, access.workspace_id, lead_id, body.identity_id, access.user_id
    )
    new_lead = await _lead(session, access.workspace_id, record["absorbed_lead_id"])
    return MergeResult(lead=new_lead, merge=MergeOut.of(record))


@router.post(
    "/unmerge",
    response_model=MergeResult,
    summary="Undo a merge (or split) of this lead",
    responses=WRITES,
)
async def unmerge_lead(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, body: UnmergeIn
) -> MergeResult:
    record = await merges.unmerge(
        session, access.workspace_id, lead_id, body.merge_id, access.user_id
    )
    return MergeResult(
        lead=await _lead(session, access.workspace_id, lead_id), merge=MergeOut.of(record)
    )
