"""Follow-up sequences under /api/v1/workspaces/{workspace_id}/ (docs/automation.md
"Sequences"): owners/admins define sequences; any member reads them and enrols, pauses,
resumes or stops a lead's follow-ups (like replying). Thin: ``service`` decides, in the
request's transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from replydesk.auth.deps import AdminDep, WorkspaceDep
from replydesk.automation.sequences import service
from replydesk.automation.sequences.schemas import (
    EnrolIn,
    FollowupList,
    FollowupOut,
    SequenceIn,
    SequenceList,
    SequenceOut,
)
from replydesk.core.api_params import COMMON, MAX_ID, LeadId
from replydesk.core.deps import SessionDep
from replydesk.core.errors import NotFound
from replydesk.core.http import error_doc
from replydesk.leads import context

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["sequences"])

SequenceId = Annotated[int, Path(ge=1, le=MAX_ID, description="Sequence id")]
FollowupId = Annotated[int, Path(ge=1, le=MAX_ID, description="Follow-up (enrolment) id")]
ADMIN = {**COMMON, 403: error_doc("forbidden (not owner/admin) or csrf_failed")}
WRITE = {**COMMON, 403: error_doc("csrf_failed")}
DECIDE = {**WRITE, 409: error_doc("followup_ended (stopped or completed)")}


@router.get(
    "/sequences",
    response_model=SequenceList,
    summary="The workspace's follow-up sequences (oldest first, at most 500)",
    responses=COMMON,
)
async def list_sequences(access: WorkspaceDep, session: SessionDep) -> SequenceList:
    return await service.list_sequences(session, access.workspace_id)


@router.post(
    "/sequences",
    response_model=SequenceOut,
    status_code=201,
    summary="Create a follow-up sequence (owner/admin)",
    responses=ADMIN,
)
async def create_sequence(access: AdminDep, session: SessionDep, body: SequenceIn) -> SequenceOut:
    return await service.create_sequence(session, access.workspace_id, body, access.user_id)


@router.get(
    "/sequences/{sequence_id}",
    response_model=SequenceOut,
    summary="One follow-up sequence",
    responses=COMMON,
)
async def get_sequence(
    access: WorkspaceDep, session: SessionDep, sequence_id: SequenceId
) -> SequenceOut:
    return await service.get_sequence(session, access.workspace_id, sequence_id)


@router.put(
    "/sequences/{sequence_id}",
    response_model=SequenceOut,
    summary="Replace a follow-up sequence (owner/admin); running enrolments keep their step",
    responses=ADMIN,
)
async def put_sequence(
    access: AdminDep, session: SessionDep, sequence_id: SequenceId, body: SequenceIn
) -> SequenceOut:
    return await service.update_sequence(
        session, access.workspace_id, sequence_id, body, access.user_id
    )


@router.get(
    "/leads/{lead_id}/followups",
    response_model=FollowupList,
    summary="The lead's follow-up enrolments",
    responses=COMMON,
)
async def lead_followups(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId
) -> FollowupList:
    if not await context.lead_exists(session, access.workspace_id, lead_id):
        raise NotFound("lead not found")
    return await service.lead_followups(session, access.workspace_id, lead_id)


@router.post(
    "/leads/{lead_id}/followups",
    response_model=FollowupOut,
    status_code=201,
    summary="Enrol the lead in a sequence (201; 200 with the running enrolment when enrolled)",
    responses={
        **WRITE,
        200: {"model": FollowupOut, "description": "already enrolled: the running enrolment"},
        409: error_doc(
            "followup_ended (the lead went through this sequence), sequence_disabled, "
            "unsubscribed, lead_not_followed (meeting booked, bounced, closed)"
        ),
    },
)
async def enrol(
    access: WorkspaceDep, session: SessionDep, response: Response, lead_id: LeadId, body: EnrolIn
) -> FollowupOut:
    shown, created = await service.enrol(
        session, access.workspace_id, lead_id, body.sequence_id, access.user_id
    )
    if not created:
        response.status_code = 200
    return shown


@router.post(
    "/leads/{lead_id}/followups/{followup_id}/pause",
    response_model=FollowupOut,
    summary="Pause the follow-up (a paused one answers as it is)",
    responses=DECIDE,
)
async def pause(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, followup_id: FollowupId
) -> FollowupOut:
    return await service.pause(session, access.workspace_id, lead_id, followup_id)


@router.post(
    "/leads/{lead_id}/followups/{followup_id}/resume",
    response_model=FollowupOut,
    summary="Resume a paused follow-up (an active one answers as it is)",
    responses=DECIDE,
)
async def resume(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, followup_id: FollowupId
) -> FollowupOut:
    return await service.resume(session, access.workspace_id, lead_id, followup_id)


@router.post(
    "/leads/{lead_id}/followups/{followup_id}/stop",
    response_model=FollowupOut,
    summary="Stop the follow-up for good (stop_reason manual; a finished one answers as it is)",
    responses=WRITE,
)
async def stop(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, followup_id: FollowupId
) -> FollowupOut:
    return await service.stop(session, access.workspace_id, lead_id, followup_id)
