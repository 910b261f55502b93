"""``POST /api/v1/workspaces/{workspace_id}/leads/{lead_id}/sync`` (owner/admin; cookie
sessions need the CSRF header). Queues a ``lead.sync`` job; no provider is called here."""

from __future__ import annotations

from fastapi import APIRouter

from replydesk.auth.deps import AdminDep
from replydesk.core.api_params import LeadId
from replydesk.core.deps import SessionDep
from replydesk.core.http import error_doc
from replydesk.integrations.sync import service
from replydesk.integrations.sync.schemas import SyncQueued

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/leads", tags=["sync"])


@router.post(
    "/{lead_id}/sync",
    status_code=202,
    response_model=SyncQueued,
    responses={
        401: error_doc("signed_out"),
        403: error_doc("forbidden (not owner/admin) or csrf_failed"),
        404: error_doc("not_found: no such lead in this workspace (also: another workspace)"),
        422: error_doc("validation_error (e.g. a lead id out of range)"),
    },
)
async def sync_lead(access: AdminDep, session: SessionDep, lead_id: LeadId) -> SyncQueued:
    """Queue a pull of the lead's history from each configured provider (EmailBison replies
    and sent e-mails, GHL SMS). Deduplicated while a sync of the lead waits."""
    return await service.request_sync(session, access.workspace_id, lead_id)
