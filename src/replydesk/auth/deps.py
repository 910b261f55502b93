"""Who is calling, and in which workspace: typed FastAPI dependencies.

Bearer tokens win over cookies. A missing or dead credential is the normal signed-out
state: 401 ``signed_out``, logged at debug, and nothing is refreshed or retried.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Depends, Path, Request, Response
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.errors import CsrfFailed
from replydesk.auth.models import ApiToken, Membership
from replydesk.auth.sessions import ActiveSession, resolve_session
from replydesk.auth.vocabulary import Role
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import NotFound, PermissionDenied, SignedOut
from replydesk.core.logging import get_logger
from replydesk.core.security import hash_token, token_matches
from replydesk.core.settings import Settings

log = get_logger(__name__)

CSRF_HEADER = "X-CSRF-Token"
# request.state attribute holding the csrf_token field of a page's form post.
CSRF_FORM_STATE = "csrf_form_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})
# last_used_at is written at most this often per token (one UPDATE, not one per request).
TOKEN_TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    kind: Literal["token", "session"]
    # Token: the one workspace it is scoped to, and the owner's role there.
    token_id: int | None = None
    token_workspace_id: uuid.UUID | None = None
    token_role: str | None = None
    session: ActiveSession | None = None


@dataclass(frozen=True)
class WorkspaceAccess:
    """The caller's membership in the workspace of the URL; every query is scoped by it."""

    workspace_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    principal: Principal

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


def signed_out(reason: str, message: str = "sign in to continue") -> SignedOut:
    log.debug("signed_out", reason=reason)
    return SignedOut(message)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise signed_out("bad_authorization_header", "Authorization must be 'Bearer <token>'")
    return value.strip()


async def _token_principal(session: AsyncSession, token: str) -> Principal | None:
    found = (
        select(ApiToken.id, ApiToken.workspace_id, ApiToken.user_id, ApiToken.last_used_at)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
        .cte("found")
    )
    touch = (
        update(ApiToken)
        .where(
            ApiToken.id == found.c.id,
            or_(
                found.c.last_used_at.is_(None),
                found.c.last_used_at < func.now() - TOKEN_TOUCH_INTERVAL,
            ),
        )
        .values(last_used_at=func.now())
        .cte("touch")
    )
    # The token's owner must still be a member: removing someone disables their tokens.
    stmt = (
        select(found.c.id, found.c.workspace_id, found.c.user_id, Membership.role)
        .join(
            Membership,
            (Membership.workspace_id == found.c.workspace_id)
            & (Membership.user_id == found.c.user_id),
        )
        .add_cte(touch)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    return Principal(
        user_id=row.user_id,
        kind="token",
        token_id=row.id,
        token_workspace_id=row.workspace_id,
        token_role=row.role,
    )


def _set_cookie(
    response: Response, settings: Settings, name: str, token: str, max_age: int, *, httponly: bool
) -> None:
    response.set_cookie(
        name,
        token,
        max_age=max_age,
        path="/",
        httponly=httponly,
        secure=settings.cookie_secure,
        samesite=settings.cookie_samesite,
    )


def set_session_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    _set_cookie(response, settings, settings.session_cookie_name, token, max_age, httponly=True)


def set_csrf_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    # Readable by the page's script on purpose (double-submit); useless without the session.
    _set_cookie(response, settings, settings.csrf_cookie_name, token, max_age, httponly=False)


def clear_cookies(response: Response, settings: Settings) -> None:
    for name, httponly in (
        (settings.session_cookie_name, True),
        (settings.csrf_cookie_name, False),
    ):
        response.delete_cookie(
            name,
            path="/",
            httponly=httponly,
            secure=settings.cookie_secure,
            samesite=settings.cookie_samesite,
        )


def _expired_cookie_header(settings: Settings) -> str:
    scratch = Response()
    scratch.delete_cookie(
        settings.session_cookie_name,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite=settings.cookie_samesite,
    )
    return scratch.headers["set-cookie"]


def check_csrf(request: Request, active: ActiveSession) -> None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        # A server-rendered form post (replydesk.web) sends the same token as a form field;
        # the page reads the form before authenticating and leaves the value here.
        presented = getattr(request.state, CSRF_FORM_STATE, None)
    if not presented or not token_matches(presented, active.csrf_token_hash):
        log.info("csrf_rejected", has_header=presented is not None)
        raise CsrfFailed(
            f"cookie-authenticated {request.method} needs a valid {CSRF_HEADER} header"
        )


async def get_principal(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> Principal:
    token = bearer_token(request)
    if token is not None:
        principal = await _token_principal(session, token)
        if principal is None:
            raise signed_out("unknown_or_revoked_token", "API token is unknown or revoked")
        return principal
    cookie = request.cookies.get(settings.session_cookie_name)
    if not cookie:
        # No cookie: signed out. Nothing to refresh, nothing to look up.
        raise signed_out("no_credentials")
    active = await resolve_session(session, cookie, settings)
    if active is None:
        error = signed_out("session_expired", "session expired; sign in again")
        # Error responses are built by the handler, so the clearing cookie rides on the error.
        error.headers["set-cookie"] = _expired_cookie_header(settings)
        raise error
    if request.method not in SAFE_METHODS:
        check_csrf(request, active)
    if active.rotated_token is not None:
        remaining = int((active.expires_at - datetime.now(UTC)).total_seconds())
        set_session_cookie(response, settings, active.rotated_token, max(remaining, 1))
    return Principal(user_id=active.user_id, kind="session", session=active)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_workspace_access(
    workspace_id: Annotated[uuid.UUID, Path(description="Workspace id")],
    principal: PrincipalDep,
    session: SessionDep,
) -> WorkspaceAccess:
    """404 for any workspace the caller is not a member of (its existence is not leaked)."""
    if principal.kind == "token":
        if principal.token_workspace_id != workspace_id or principal.token_role is None:
            log.debug("workspace_not_visible", reason="token_scope")
            raise NotFound("workspace not found")
        role = principal.token_role
    else:
        found = (
            await session.execute(
                select(Membership.role).where(
                    Membership.workspace_id == workspace_id,
                    Membership.user_id == principal.user_id,
                )
            )
        ).scalar_one_or_none()
        if found is None:
            log.debug("workspace_not_visible", reason="no_membership")
            raise NotFound("workspace not found")
        role = found
    return WorkspaceAccess(workspace_id, principal.user_id, role, principal)


WorkspaceDep = Annotated[WorkspaceAccess, Depends(get_workspace_access)]


async def require_admin(access: WorkspaceDep) -> WorkspaceAccess:
    if not access.is_admin:
        raise PermissionDenied("this action needs the admin or owner role in the workspace")
    return access


AdminDep = Annotated[WorkspaceAccess, Depends(require_admin)]
