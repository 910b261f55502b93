"""The inbox page: sidebar counts (polled), filters, search and the keyset-paged lead list.

Everything comes from the services the read API uses (``inbox.counts``, ``inbox.leads``,
``leads.markings``): the page has no query or rule of its own.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import InvalidInput, Unavailable
from replydesk.core.settings import Settings
from replydesk.inbox import counts as counts_service
from replydesk.inbox import leads as leads_service
from replydesk.leads import markings
from replydesk.leads.vocabulary import Channel, LeadStatus
from replydesk.web.deps import PageRoute, Place, PlaceDep
from replydesk.web.rendering import redirect, render

router = APIRouter(prefix="/w/{workspace_id}", include_in_schema=False, route_class=PageRoute)

PAGE_SIZE = 50
# How often the sidebar asks for fresh counts (the issue: at most 5 s).
COUNTS_POLL_S = 3
SORTS = {"last_message": "Newest activity", "oldest_waiting": "Oldest waiting"}
VIEWS = {"requires_attention": "Requires attention", "unread": "Unread", "all": "All"}
# Offered when the workspace has an attention SLA (or the URL asks for it).
SLA_VIEW = ("sla_breached", "SLA breaches")

Filter = Annotated[str, Query(max_length=200)]
Text = Annotated[str, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=512)]


async def sidebar_counts(
    request: Request, place: Place, settings: Settings, session: SessionDep
) -> dict[str, Any]:
    cache: counts_service.CountsCache = request.app.state.inbox_counts_cache
    try:
        counts, unread = await counts_service.counts_and_unread(
            session, place.workspace_id, place.viewer.user_id, settings, cache
        )
    except Unavailable:
        return {"counts": None, "unread": None}
    return {"counts": counts, "unread": unread}


@router.get("")
async def workspace_home(place: PlaceDep, request: Request) -> Response:
    return redirect(request, f"/w/{place.workspace_id}/inbox")


@router.get("/inbox/counts")
async def counts_fragment(
    place: PlaceDep, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    values = await sidebar_counts(request, place, settings, session)
    tags = await markings.list_tags(session, place.workspace_id)
    return render(
        request,
        "inbox.html",
        place.context(**values, tags=tags, poll_s=COUNTS_POLL_S, query={}),
        block="counts",
    )


def _filters(view: str, channel: str, category: str, tag: str) -> list[str]:
    filters = [view] if view in ("requires_attention", "unread", SLA_VIEW[0]) else []
    if channel:
        filters.append(f"channel:{channel}")
    if category:
        filters.append(f"category:{category}")
    if tag:
        filters.append(f"tag:{tag}")
    return filters or ["all"]


@router.get("/inbox")
async def inbox(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    view: Filter = "requires_attention",
    channel: Filter = "",
    category: Filter = "",
    tag: Filter = "",
    status: Filter = "",
    q: Text = "",
    sort: Filter = "last_message",
    cursor: Cursor = None,
) -> Response:
    query_values = {
        "view": view,
        "channel": channel,
        "category": category,
        "tag": tag,
        "status": status,
        "q": q,
        "sort": sort,
    }
    error = None
    try:
        page = await leads_service.list_leads(
            session,
            place.workspace_id,
            place.viewer.user_id,
            leads_service.LeadQuery(
                filters=_filters(view, channel, category, tag),
                q=q.strip() or None,
                assignee=None,
                limit=PAGE_SIZE,
                after=cursor,
                statuses=[status] if status else [],
                sort=sort,
            ),
            settings.inbox_statement_timeout_ms,
        )
    except InvalidInput as exc:
        # A hand-edited URL (unknown sort, status or filter): say so above an empty list.
        page, error = leads_service.Page([], None), exc.message
    unread = await leads_service.unread_among(
        session, place.workspace_id, place.viewer.user_id, [lead["id"] for lead in page.items]
    )
    more_url = None
    if page.next_cursor:
        kept = {k: v for k, v in query_values.items() if v}
        more_url = (
            f"/w/{place.workspace_id}/inbox?{urlencode({**kept, 'cursor': page.next_cursor})}"
        )
    context = place.context(
        leads=page.items,
        unread_ids=unread,
        more_url=more_url,
        query=query_values,
        list_error=error,
        sorts=SORTS,
        channels=[c.value for c in Channel],
        statuses=[s.value for s in LeadStatus],
        poll_s=COUNTS_POLL_S,
    )
    target = request.headers.get("hx-target")
    if request.headers.get("hx-request") and cursor is not None:
        return render(request, "inbox.html", context, block="rows")
    if request.headers.get("hx-request") and target == "lead-list":
        return render(request, "inbox.html", context, block="lead_list")
    values = await sidebar_counts(request, place, settings, session)
    tags = await markings.list_tags(session, place.workspace_id)
    counts = values["counts"]
    views = list(VIEWS.items())
    if view == SLA_VIEW[0] or (counts is not None and counts.sla_breached is not None):
        views.insert(1, SLA_VIEW)
    return render(request, "inbox.html", {**context, **values, "tags": tags, "views": views})
