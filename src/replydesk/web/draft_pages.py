"""The approval queue and the drafts' decisions (approve, edit then approve, reject).

Every decision calls the service the draft API calls (``automation.drafts.approve`` /
``reject``, with the API's own ``ApproveIn`` / ``RejectIn`` validation), so an approval goes
through the reply path exactly as ``POST drafts/{id}/approve`` does. An htmx post answers
with the draft's item in its new state (swapped in place); a plain form post goes back to the
page it came from.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import drafts as drafts_service
from replydesk.automation.schemas import ApproveIn, DraftOut, RejectIn
from replydesk.automation.vocabulary import DraftStatus
from replydesk.core.deps import SessionDep, SettingsDep
from replydesk.core.errors import Conflict, InvalidInput, NotFound, ReplyDeskError
from replydesk.inbox import leads as leads_service
from replydesk.web.deps import DRAFTS_COUNT_CAP, FormDep, PageRoute, Place, PlaceDep
from replydesk.web.inbox_pages import COUNTS_POLL_S
from replydesk.web.rendering import redirect, render

router = APIRouter(prefix="/w/{workspace_id}", include_in_schema=False, route_class=PageRoute)

MAX_ID = 2**63 - 1
DraftId = Annotated[int, Path(ge=1, le=MAX_ID)]
Cursor = Annotated[str | None, Query(max_length=512)]
QUEUE_PAGE = 25
LEAD_DRAFTS = 20
VIEWS = ("queue", "lead")


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


async def lead_names(
    session: AsyncSession, workspace_id: uuid.UUID, items: list[DraftOut]
) -> dict[int, dict[str, Any]]:
    """The leads of a page of drafts (one read per distinct lead; a page is bounded)."""
    found: dict[int, dict[str, Any]] = {}
    for lead_id in dict.fromkeys(d.lead_id for d in items):
        try:
            found[lead_id] = await leads_service.get_lead(session, workspace_id, lead_id)
        except NotFound:  # merged away meanwhile: the item still shows, with its id
            found[lead_id] = {"id": lead_id}
    return found


def pending_first(items: list[DraftOut]) -> list[DraftOut]:
    """The lead page's order: pending drafts first, each group newest first (as listed)."""
    return sorted(items, key=lambda d: d.status is not DraftStatus.PENDING_REVIEW)


async def lead_panel(session: AsyncSession, place: Place, lead_id: int) -> dict[str, Any]:
    """The lead page's draft panel: the lead's newest drafts, pending first."""
    listing = await drafts_service.lead_drafts(
        session, place.workspace_id, lead_id, LEAD_DRAFTS, None
    )
    return {"drafts": pending_first(listing.items), "drafts_view": "lead"}


@router.get("/drafts")
async def queue_page(
    place: PlaceDep, request: Request, session: SessionDep, cursor: Cursor = None
) -> Response:
    page = await drafts_service.list_drafts(
        session, place.workspace_id, DraftStatus.PENDING_REVIEW, QUEUE_PAGE, cursor
    )
    more_url = (
        f"/w/{place.workspace_id}/drafts?cursor={page.next_cursor}" if page.next_cursor else None
    )
    context = place.context(
        drafts=page.items,
        leads=await lead_names(session, place.workspace_id, page.items),
        more_url=more_url,
        drafts_view="queue",
        newest_id=await drafts_service.newest_pending_id(session, place.workspace_id),
        new_count=0,
        poll_s=COUNTS_POLL_S,
    )
    if request.headers.get("hx-request") and cursor is not None:
        return render(request, "drafts.html", context, block="rows")
    return render(request, "drafts.html", context)


@router.get("/drafts/fresh")
async def fresh(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Response:
    """Polled by the queue page: a notice when drafts arrived after it was drawn (the list
    itself is not redrawn under an operator's edits)."""
    count = await drafts_service.pending_count(
        session, place.workspace_id, DRAFTS_COUNT_CAP, after_id=after
    )
    context = place.context(newest_id=after, new_count=count, poll_s=COUNTS_POLL_S)
    return render(request, "drafts.html", context, block="fresh")


def _view(form: dict[str, str]) -> str:
    view = form.get("view", "queue")
    return view if view in VIEWS else "queue"


async def _answer(
    request: Request,
    session: AsyncSession,
    place: Place,
    draft: DraftOut,
    view: str,
    error: str | None = None,
) -> Response:
    if not request.headers.get("hx-request"):
        if error is not None:
            raise Conflict(error)
        if view == "lead":
            return redirect(request, f"/w/{place.workspace_id}/leads/{draft.lead_id}")
        return redirect(request, f"/w/{place.workspace_id}/drafts")
    leads = await lead_names(session, place.workspace_id, [draft])
    context = place.context(d=draft, leads=leads, drafts_view=view, draft_error=error)
    return render(request, "draft_item.html", context)


async def _decide_in_place(
    request: Request,
    session: AsyncSession,
    place: Place,
    draft_id: int,
    view: str,
    exc: ReplyDeskError,
) -> Response:
    """A refused decision (not pending any more, unsubscribed, gated …): htmx shows the item
    as it now is with the refusal; a plain form gets the error page."""
    if not request.headers.get("hx-request") or not isinstance(exc, Conflict | InvalidInput):
        raise exc
    current = await drafts_service.get_draft(session, place.workspace_id, draft_id)
    return await _answer(request, session, place, current, view, exc.message)


@router.post("/drafts/{draft_id}/approve")
async def approve(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    draft_id: DraftId,
    form: FormDep,
) -> Response:
    view = _view(form)
    current = await drafts_service.get_draft(session, place.workspace_id, draft_id)
    edit: str | None = None
    if "body" in form:
        # A browser posts a textarea with CRLF line ends: the unchanged text is no edit.
        text = form["body"].replace("\r\n", "\n")
        if text != current.body:
            try:
                edit = ApproveIn.model_validate({"body": text}).body
            except ValidationError as exc:
                return await _decide_in_place(
                    request, session, place, draft_id, view, InvalidInput(_validation_message(exc))
                )
    try:
        # A savepoint: a refused reply undoes the approval before the page answers 200.
        async with session.begin_nested():
            done = await drafts_service.approve(
                session, settings, place.workspace_id, draft_id, place.viewer.user_id, edit
            )
    except (Conflict, InvalidInput) as exc:
        return await _decide_in_place(request, session, place, draft_id, view, exc)
    return await _answer(request, session, place, done, view)


@router.post("/drafts/{draft_id}/reject")
async def reject(
    place: PlaceDep, request: Request, session: SessionDep, draft_id: DraftId, form: FormDep
) -> Response:
    view = _view(form)
    try:
        reason = RejectIn.model_validate({"reason": form.get("reason", "").strip() or None}).reason
    except ValidationError as exc:
        return await _decide_in_place(
            request, session, place, draft_id, view, InvalidInput(_validation_message(exc))
        )
    try:
        async with session.begin_nested():
            done = await drafts_service.reject(
                session, place.workspace_id, draft_id, place.viewer.user_id, reason
            )
    except (Conflict, InvalidInput) as exc:
        return await _decide_in_place(request, session, place, draft_id, view, exc)
    return await _answer(request, session, place, done, view)
