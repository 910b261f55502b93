"""The lead page: one timeline of every channel, identities, notes, tags, category, snooze,
assignee, status, merge, the reply composer, the draft panel (``draft_pages``) and the
follow-ups panel (``followup_pages``).

Every action calls the service its API endpoint calls (``inbox.leads.patch_lead`` with the
API's own ``LeadPatch`` validation, ``leads.markings``, ``leads.merges``) and then sends the
browser back to the lead page (303, or ``HX-Redirect`` for htmx).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError

from replydesk.auth import members as members_service
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import Conflict, InvalidInput, NotFound
from replydesk.inbox import leads as leads_service
from replydesk.inbox import timeline as timeline_service
from replydesk.inbox.schemas import LeadPatch
from replydesk.leads import markings, merges
from replydesk.leads.vocabulary import Channel, LeadStatus
from replydesk.web import draft_pages, followup_pages, replies
from replydesk.web.deps import FormDep, PageRoute, Place, PlaceDep
from replydesk.web.rendering import redirect, render

router = APIRouter(prefix="/w/{workspace_id}/leads", include_in_schema=False, route_class=PageRoute)

MAX_ID = 2**63 - 1
LeadId = Annotated[int, Path(ge=1, le=MAX_ID)]
TagId = Annotated[int, Path(ge=1, le=MAX_ID)]
TIMELINE_PAGE = 50
LEAD_FIELDS = ("status", "category", "snoozed_until", "assignee")


def _lead_url(place: Place, lead_id: int) -> str:
    return f"/w/{place.workspace_id}/leads/{lead_id}"


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


def lead_patch(form: dict[str, str]) -> LeadPatch:
    """The API's own patch body from a form: an empty field clears (null), as in the API."""
    body: dict[str, Any] = {}
    for name in LEAD_FIELDS:
        if name not in form:
            continue
        value = form[name].strip()
        if name == "snoozed_until" and value:
            # <input type=datetime-local> has no zone: the page labels it UTC.
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput("snoozed_until: not a date and time") from None
            value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()
        body[name] = value or None
    try:
        return LeadPatch.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(_validation_message(exc)) from None


async def _lead_context(
    place: Place, session: SessionDep, settings: SettingsDep, lead_id: int
) -> dict[str, Any]:
    lead = await leads_service.get_lead(session, place.workspace_id, lead_id)
    page = await timeline_service.timeline(
        session,
        place.workspace_id,
        lead_id,
        None,
        TIMELINE_PAGE,
        settings.inbox_statement_timeout_ms,
    )
    members = await members_service.list_members(session, place.workspace_id)
    return place.context(
        lead=lead,
        timeline=page.items,
        older_cursor=page.next_cursor,
        identities=await merges.identities_of(session, place.workspace_id, lead_id),
        suggestions=await merges.suggestions(session, place.workspace_id, lead_id),
        lead_tags=await markings.lead_tags(session, place.workspace_id, lead_id),
        all_tags=await markings.list_tags(session, place.workspace_id),
        members=members,
        member_names={m.user_id: m.display_name or m.email for m in members},
        statuses=[s.value for s in LeadStatus],
        channels=[c.value for c in Channel],
        reply_channels=replies.channels_for(lead),
        channel_states=await replies.channel_states(session, place.access, lead_id),
        reply_available=replies.available(),
        leads={lead_id: lead},
        **await draft_pages.lead_panel(session, place, lead_id),
        **await followup_pages.lead_panel(session, place, lead_id),
    )


