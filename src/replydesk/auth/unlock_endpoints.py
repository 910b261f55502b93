"""POST /api/v1/workspaces/{workspace_id}/members/{user_id}/unlock (owner or admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from replydesk.auth import service
from replydesk.auth.deps import AdminDep
from replydesk.auth.schemas import UnlockResponse
from replydesk.core.deps import SessionDep
from replydesk.core.http import error_doc

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}", tags=["auth"])


@router.post(
    "/members/{user_id}/unlock",
    response_model=UnlockResponse,
    summary="Clear a member's login rate limits (owner or admin)",
    responses={
        401: error_doc("signed_out"),
        403: error_doc("forbidden: needs the owner or admin role"),
        404: error_doc("not_found: no such workspace, or the user is not a member of it"),
        422: error_doc("validation_error: user_id is not a UUID"),
    },
)
async def unlock_member(
    access: AdminDep,
    session: SessionDep,
    user_id: Annotated[uuid.UUID, Path(description="The member's user id")],
) -> UnlockResponse:
    unlocked = await service.unlock_member(session, access.workspace_id, user_id)
    return UnlockResponse(user_id=unlocked.user_id, counters_cleared=unlocked.counters_cleared)
