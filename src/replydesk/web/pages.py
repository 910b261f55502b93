"""Signing in and out, the first-run setup page, the start page and the packaged assets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from replydesk.auth import service as auth_service
from replydesk.auth.deps import check_csrf, clear_cookies, set_csrf_cookie, set_session_cookie
from replydesk.auth.errors import InvalidCredentials
from replydesk.auth.sessions import end_session, resolve_session
from replydesk.core.deps import DatabaseDep, SessionDep, SettingsDep
from replydesk.core.errors import InvalidInput, NotFound, RateLimited
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.web.deps import FormDep, PageRoute, ViewerDep
from replydesk.web.first_run import FirstRun
from replydesk.web.rendering import redirect, render, static_asset

router = APIRouter(include_in_schema=False, route_class=PageRoute)
log = get_logger(__name__)

Next = Annotated[str | None, Query(max_length=300)]
PASSWORD_MIN, PASSWORD_MAX = 10, 1024


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (no scheme, no ``//host``): never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _home(workspaces: list[auth_service.MembershipInfo]) -> str:
    return f"/w/{workspaces[0].workspace_id}/inbox" if workspaces else "/no-workspace"


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(
    request: Request, settings: Settings, result: auth_service.LoginResult, location: str
) -> Response:
    response = redirect(request, location)
    max_age = max(1, int((result.session.expires_at - datetime.now(UTC)).total_seconds()))
    set_session_cookie(response, settings, result.session.token, max_age)
    set_csrf_cookie(response, settings, result.session.csrf_token, max_age)
    return response


@router.get("/")
async def start(viewer: ViewerDep, request: Request) -> Response:
    return redirect(request, _home(viewer.workspaces))


@router.get("/switch")
async def switch_workspace(
    viewer: ViewerDep, request: Request, to: Annotated[uuid.UUID, Query()]
) -> Response:
    """The workspace switcher (a plain GET form): only to a workspace of the viewer's."""
    if not any(w.workspace_id == to for w in viewer.workspaces):
        raise NotFound("workspace not found")
    return redirect(request, f"/w/{to}/inbox")


@router.get("/no-workspace")
async def no_workspace(viewer: ViewerDep, request: Request) -> Response:
    return render(request, "no_workspace.html", {"viewer": viewer, "csrf_token": viewer.csrf_token})


@router.get("/login")
async def login_page(request: Request, next: Next = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "email": ""})


@router.post("/login")
async def login_submit(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    email, password = form.get("email", "").strip(), form.get("password", "")
    target = _safe_next(form.get("next"))
    context = {"next": target, "email": email}
    if not email or not password:
        return render(
            request,
            "login.html",
            {**context, "error": "Enter your e-mail and password."},
            status_code=422,
        )
    try:
        result = await auth_service.login(
            db,
            settings,
            email=email,
            password=password,
            ip=_client_ip(request),
            presented_cookie=request.cookies.get(settings.session_cookie_name),
        )
    except InvalidCredentials:
        return render(
            request,
            "login.html",
            {**context, "error": "E-mail or password is wrong."},
            status_code=401,
        )
    except RateLimited as exc:
        return render(
            request,
            "login.html",
            {**context, "error": f"Too many sign-in attempts. Try again in {exc.retry_after_s} s."},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    return _signed_in(request, settings, result, target or _home(result.workspaces))


@router.post("/logout")
async def logout(
    request: Request, session: SessionDep, settings: SettingsDep, form: FormDep
) -> Response:
    cookie = request.cookies.get(settings.session_cookie_name)
    if cookie:
        active = await resolve_session(session, cookie, settings, rotate=False)
        if active is not None:
            check_csrf(request, active)  # a forged sign-out is refused like any other post
            await end_session(session, active.session_id)
            log.info("logout", user_id=str(active.user_id))
    response = redirect(request, "/login")
    clear_cookies(response, settings)
    return response


def _first_run(request: Request) -> FirstRun:
    """Built in the lifespan by the composition root (replydesk/app.py)."""
    state: FirstRun = request.app.state.first_run
    return state


@router.get("/setup")
async def setup_page(
    request: Request, token: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    if not _first_run(request).accepts(token):
        raise NotFound("this setup link is unknown or was already used")
    return render(request, "setup.html", {"token": token, "values": {}})


@router.post("/setup")
async def setup_submit(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    first = _first_run(request)
    token = form.get("token")
    if not first.accepts(token):
        raise NotFound("this setup link is unknown or was already used")
    values = {k: form.get(k, "").strip() for k in ("workspace", "email")}
    password = form.get("password", "")
    problem = None
    if not values["workspace"] or len(values["workspace"]) > 200:
        problem = "Name the workspace (1 to 200 characters)."
    elif "@" not in values["email"]:
        problem = "Enter an e-mail address."
    elif not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        problem = f"The password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters."
    if problem is not None:
        return render(
            request,
            "setup.html",
            {"token": token, "values": values, "error": problem},
            status_code=422,
        )
    try:
        async with db.session() as session:
            created = await auth_service.create_first_owner(
                session,
                workspace_name=values["workspace"],
                email=values["email"],
                password=password,
            )
    except InvalidInput as exc:
        return render(
            request,
            "setup.html",
            {"token": token, "values": values, "error": exc.message},
            status_code=422,
        )
    first.used()
    if created is None:
        raise NotFound("this setup link is unknown or was already used")
    log.info("first_run_setup_done", workspace_id=str(created.workspace_id))
    result = await auth_service.login(
        db,
        settings,
        email=values["email"],
        password=password,
        ip=_client_ip(request),
        presented_cookie=None,
    )
    return _signed_in(request, settings, result, f"/w/{created.workspace_id}/inbox")


@router.get("/static/{name}")
async def static(name: str, v: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """A packaged asset; ``v`` is the cache-busting digest of ``static_url``."""
    found = static_asset(name)
    if found is None:
        raise NotFound("no such asset")
    body, kind = found
    return Response(
        body, media_type=kind, headers={"Cache-Control": "public, max-age=86400, immutable"}
    )
