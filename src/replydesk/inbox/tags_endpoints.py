"""Workspace tags: any member creates, attaches and detaches; an admin/owner renames or
deletes (a rename or delete changes every lead that carries the tag)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.deps import AdminDep, WorkspaceAccess, WorkspaceDep
from replydesk.core.api_params import COMMON, MAX_ID, LeadId
from replydesk.core.deps import SessionDep
from replydesk.core.http import error_doc
from replydesk.inbox.leads import get_lead_id
from replydesk.inbox.schemas import TagIn, TagList, TagOut
from replydesk.leads import markings

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["inbox"])

TagId = Annotated[int, Path(ge=1, le=MAX_ID, description="Tag id")]
WRITE = {**COMMON, 403: error_doc("csrf_failed")}
NAMED = {**WRITE, 409: error_doc("conflict: the name is taken")}
ADMIN = {**COMMON, 403: error_doc("forbidden (role) or csrf_failed")}


@router.get("/tags", response_model=TagList, summary="The workspace's tags", responses=COMMON)
async def list_tags(access: WorkspaceDep, session: SessionDep) -> TagList:
    return TagList.model_validate({"items": await markings.list_tags(session, access.workspace_id)})


@router.post(
    "/tags", response_model=TagOut, status_code=201, summary="Create a tag", responses=NAMED
)
async def create_tag(access: WorkspaceDep, session: SessionDep, body: TagIn) -> TagOut:
    return TagOut.model_validate(await markings.create_tag(session, access.workspace_id, body.name))


@router.patch(
    "/tags/{tag_id}",
    response_model=TagOut,
    summary="Rename a tag (admin or owner)",
    responses={**ADMIN, 409: error_doc("conflict: the name is taken")},
)
async def rename_tag(access: AdminDep, session: SessionDep, tag_id: TagId, body: TagIn) -> TagOut:
    return TagOut.model_validate(
        await markings.rename_tag(session, access.workspace_id, tag_id, body.name)
    )


@router.delete(
    "/tags/{tag_id}",
    status_code=204,
    summary="Delete a tag and detach it from every lead (admin or owner)",
    responses=ADMIN,
)
async def delete_tag(access: AdminDep, session: SessionDep, tag_id: TagId) -> Response:
    await markings.delete_tag(session, access.workspace_id, tag_id)
    return Response(status_code=204)


@router.get(
    "/leads/{lead_id}/tags", response_model=TagList, summary="A lead's tags", responses=COMMON
)
async def lead_tags(access: WorkspaceDep, session: SessionDep, lead_id: LeadId) -> TagList:
    await get_lead_id(session, access.workspace_id, lead_id)
    items = await markings.lead_tags(session, access.workspace_id, lead_id)
    return TagList.model_validate({"items": items})


async def _lead_and_tag(
    session: AsyncSession, access: WorkspaceAccess, lead_id: int, tag_id: int
) -> None:
    """Both must be the workspace's (404 naming which is not)."""
    await get_lead_id(session, access.workspace_id, lead_id)
    await markings.get_tag(session, access.workspace_id, tag_id)


@router.put(
    "/leads/{lead_id}/tags/{tag_id}",
    status_code=204,
    summary="Attach a tag (idempotent)",
    responses=WRITE,
)
async def attach_tag(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, tag_id: TagId
) -> Response:
    await _lead_and_tag(session, access, lead_id, tag_id)
    await markings.attach_tag(session, access.workspace_id, lead_id, tag_id)
    return Response(status_code=204)


@router.delete(
    "/leads/{lead_id}/tags/{tag_id}",
    status_code=204,
    summary="Detach a tag (idempotent)",
    responses=WRITE,
)
async def detach_tag(
    access: WorkspaceDep, session: SessionDep, lead_id: LeadId, tag_id: TagId
) -> Response:
    await _lead_and_tag(session, access, lead_id, tag_id)
    await markings.detach_tag(session, access.workspace_id, lead_id, tag_id)
    return Response(status_code=204)
