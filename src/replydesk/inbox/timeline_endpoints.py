"""A lead's timeline and the signed-in user's read mark on it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from replydesk.auth.deps import WorkspaceDep
from replydesk.core.api_params import COMMON, LeadId
from replydesk.core.deps import SessionDep
from replydesk.core.http import error_doc
from replydesk.inbox import timeline as timeline_service
from replydesk.inbox.endpoints import BUDGETED, PagingDep
from replydesk.inbox.leads import get_lead_id
from replydesk.inbox.schemas import TimelinePage
from replydesk.leads import markings

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["inbox"])

WRITE = {**COMMON, 403: error_doc("csrf_failed")}


@router.get(
    "/leads/{lead_id}/timeline",
    response_model=TimelinePage,
    summary="Messages, events and notes in one stream; newest page first, oldest→newest in it",
    responses=BUDGETED,
)
async def lead_timeline(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, paged: PagingDep
) -> TimelinePage:
    page = await timeline_service.timeline(
        session, access.workspace_id, lead_id, paged.cursor, paged.limit, paged.timeout_ms
    )
    return TimelinePage.model_validate(page, from_attributes=True)


@router.post(
    "/leads/{lead_id}/read",
    status_code=204,
    summary="Mark read for me, up to the lead's newest inbound message (idempotent)",
    responses=WRITE,
)
async def mark_read(access: WorkspaceDep, session: SessionDep, lead_id: LeadId) -> Response:
    await get_lead_id(session, access.workspace_id, lead_id)
    await markings.mark_read(session, access.workspace_id, lead_id, access.user_id)
    return Response(status_code=204)


@router.post(
    "/leads/{lead_id}/unread",
    status_code=204,
    summary="Mark unread for me (idempotent)",
    responses=WRITE,
)
async def mark_unread(access: WorkspaceDep, session: SessionDep, lead_id: LeadId) -> Response:
    await get_lead_id(session, access.workspace_id, lead_id)
    await markings.mark_unread(session, access.workspace_id, lead_id, access.user_id)
    return Response(status_code=204)
