"""Integration settings under /api/v1/workspaces/{workspace_id}/integrations (owner/admin for
writes; cookie sessions need the CSRF header, see auth/deps.py). Thin: ``service`` decides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from replydesk.auth.deps import AdminDep, WorkspaceDep
from replydesk.core.crypto import KeyRing
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.http import error_doc
from replydesk.core.urlguard import OutboundPolicy
from replydesk.integrations.credentials import service
from replydesk.integrations.credentials.schemas import (
    CheckQueued,
    EmailBisonIn,
    GhlIn,
    IntegrationList,
    IntegrationOut,
    OpenAiIn,
    SlackIn,
    UnipileIn,
)
from replydesk.integrations.credentials.vocabulary import Integration

router = APIRouter(prefix="/api/v1/workspaces/{workspace_id}/integrations", tags=["integrations"])

ProviderPath = Annotated[
    Integration, Path(description="emailbison | ghl | unipile | slack | openai")
]
COMMON: dict[int | str, dict[str, object]] = {
    401: error_doc("signed_out"),
    404: error_doc("not_found (also: another workspace's id)"),
    422: error_doc("validation_error (e.g. an unknown provider)"),
}
WRITE: dict[int | str, dict[str, object]] = {
    **COMMON,
    403: error_doc("forbidden (not owner/admin) or csrf_failed"),
    422: error_doc("validation_error, unprocessable_entity or outbound_url_refused"),
    503: error_doc("secret_key_missing: set REPLYDESK_SECRET_KEY"),
}


def _keyring(request: Request) -> KeyRing:
    """Built in the lifespan by the composition root (replydesk/app.py)."""
    keyring: KeyRing = request.app.state.keyring
    return keyring


async def _put(
    request: Request,
    access: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    provider: Integration,
    body: BaseModel,
) -> IntegrationOut:
    return await service.put_integration(
        session,
        _keyring(request),
        OutboundPolicy.from_settings(settings),
        access.workspace_id,
        provider,
        body,
    )


@router.get(
    "",
    response_model=IntegrationList,
    summary="Every integration, secrets masked",
    responses=COMMON,
)
async def list_integrations(access: WorkspaceDep, session: SessionDep) -> IntegrationList:
    return await service.list_integrations(session, access.workspace_id)


@router.put("/emailbison", response_model=IntegrationOut, responses=WRITE)
async def put_emailbison(
    request: Request,
    access: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    body: EmailBisonIn,
) -> IntegrationOut:
    """Store EmailBison credentials (host must be on the allowlist); queues a check."""
    return await _put(request, access, session, settings, Integration.EMAILBISON, body)


@router.put("/ghl", response_model=IntegrationOut, responses=WRITE)
async def put_ghl(
    request: Request, access: AdminDep, session: SessionDep, settings: SettingsDep, body: GhlIn
) -> IntegrationOut:
    """Store GoHighLevel credentials; queues a check."""
    return await _put(request, access, session, settings, Integration.GHL, body)


@router.put("/unipile", response_model=IntegrationOut, responses=WRITE)
async def put_unipile(
    request: Request, access: AdminDep, session: SessionDep, settings: SettingsDep, body: UnipileIn
) -> IntegrationOut:
    """Store Unipile credentials; queues a check."""
    return await _put(request, access, session, settings, Integration.UNIPILE, body)


@router.put("/slack", response_model=IntegrationOut, responses=WRITE)
async def put_slack(
    request: Request, access: AdminDep, session: SessionDep, settings: SettingsDep, body: SlackIn
) -> IntegrationOut:
    """Store the Slack incoming-webhook URL (it is the secret)."""
    return await _put(request, access, session, settings, Integration.SLACK, body)


@router.put("/openai", response_model=IntegrationOut, responses=WRITE)
async def put_openai(
    request: Request, access: AdminDep, session: SessionDep, settings: SettingsDep, body: OpenAiIn
) -> IntegrationOut:
    """Store this workspace's AI provider (an OpenAI-compatible Responses API; omitted
    base_url/model take the instance defaults); queues a check. Without it, the instance key
    (REPLYDESK_AI_API_KEY) is used, and without that the offline engine."""
    return await service.put_integration(
        session,
        _keyring(request),
        OutboundPolicy.from_settings(settings),
        access.workspace_id,
        Integration.OPENAI,
        body,
        {"base_url": settings.ai_base_url, "model": settings.ai_model},
    )


@router.delete("/{provider}", status_code=204, responses={**COMMON, 403: error_doc("forbidden")})
async def delete_integration(
    access: AdminDep, session: SessionDep, provider: ProviderPath
) -> Response:
    """Remove the credentials and their health."""
    await service.delete_integration(session, access.workspace_id, provider)
    return Response(status_code=204)


@router.post(
    "/{provider}/check",
    status_code=202,
    response_model=CheckQueued,
    responses={**COMMON, 403: error_doc("forbidden")},
)
async def check_integration(
    access: AdminDep, session: SessionDep, provider: ProviderPath
) -> CheckQueued:
    """Queue a health check (one at a time: a pending check is not queued twice)."""
    return await service.request_check(session, access.workspace_id, provider)
