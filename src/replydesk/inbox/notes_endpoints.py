"""Notes on a lead: any member writes them; the author or an admin/owner edits or deletes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from replydesk.auth.deps import WorkspaceDep
from replydesk.core.api_params import COMMON, MAX_ID, LeadId
from replydesk.core.deps import SessionDep
from replydesk.core.http import error_doc
from replydesk.inbox.leads import get_lead_id
from replydesk.inbox.schemas import NoteIn, NoteList, NoteOut
from replydesk.leads import markings

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["inbox"])

NoteId = Annotated[int, Path(ge=1, le=MAX_ID, description="Note id")]
WRITE = {**COMMON, 403: error_doc("csrf_failed, or not the author nor an admin/owner")}


@router.get(
    "/leads/{lead_id}/notes",
    response_model=NoteList,
    summary="Notes, newest first",
    responses=COMMON,
)
async def list_notes(access: WorkspaceDep, session: SessionDep, lead_id: LeadId) -> NoteList:
    await get_lead_id(session, access.workspace_id, lead_id)
    items = await markings.list_notes(session, access.workspace_id, lead_id)
    return NoteList.model_validate({"items": items})


@router.post(
    "/leads/{lead_id}/notes",
    response_model=NoteOut,
    status_code=201,
    summary="Add a note (any member)",
    responses=WRITE,
)
async def add_note(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, body: NoteIn
) -> NoteOut:
    note = await markings.add_note(session, access.workspace_id, lead_id, access.user_id, body.body)
    return NoteOut.model_validate(note)


@router.patch(
    "/leads/{lead_id}/notes/{note_id}",
    response_model=NoteOut,
    summary="Edit a note (its author or an admin/owner; idempotent)",
    responses=WRITE,
)
async def edit_note(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, note_id: NoteId, body: NoteIn
) -> NoteOut:
    note = await markings.edit_note(
        session,
        access.workspace_id,
        lead_id,
        note_id,
        access.user_id,
        body.body,
        may_moderate=access.is_admin,
    )
    return NoteOut.model_validate(note)


@router.delete(
    "/leads/{lead_id}/notes/{note_id}",
    status_code=204,
    summary="Delete a note (its author or an admin/owner)",
    responses=WRITE,
)
async def delete_note(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, note_id: NoteId
) -> Response:
    await markings.delete_note(
        session, access.workspace_id, lead_id, note_id, access.user_id, may_moderate=access.is_admin
    )
    return Response(status_code=204)
