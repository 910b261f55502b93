"""Who is looking at a page: the API's own session cookie and CSRF token, read for pages.

Pages authenticate exactly like the API (``auth.deps.get_principal``: the ``rd_session``
cookie, rotation, the double-submit CSRF token on every POST). The one difference is where a
page's POST carries the token: htmx sends the ``X-CSRF-Token`` header (set once on
``<body hx-headers>``), a plain form sends the hidden ``csrf_token`` field, which is read here
before authenticating. Errors become HTML pages (``PageRoute``), not JSON, and a signed-out
visitor is sent to ``/login``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth import service as auth_service
from replydesk.auth.deps import (
    CSRF_FORM_STATE,
    Principal,
    WorkspaceAccess,
    get_principal,
    get_workspace_access,
)
from replydesk.automation import drafts as drafts_service
from replydesk.core import errors
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.http import http_status
from replydesk.core.logging import get_logger
from replydesk.core.security import token_matches
from replydesk.integrations.credentials import service as credentials
from replydesk.web.rendering import render

log = get_logger(__name__)

# Integration health states that gate a provider: the banner names them (docs/web.md).
GATED = frozenset({"disconnected", "auth_failed", "rate_limited"})
PAGE_COOKIES = "page_set_cookies"
# The largest form is a sequence's: 4 fields and 20 step rows of up to 6 (sequence_pages).
MAX_FORM_FIELDS = 130
# The nav's "Drafts" count stops counting here (shown as "99+").
DRAFTS_COUNT_CAP = 100


class SignedOutPage(Exception):
    """Raised by a page dependency: answer with a redirect to the login page."""


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    csrf_token: str
    email: str
    workspaces: list[auth_service.MembershipInfo] = field(default_factory=list)

    @property
    def user_id(self) -> uuid.UUID:
        return self.principal.user_id


async def read_form(request: Request) -> dict[str, str]:
    """The posted form (url-encoded or multipart) as single values; its ``csrf_token`` is
    left where ``auth.deps.check_csrf`` looks when the header is absent."""
    if request.method != "POST":
        return {}
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    token = values.pop("csrf_token", None)
    if token is not None:
        setattr(request.state, CSRF_FORM_STATE, token)
    return values


FormDep = Annotated[dict[str, str], Depends(read_form)]


async def get_viewer(
    request: Request, session: SessionDep, settings: SettingsDep, form: FormDep
) -> Viewer:
    scratch = Response()
    try:
        principal = await get_principal(request, scratch, session, settings)
    except errors.SignedOut as exc:
        raise SignedOutPage() from exc
    if principal.session is None:
        # Pages are for browsers; an API token has no CSRF token to put in forms.
        raise SignedOutPage()
    cookies = [v for k, v in scratch.headers.items() if k == "set-cookie"]
    if cookies:
        setattr(request.state, PAGE_COOKIES, cookies)
    csrf = request.cookies.get(settings.csrf_cookie_name, "")
    if not token_matches(csrf, principal.session.csrf_token_hash):
        csrf = ""  # the forms then fail CSRF: signing in again gives a fresh pair
    info = await auth_service.user_info(session, principal.user_id)
    workspaces = await auth_service.memberships_of(session, principal.user_id)
    return Viewer(principal, csrf, info.email, workspaces)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


@dataclass(frozen=True)
class Place:
    """A workspace page: the viewer, their access there, and the gated integrations."""

    viewer: Viewer
    access: WorkspaceAccess
    gated: list[dict[str, Any]]
    drafts_pending: int = 0

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.access.workspace_id

    def context(self, **values: Any) -> dict[str, Any]:
        current = next(
            (w for w in self.viewer.workspaces if w.workspace_id == self.workspace_id), None
        )
        return {
            "viewer": self.viewer,
            "csrf_token": self.viewer.csrf_token,
            "ws": self.workspace_id,
            "workspace": current,
            "is_admin": self.access.is_admin,
            "gated": self.gated,
            "drafts_pending": self.drafts_pending,
            "drafts_cap": DRAFTS_COUNT_CAP,
            **values,
        }


async def gated_integrations(
    session: AsyncSession, workspace_id: uuid.UUID
) -> list[dict[str, Any]]:
    listing = await credentials.list_integrations(session, workspace_id)
    return [
        {"provider": str(i.provider), "status": str(i.status)}
        for i in listing.items
        if str(i.status) in GATED
    ]


async def get_place(
    workspace_id: Annotated[uuid.UUID, Path()], viewer: ViewerDep, session: SessionDep
) -> Place:
    access = await get_workspace_access(workspace_id, viewer.principal, session)
    pending = await drafts_service.pending_count(session, workspace_id, DRAFTS_COUNT_CAP)
    return Place(viewer, access, await gated_integrations(session, workspace_id), pending)


PlaceDep = Annotated[Place, Depends(get_place)]


async def require_admin_place(place: PlaceDep) -> Place:
    if not place.access.is_admin:
        raise errors.PermissionDenied("this page needs the admin or owner role in the workspace")
    return place


AdminPlaceDep = Annotated[Place, Depends(require_admin_place)]


async def commit_before_answering(session: AsyncSession) -> None:
    """End the request's transaction now, before the answer is sent: FastAPI closes the
    request's session (its commit) only after the response went out, so a browser acting on
    the answer at once (the next htmx click, a redirect's GET) could read the state before
    this change, and an htmx action could be decided on a stale row. Nothing may use the
    session after this (SQLAlchemy refuses it inside the session's ``begin()`` block)."""
    await session.commit()


def _error_page(request: Request, exc: errors.ReplyDeskError) -> Response:
    status = http_status(exc)
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s is not None else None
    titles = {403: "Not allowed", 404: "Not found", 429: "Slow down", 503: "Try again shortly"}
    return render(
        request,
        "error.html",
        {"status": status, "title": titles.get(status, "Something went wrong"), "error": exc},
        status_code=status,
        headers=headers,
    )


class PageRoute(APIRoute):
    """Errors of a page (its dependencies included) answer as HTML pages with the API's
    status; signed out redirects to the login page, keeping where the visitor was going."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignedOutPage:
                target = "/login"
                if request.method == "GET" and request.url.path not in ("/", "/login"):
                    target = f"/login?next={request.url.path}"
                if request.headers.get("hx-request"):
                    return Response(status_code=204, headers={"HX-Redirect": target})
                return Response(status_code=303, headers={"Location": target})
            except errors.ReplyDeskError as exc:
                log.info("page_error", code=exc.code, status=http_status(exc))
                return _error_page(request, exc)

        return page_handler
