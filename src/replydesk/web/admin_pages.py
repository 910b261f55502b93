"""Admin pages (owner/admin only; a member gets the 403 page): integrations, members and
API tokens, dead letters with payload and replay, queue figures.

Each calls the service its API endpoint calls (``integrations.credentials.service``,
``auth.members``, ``auth.service``, ``inbox.events``); secrets are write-only: a stored key is
only ever shown as its ``…last4`` hint, a new API token or invitation once, on the page that
created it.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError

from replydesk.auth import members as members_service
from replydesk.auth import service as auth_service
from replydesk.core.crypto import KeyRing
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import InvalidInput
from replydesk.core.urlguard import OutboundPolicy
from replydesk.inbox import events as events_service
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.credentials.schemas import (
    EmailBisonIn,
    GhlIn,
    OpenAiIn,
    SlackIn,
    UnipileIn,
)
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.queue.models import QUEUE_STATUSES
from replydesk.web.deps import AdminPlaceDep, FormDep, PageRoute, Place
from replydesk.web.lead_pages import MAX_ID
from replydesk.web.rendering import redirect, render

router = APIRouter(prefix="/w/{workspace_id}/admin", include_in_schema=False, route_class=PageRoute)

EventId = Annotated[int, Path(ge=1, le=MAX_ID)]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]
EVENTS_PAGE = 50

# Each integration's form: its body model and fields (label, name, kind); kind "secret"
# fields are password inputs that are never filled in from stored values.
FORMS: dict[Integration, tuple[type[BaseModel], list[tuple[str, str, str]]]] = {
    Integration.EMAILBISON: (
        EmailBisonIn,
        [("Instance URL", "base_url", "url"), ("API key", "api_key", "secret")],
    ),
    Integration.GHL: (
        GhlIn,
        [
            ("Location id", "location_id", "text"),
            ("Private integration token", "api_key", "secret"),
            ("API base URL", "base_url", "url"),
        ],
    ),
    Integration.UNIPILE: (
        UnipileIn,
        [
            ("DSN URL", "base_url", "url"),
            ("API key", "api_key", "secret"),
            ("Account id", "account_id", "text"),
        ],
    ),
    Integration.SLACK: (SlackIn, [("Incoming-webhook URL", "webhook_url", "secret")]),
    Integration.OPENAI: (
        OpenAiIn,
        [
            ("API base URL (empty: the instance default)", "base_url", "url"),
            ("API key", "api_key", "secret"),
            ("Model (empty: the instance default)", "model", "text"),
        ],
    ),
}


def _base(place: Place) -> str:
    return f"/w/{place.workspace_id}/admin"


@router.get("")
async def admin_home(place: AdminPlaceDep, request: Request) -> Response:
    return redirect(request, f"{_base(place)}/integrations")


# --- integrations ----------------------------------------------------------------------------


async def _integrations_page(
    request: Request, place: Place, session: SessionDep, status_code: int = 200, **extra: Any
) -> Response:
    listing = await credentials.list_integrations(session, place.workspace_id)
    return render(
        request,
        "admin_integrations.html",
        place.context(listing=listing, forms=FORMS, section="integrations", **extra),
        status_code=status_code,
    )


@router.get("/integrations")
async def integrations_page(
    place: AdminPlaceDep, request: Request, session: SessionDep
) -> Response:
    return await _integrations_page(request, place, session)


@router.post("/integrations/{provider}")
async def save_integration(
    place: AdminPlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    provider: Integration,
    form: FormDep,
) -> Response:
    model, fields = FORMS[provider]
    body = {name: form[name] for _, name, _ in fields if form.get(name, "").strip()}
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid')}"
        return await _integrations_page(
            request, place, session, 422, form_error={"provider": str(provider), "message": message}
        )
    keyring: KeyRing = request.app.state.keyring
    try:
        await credentials.put_integration(
            session,
            keyring,
            OutboundPolicy.from_settings(settings),
            place.workspace_id,
            provider,
            parsed,
        )
    except InvalidInput as exc:
        return await _integrations_page(
            request,
            place,
            session,
            422,
            form_error={"provider": str(provider), "message": exc.message},
        )
    return redirect(request, f"{_base(place)}/integrations")


@router.post("/integrations/{provider}/check")
async def check_integration(
    place: AdminPlaceDep, request: Request, session: SessionDep, provider: Integration
) -> Response:
    await credentials.request_check(session, place.workspace_id, provider)
    return redirect(request, f"{_base(place)}/integrations")


# --- members and tokens ----------------------------------------------------------------------


async def _members_page(
    request: Request, place: Place, session: SessionDep, **extra: Any
) -> Response:
    return render(
        request,
        "admin_members.html",
        place.context(
            members=await members_service.list_members(session, place.workspace_id),
            tokens=await auth_service.list_api_tokens(session, place.workspace_id),
            roles=["member", "admin", "owner"],
            section="members",
            **extra,
        ),
    )


@router.get("/members")
async def members_page(place: AdminPlaceDep, request: Request, session: SessionDep) -> Response:
    return await _members_page(request, place, session)


@router.post("/members/{user_id}/role")
async def change_role(
    place: AdminPlaceDep, request: Request, session: SessionDep, user_id: uuid.UUID, form: FormDep
) -> Response:
    await members_service.change_role(
        session, place.workspace_id, place.access.role, user_id, form.get("role", "")
    )
    return redirect(request, f"{_base(place)}/members")


@router.post("/members/{user_id}/remove")
async def remove_member(
    place: AdminPlaceDep, request: Request, session: SessionDep, user_id: uuid.UUID
) -> Response:
    await members_service.remove_member(session, place.workspace_id, place.access.role, user_id)
    return redirect(request, f"{_base(place)}/members")


@router.post("/invitations")
async def invite(
    place: AdminPlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: FormDep,
) -> Response:
    created = await members_service.invite(
        session,
        place.workspace_id,
        email=form.get("email", "").strip(),
        role=form.get("role", "member"),
        actor_role=place.access.role,
        invited_by=place.viewer.user_id,
        lifetime_s=settings.invitation_lifetime_s,
    )
    return await _members_page(request, place, session, invitation=created)


@router.post("/tokens")
async def create_token(
    place: AdminPlaceDep, request: Request, session: SessionDep, form: FormDep
) -> Response:
    name = form.get("name", "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("name: 1 to 100 characters")
    created = await auth_service.insert_api_token(
        session, place.workspace_id, place.viewer.user_id, name
    )
    return await _members_page(request, place, session, new_token=created)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(
    place: AdminPlaceDep, request: Request, session: SessionDep, token_id: TokenId
) -> Response:
    await auth_service.revoke_api_token(session, token_id, workspace_id=place.workspace_id)
    return redirect(request, f"{_base(place)}/members")


# --- dead letters and queue ------------------------------------------------------------------


@router.get("/events")
async def events_page(
    place: AdminPlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[str, Query(max_length=20)] = "dead",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    page = await events_service.list_events(
        session,
        place.workspace_id,
        status=status or None,
        provider=None,
        after=cursor,
        limit=EVENTS_PAGE,
        timeout_ms=settings.inbox_statement_timeout_ms,
    )
    counts = await events_service.status_counts(
        session, place.workspace_id, settings.inbox_statement_timeout_ms
    )
    return render(
        request,
        "admin_events.html",
        place.context(
            events=page.items,
            next_cursor=page.next_cursor,
            status=status,
            statuses=QUEUE_STATUSES,
            counts=counts,
            cap=events_service.STATUS_COUNT_CAP,
            section="events",
        ),
    )


@router.get("/events/{event_id}")
async def event_page(
    place: AdminPlaceDep, request: Request, session: SessionDep, event_id: EventId
) -> Response:
    detail = await events_service.event_detail(
        session, place.workspace_id, event_id, reveal=place.access.is_admin
    )
    return render(
        request,
        "admin_event.html",
        place.context(
            event=detail,
            payload=json.dumps(detail["payload"], indent=2, ensure_ascii=False, default=str),
            section="events",
        ),
    )


@router.post("/events/{event_id}/replay")
async def replay_event(
    place: AdminPlaceDep, request: Request, session: SessionDep, event_id: EventId
) -> Response:
    await events_service.replay_event(session, place.workspace_id, event_id)
    return redirect(request, f"{_base(place)}/events/{event_id}")
