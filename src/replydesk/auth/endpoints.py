"""POST /api/v1/auth/login, POST /api/v1/auth/logout, GET /api/v1/me."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from replydesk.auth import service
from replydesk.auth.deps import (
    PrincipalDep,
    check_csrf,
    clear_cookies,
    set_csrf_cookie,
    set_session_cookie,
)
from replydesk.auth.schemas import (
    AuthInfo,
    LoginRequest,
    LoginResponse,
    MeResponse,
    UserOut,
    WorkspaceMembershipOut,
)
from replydesk.auth.sessions import end_session, resolve_session
from replydesk.core.deps import DatabaseDep, SessionDep, SettingsDep
from replydesk.core.http import error_doc
from replydesk.core.logging import get_logger

router = APIRouter(prefix="/api/v1", tags=["auth"])
log = get_logger(__name__)

SIGNED_OUT: dict[int | str, dict[str, Any]] = {401: error_doc("signed_out: no valid credential")}


def _memberships(items: list[service.MembershipInfo]) -> list[WorkspaceMembershipOut]:
    return [
        WorkspaceMembershipOut.model_validate(
            {"id": m.workspace_id, "name": m.name, "role": m.role}
        )
        for m in items
    ]


def _user(info: service.UserInfo) -> UserOut:
    return UserOut(id=info.id, email=info.email, display_name=info.display_name)


@router.post(
    "/auth/login",
    response_model=LoginResponse,
    summary="Sign in with e-mail and password; sets the session and CSRF cookies",
    responses={
        401: error_doc("invalid_credentials"),
        422: error_doc("validation_error"),
        429: error_doc("too_many_requests (per IP or account)"),
    },
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: DatabaseDep,
    settings: SettingsDep,
) -> LoginResponse:
    result = await service.login(
        db,
        settings,
        email=body.email,
        password=body.password,
        ip=request.client.host if request.client else "unknown",
        presented_cookie=request.cookies.get(settings.session_cookie_name),
    )
    max_age = max(1, int((result.session.expires_at - datetime.now(UTC)).total_seconds()))
    set_session_cookie(response, settings, result.session.token, max_age)
    set_csrf_cookie(response, settings, result.session.csrf_token, max_age)
    response.headers["Cache-Control"] = "no-store"
    return LoginResponse(
        user=_user(result.user),
        workspaces=_memberships(result.workspaces),
        csrf_token=result.session.csrf_token,
        expires_at=result.session.expires_at,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="End the browser session (idempotent); clears the cookies",
    responses={403: error_doc("csrf_failed")},
)
async def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    response = Response(status_code=204)
    cookie = request.cookies.get(settings.session_cookie_name)
    if cookie:
        active = await resolve_session(session, cookie, settings, rotate=False)
        if active is not None:
            check_csrf(request, active)
            await end_session(session, active.session_id)
            log.info("logout", user_id=str(active.user_id))
    clear_cookies(response, settings)
    return response


@router.get(
    "/me",
    response_model=MeResponse,
    summary="The signed-in user and the workspaces this credential can see",
    responses=SIGNED_OUT,
)
async def me(principal: PrincipalDep, session: SessionDep) -> MeResponse:
    info = await service.user_info(session, principal.user_id)
    workspaces = await service.memberships_of(
        session, principal.user_id, only=principal.token_workspace_id
    )
    if principal.kind == "token":
        auth = AuthInfo(kind="token", token_workspace_id=principal.token_workspace_id)
    else:
        assert principal.session is not None
        auth = AuthInfo(kind="session", expires_at=principal.session.expires_at)
    return MeResponse(user=_user(info), workspaces=_memberships(workspaces), auth=auth)
