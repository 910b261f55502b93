"""Templates and assets of the pages: Jinja2 from the package, fragments by block name.

A page is one template; an htmx request for part of it renders one named block of the same
template (``jinja2-fragments``), so a fragment and its page can never drift apart.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def _ago(value: datetime | None) -> str:
    if value is None:
        return "—"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


def lead_name(lead: dict[str, Any]) -> str:
    name = " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    return (
        name
        or lead.get("email")
        or lead.get("phone_e164")
        or lead.get("linkedin_profile_url")
        or f"Lead {lead['id']}"
    )


PROVIDER_NAMES = {
    "emailbison": "EmailBison",
    "ghl": "GoHighLevel",
    "unipile": "Unipile",
    "slack": "Slack",
    "openai": "AI provider (OpenAI-compatible)",
}


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(str(provider), str(provider))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    env.filters["ago"] = _ago
    env.filters["when"] = _when
    env.filters["lead_name"] = lead_name
    env.filters["provider"] = provider_name
    env.globals["static"] = static_url
    return env


@cache
def _static_digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """A cache-busting URL of a packaged asset (the digest changes with the file)."""
    return f"/static/{name}?v={_static_digest(name)}"


def static_asset(name: str) -> tuple[bytes, str] | None:
    """The bytes and type of a packaged asset; None for anything that is not one."""
    path = STATIC / name
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        return None
    return path.read_bytes(), kind


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    block: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The whole page, or one block of it (``block``) for an htmx swap."""
    env = environment()
    values = {"request": request, **context}
    if block is not None:
        html = render_block(env, template, block, values)
    else:
        html = env.get_template(template).render(values)
    return with_page_cookies(request, HTMLResponse(html, status_code=status_code, headers=headers))


def with_page_cookies(request: Request, response: Response) -> Response:
    """A rotated session cookie the request's authentication issued rides on the answer."""
    for cookie in getattr(request.state, "page_set_cookies", ()):
        response.headers.append("set-cookie", cookie)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def redirect(request: Request, location: str) -> Response:
    """After a form post: 303 for a plain form, ``HX-Redirect`` for htmx."""
    if request.headers.get("hx-request"):
        return with_page_cookies(
            request, Response(status_code=204, headers={"HX-Redirect": location})
        )
    return with_page_cookies(request, Response(status_code=303, headers={"Location": location}))
