"""Drafts and automation settings under /api/v1/workspaces/{workspace_id}/ (docs/automation.md):
any member reviews drafts (like replying); owners/admins change the settings. Thin: the
``drafts`` service decides, in the request's transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from replydesk.auth.deps import AdminDep, WorkspaceDep
from replydesk.automation import drafts
from replydesk.automation.schemas import (
    ApproveIn,
    AutomationSettingsIn,
    AutomationSettingsOut,
    AvailabilityIn,
    AvailabilityOut,
    DraftList,
    DraftOut,
    MeetingIn,
    MeetingOut,
    RejectIn,
)
from replydesk.automation.vocabulary import DraftStatus
from replydesk.core.api_params import COMMON, MAX_ID, Cursor, LeadId, Limit
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import InvalidInput, NotFound
from replydesk.core.http import error_doc
from replydesk.leads import context

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["automation"])

DraftId = Annotated[int, Path(ge=1, le=MAX_ID, description="Draft id")]
PAGED = {**COMMON, 400: error_doc("bad_request: invalid cursor")}
DECIDE = {
    **COMMON,
    403: error_doc("csrf_failed"),
    409: error_doc(
        "draft_not_pending (rejected or superseded); approving also: unsubscribed, "
        "integration_not_configured, integration_disconnected, recipient_unreachable"
    ),
}


def _limit(limit: int, settings_max: int) -> int:
    if limit > settings_max:
        raise InvalidInput(f"limit must be at most {settings_max}")
    return limit


@router.get(
    "/settings/automation",
    response_model=AutomationSettingsOut,
    summary="Automation settings (defaults until a PUT)",
    responses=COMMON,
)
async def get_automation_settings(
    access: WorkspaceDep, session: SessionDep
) -> AutomationSettingsOut:
    return await drafts.get_settings(session, access.workspace_id)


@router.put(
    "/settings/automation",
    response_model=AutomationSettingsOut,
    summary="Replace the automation settings (owner/admin): auto-send, SLA, persona, offer, "
    "signature, banned phrases",
    responses={**COMMON, 403: error_doc("forbidden (not owner/admin) or csrf_failed")},
)
async def put_automation_settings(
    access: AdminDep, session: SessionDep, body: AutomationSettingsIn
) -> AutomationSettingsOut:
    return await drafts.put_settings(session, access.workspace_id, body, access.user_id)


@router.get(
    "/settings/availability",
    response_model=AvailabilityOut,
    summary="Meeting availability (404 until a PUT)",
    responses=COMMON,
)
async def get_availability(access: WorkspaceDep, session: SessionDep) -> AvailabilityOut:
    found = await drafts.get_availability(session, access.workspace_id)
    if found is None:
        raise NotFound("no availability is set: PUT settings/availability")
    return found


@router.put(
    "/settings/availability",
    response_model=AvailabilityOut,
    summary="Replace the meeting availability (owner/admin): timezone, weekly windows, slot "
    "length, booking link",
    responses={**COMMON, 403: error_doc("forbidden (not owner/admin) or csrf_failed")},
)
async def put_availability(
    access: AdminDep, session: SessionDep, body: AvailabilityIn
) -> AvailabilityOut:
    return await drafts.put_availability(session, access.workspace_id, body, access.user_id)


@router.get(
    "/leads/{lead_id}/drafts",
    response_model=DraftList,
    summary="A lead's drafts, newest first",
    responses=PAGED,
)
async def lead_drafts(
    access: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    lead_id: LeadId,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DraftList:
    if not await context.lead_exists(session, access.workspace_id, lead_id):
        raise NotFound("lead not found")
    size = _limit(limit, settings.inbox_page_size_max)
    return await drafts.lead_drafts(session, access.workspace_id, lead_id, size, cursor)


@router.get(
    "/drafts",
    response_model=DraftList,
    summary="Drafts by status: pending_review is the approval queue, oldest first",
    responses=PAGED,
)
async def list_drafts(
    access: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    status: DraftStatus = DraftStatus.PENDING_REVIEW,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DraftList:
    size = _limit(limit, settings.inbox_page_size_max)
    return await drafts.list_drafts(session, access.workspace_id, status, size, cursor)


@router.post(
    "/drafts/{draft_id}/approve",
    response_model=DraftOut,
    status_code=202,
    summary="Approve a draft (optionally edited): its reply is queued through the reply path",
    responses=DECIDE,
)
async def approve_draft(
    access: WorkspaceDep,
    session: SessionDep,
    settings: SettingsDep,
    draft_id: DraftId,
    body: ApproveIn | None = None,
) -> DraftOut:
    edit = body.body if body is not None else None
    return await drafts.approve(
        session, settings, access.workspace_id, draft_id, access.user_id, edit
    )


@router.post(
    "/drafts/{draft_id}/reject",
    response_model=DraftOut,
    summary="Reject a draft",
    responses=DECIDE,
)
async def reject_draft(
    access: WorkspaceDep, session: SessionDep, draft_id: DraftId, body: RejectIn | None = None
) -> DraftOut:
    reason = body.reason if body is not None else None
    return await drafts.reject(session, access.workspace_id, draft_id, access.user_id, reason)


@router.post(
    "/leads/{lead_id}/meeting",
    response_model=MeetingOut,
    summary="Book a meeting with the lead: its status becomes meeting_booked",
    responses={**COMMON, 403: error_doc("csrf_failed")},
)
async def book_meeting(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, body: MeetingIn
) -> MeetingOut:
    return await drafts.book_meeting(
        session, access.workspace_id, lead_id, body.start, access.user_id
    )
