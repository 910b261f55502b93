"""Administration API: workspaces of the caller, members, invitations, API tokens, the webhook
token. Everything under a workspace needs the admin or owner role there (``AdminDep``);
another workspace's ids answer 404 like unknown ones."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from replydesk.auth import members, service
from replydesk.auth.admin_schemas import (
    IdentitySettingsOut,
    IdentitySettingsPatch,
    InvitationAccept,
    InvitationAccepted,
    InvitationCreate,
    InvitationOut,
    MemberList,
    MemberOut,
    RoleChange,
    TokenCreate,
    TokenCreatedOut,
    TokenList,
    TokenOut,
    TokenRevoked,
    WebhookTokenRotated,
    WorkspaceList,
)
from replydesk.auth.deps import AdminDep, PrincipalDep
from replydesk.auth.schemas import WorkspaceMembershipOut
from replydesk.core.deps import DatabaseDep, SessionDep, SettingsDep
from replydesk.core.http import error_doc
from replydesk.core.logging import get_logger
from replydesk.workspaces import service as workspaces

router = APIRouter(prefix="/api/v1", tags=["admin"])
log = get_logger(__name__)

MAX_ID = 2**63 - 1
UserId = Annotated[uuid.UUID, Path(description="Member's user id")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="API token id")]
WS = "/workspaces/{workspace_id}"

ADMIN: dict[int | str, dict[str, Any]] = {
    401: error_doc("signed_out"),
    403: error_doc("forbidden (role) or csrf_failed"),
    404: error_doc("not_found (also: another workspace's id)"),
    422: error_doc("validation_error"),
}
CHANGE: dict[int | str, dict[str, Any]] = {
    **ADMIN,
    409: error_doc("conflict: the workspace's last owner"),
}


@router.get(
    "/workspaces",
    response_model=WorkspaceList,
    summary="Workspaces the caller belongs to, with its role (any member)",
    responses={401: error_doc("signed_out")},
)
async def list_my_workspaces(principal: PrincipalDep, session: SessionDep) -> WorkspaceList:
    found = await service.memberships_of(
        session, principal.user_id, only=principal.token_workspace_id
    )
    return WorkspaceList(
        items=[
            WorkspaceMembershipOut.model_validate(
                {"id": m.workspace_id, "name": m.name, "role": m.role}
            )
            for m in found
        ]
    )


@router.get(f"{WS}/members", response_model=MemberList, summary="Members", responses=ADMIN)
async def list_members(access: AdminDep, session: SessionDep) -> MemberList:
    found = await members.list_members(session, access.workspace_id)
    return MemberList(items=[MemberOut.model_validate(m, from_attributes=True) for m in found])


@router.patch(
    f"{WS}/members/{{user_id}}",
    response_model=MemberOut,
    summary="Change a member's role (only owners make or change owners; never the last owner)",
    responses=CHANGE,
)
async def change_role(
    access: AdminDep, session: SessionDep, user_id: UserId, body: RoleChange
) -> MemberOut:
    changed = await members.change_role(
        session, access.workspace_id, access.role, user_id, body.role
    )
    log.info("member_role_changed", workspace_id=str(access.workspace_id),
             user_id=str(user_id), role=body.role, by=str(access.user_id))  # fmt: skip
    return MemberOut.model_validate(changed, from_attributes=True)


@router.delete(
    f"{WS}/members/{{user_id}}",
    status_code=204,
    summary="Remove a member and revoke their API tokens here (never the last owner)",
    responses=CHANGE,
)
async def remove_member(access: AdminDep, session: SessionDep, user_id: UserId) -> Response:
    await members.remove_member(session, access.workspace_id, access.role, user_id)
    log.info("member_removed", workspace_id=str(access.workspace_id), user_id=str(user_id),
             by=str(access.user_id))  # fmt: skip
    return Response(status_code=204)


@router.post(
    f"{WS}/invitations",
    response_model=InvitationOut,
    status_code=201,
    summary="Invite an e-mail address: a one-time token, valid REPLYDESK_INVITATION_LIFETIME_S",
    responses={**ADMIN, 409: error_doc("conflict: already a member")},
)
async def invite(
    access: AdminDep, session: SessionDep, settings: SettingsDep, body: InvitationCreate
) -> InvitationOut:
    created = await members.invite(
        session,
        access.workspace_id,
        email=body.email,
        role=body.role,
        actor_role=access.role,
        invited_by=access.user_id,
        lifetime_s=settings.invitation_lifetime_s,
    )
    log.info("invitation_created", workspace_id=str(access.workspace_id),
             invitation_id=created.invitation_id, role=created.role)  # fmt: skip
    return InvitationOut.model_validate(created, from_attributes=True)


@router.post(
    "/invitations/accept",
    response_model=InvitationAccepted,
    summary="Accept an invitation (no sign-in): sets the new account's password, creates "
    "the membership; single use",
    responses={
        401: error_doc("invalid_credentials: an existing account's password is wrong"),
        404: error_doc("not_found: unknown, used or expired invitation"),
        422: error_doc("validation_error (password policy)"),
    },
)
async def accept_invitation(body: InvitationAccept, session: SessionDep) -> InvitationAccepted:
    accepted = await members.accept_invitation(
        session, body.token, password=body.password, display_name=body.display_name
    )
    log.info("invitation_accepted", workspace_id=str(accepted.workspace_id),
             user_id=str(accepted.user_id), created_user=accepted.created_user)  # fmt: skip
    return InvitationAccepted.model_validate(accepted, from_attributes=True)


@router.get(f"{WS}/api-tokens", response_model=TokenList, summary="API tokens", responses=ADMIN)
async def list_tokens(access: AdminDep, session: SessionDep) -> TokenList:
    found = await service.list_api_tokens(session, access.workspace_id)
    return TokenList(items=[TokenOut.model_validate(t, from_attributes=True) for t in found])


@router.post(
    f"{WS}/api-tokens",
    response_model=TokenCreatedOut,
    status_code=201,
    summary="Create an API token acting as the caller in this workspace (shown once)",
    responses=ADMIN,
)
async def create_token(access: AdminDep, session: SessionDep, body: TokenCreate) -> TokenCreatedOut:
    created = await service.insert_api_token(
        session, access.workspace_id, access.user_id, body.name
    )
    log.info("api_token_created", workspace_id=str(access.workspace_id),
             token_id=created.token_id)  # fmt: skip
    return TokenCreatedOut.model_validate(created, from_attributes=True)


@router.delete(
    f"{WS}/api-tokens/{{token_id}}",
    response_model=TokenRevoked,
    summary="Revoke an API token (idempotent)",
    responses=ADMIN,
)
async def revoke_token(access: AdminDep, session: SessionDep, token_id: TokenId) -> TokenRevoked:
    revoked_at = await service.revoke_api_token(session, token_id, access.workspace_id)
    log.info("api_token_revoked", workspace_id=str(access.workspace_id), token_id=token_id)
    return TokenRevoked(token_id=token_id, revoked_at=revoked_at)


@router.post(
    f"{WS}/webhook-token/rotate",
    response_model=WebhookTokenRotated,
    summary="New webhook token; the old one works for REPLYDESK_WEBHOOK_TOKEN_GRACE_S more",
    responses=ADMIN,
)
async def rotate_webhook_token(
    access: AdminDep, db: DatabaseDep, settings: SettingsDep, request: Request
) -> WebhookTokenRotated:
    async with db.session() as session:
        rotated = await workspaces.rotate_webhook_token(
            session, access.workspace_id, settings.webhook_token_grace_s
        )
    # After the commit: this process's webhook auth cache forgets the workspace at once
    # (the composition root wires the hook); other processes within their cache TTL.
    forget: Callable[[uuid.UUID], None] | None = getattr(
        request.app.state, "forget_webhook_auth", None
    )
    if forget is not None:
        forget(access.workspace_id)
    log.info("webhook_token_rotated", workspace_id=str(access.workspace_id),
             by=str(access.user_id))  # fmt: skip
    return WebhookTokenRotated(
        webhook_token=rotated.webhook_token, previous_valid_until=rotated.previous_valid_until
    )


def _identity_out(current: workspaces.IdentitySettings) -> IdentitySettingsOut:
    return IdentitySettingsOut(
        default_phone_region=current.default_phone_region,
        phone_variables=list(current.phone_variables),
        linkedin_variables=list(current.linkedin_variables),
    )


@router.get(
    f"{WS}/settings/identity",
    response_model=IdentitySettingsOut,
    summary="How events are read for identities: phone region, variable names",
    responses=ADMIN,
)
async def get_identity_settings(access: AdminDep, session: SessionDep) -> IdentitySettingsOut:
    return _identity_out(await workspaces.identity_settings(session, access.workspace_id))


@router.patch(
    f"{WS}/settings/identity",
    response_model=IdentitySettingsOut,
    summary="Change the phone region or the variable names (new events only)",
    responses=ADMIN,
)
async def patch_identity_settings(
    access: AdminDep, session: SessionDep, body: IdentitySettingsPatch
) -> IdentitySettingsOut:
    current = await workspaces.update_identity_settings(
        session,
        access.workspace_id,
        default_phone_region=body.default_phone_region,
        phone_variables=body.phone_variables,
        linkedin_variables=body.linkedin_variables,
    )
    return _identity_out(current)