@router.get("/{lead_id}")
async def lead_page(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lead_id: LeadId,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    if cursor is not None:
        page = await timeline_service.timeline(
            session,
            place.workspace_id,
            lead_id,
            cursor,
            TIMELINE_PAGE,
            settings.inbox_statement_timeout_ms,
        )
        members = await members_service.list_members(session, place.workspace_id)
        context = place.context(
            lead={"id": lead_id},
            timeline=page.items,
            older_cursor=page.next_cursor,
            member_names={m.user_id: m.display_name or m.email for m in members},
        )
        return render(request, "lead.html", context, block="timeline_page")
    try:
        context = await _lead_context(place, session, settings, lead_id)
    except NotFound:
        into = await merges.merged_into(session, place.workspace_id, lead_id)
        if into is None:
            raise
        return redirect(request, _lead_url(place, into))
    return render(request, "lead.html", context)


@router.post("/{lead_id}/update")
async def update_lead(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, form: FormDep
) -> Response:
    patch = lead_patch(form)
    await leads_service.patch_lead(
        session, place.workspace_id, lead_id, patch, actor_user_id=place.viewer.user_id
    )
    return redirect(request, _lead_url(place, lead_id))


@router.post("/{lead_id}/read")
async def mark_read(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId
) -> Response:
    await leads_service.get_lead_id(session, place.workspace_id, lead_id)
    await markings.mark_read(session, place.workspace_id, lead_id, place.viewer.user_id)
    return Response(status_code=204)


@router.post("/{lead_id}/unread")
async def mark_unread(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId
) -> Response:
    await leads_service.get_lead_id(session, place.workspace_id, lead_id)
    await markings.mark_unread(session, place.workspace_id, lead_id, place.viewer.user_id)
    return redirect(request, f"/w/{place.workspace_id}/inbox")


@router.post("/{lead_id}/notes")
async def add_note(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, form: FormDep
) -> Response:
    body = form.get("body", "").strip()
    if not body:
        raise InvalidInput("body: the note is empty")
    await markings.add_note(session, place.workspace_id, lead_id, place.viewer.user_id, body)
    return redirect(request, _lead_url(place, lead_id))


@router.post("/{lead_id}/tags")
async def add_tag(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, form: FormDep
) -> Response:
    name = form.get("name", "").strip()
    if not name:
        raise InvalidInput("name: the tag name is empty")
    await leads_service.get_lead_id(session, place.workspace_id, lead_id)
    existing = {t["name"]: t for t in await markings.list_tags(session, place.workspace_id)}
    tag = existing.get(name)
    if tag is None:
        try:
            async with session.begin_nested():
                tag = await markings.create_tag(session, place.workspace_id, name)
        except Conflict:  # created meanwhile by someone else: use theirs
            tag = {t["name"]: t for t in await markings.list_tags(session, place.workspace_id)}[
                name
            ]
    await markings.attach_tag(session, place.workspace_id, lead_id, tag["id"])
    return redirect(request, _lead_url(place, lead_id))


@router.post("/{lead_id}/tags/{tag_id}/remove")
async def remove_tag(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, tag_id: TagId
) -> Response:
    await markings.detach_tag(session, place.workspace_id, lead_id, tag_id)
    return redirect(request, _lead_url(place, lead_id))


@router.post("/{lead_id}/merge")
async def merge_lead(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, form: FormDep
) -> Response:
    other = form.get("other_lead_id", "").strip()
    if not other.isdigit() or not 1 <= int(other) <= MAX_ID:
        raise InvalidInput("other_lead_id: enter the id of the lead to merge into this one")
    await merges.merge(session, place.workspace_id, lead_id, int(other), place.viewer.user_id)
    return redirect(request, _lead_url(place, lead_id))


@router.post("/{lead_id}/reply")
async def send_reply(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lead_id: LeadId,
    form: FormDep,
) -> Response:
    """The reply composer's post: ``replies.send`` is the one call into the reply service."""
    text = form.get("body", "").strip()
    channel = form.get("channel", "")
    subject = form.get("subject", "").strip() or None
    if not text:
        raise InvalidInput("body: the reply is empty")
    await leads_service.get_lead_id(session, place.workspace_id, lead_id)
    await replies.send(
        session, settings, place.access, lead_id, channel=channel, text=text, subject=subject
    )
    return redirect(request, _lead_url(place, lead_id))


@router.post("/{lead_id}/quarantine/{channel}/lift")
async def lift_quarantine(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, channel: Channel
) -> Response:
    await leads_service.get_lead_id(session, place.workspace_id, lead_id)
    await replies.lift_quarantine(session, place.access, lead_id, channel)
    return redirect(request, _lead_url(place, lead_id))
