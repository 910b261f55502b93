"""The lead page's follow-ups panel: the lead's enrolments in sequences, Pause / Resume /
Stop, and "Enrol in sequence" (docs/web.md "Sequences").

Each post calls the service function behind its API endpoint (``automation.sequences.service``
``enrol``, ``pause``, ``resume``, ``stop``: ``POST leads/{id}/followups`` and
``…/followups/{fid}/pause|resume|stop``), any member, like the API. With htmx the answer is
the panel as it now is, swapped in place (a refusal such as ``followup_ended`` or
``unsubscribed`` shown in it, ``role="alert"``); a plain form goes back to the lead page (a
refusal is the error page with the API's status).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation.sequences import service as sequences
from replydesk.automation.sequences.schemas import EnrolIn
from replydesk.core.deps import SessionDep
from replydesk.core.errors import Conflict, InvalidInput, ReplyDeskError
from replydesk.inbox import leads as leads_service
from replydesk.web.deps import FormDep, PageRoute, Place, PlaceDep, commit_before_answering
from replydesk.web.rendering import redirect, render

router = APIRouter(prefix="/w/{workspace_id}/leads", include_in_schema=False, route_class=PageRoute)

MAX_ID = 2**63 - 1
LeadId = Annotated[int, Path(ge=1, le=MAX_ID)]
FollowupId = Annotated[int, Path(ge=1, le=MAX_ID)]


class FollowupAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"


ACTIONS = {
    FollowupAction.PAUSE: sequences.pause,
    FollowupAction.RESUME: sequences.resume,
    FollowupAction.STOP: sequences.stop,
}


async def lead_panel(session: AsyncSession, place: Place, lead_id: int) -> dict[str, Any]:
    """The panel's data: the lead's enrolments and the enabled sequences to enrol it in."""
    listing = await sequences.lead_followups(session, place.workspace_id, lead_id)
    defined = await sequences.list_sequences(session, place.workspace_id)
    return {
        "followups": listing.items,
        "enrol_choices": [s for s in defined.items if s.enabled],
    }


async def _panel(
    request: Request,
    session: AsyncSession,
    place: Place,
    lead_id: int,
    error: ReplyDeskError | None = None,
) -> Response:
    if not request.headers.get("hx-request"):
        if error is not None:
            raise error
        await commit_before_answering(session)
        return redirect(request, f"/w/{place.workspace_id}/leads/{lead_id}")
    context = place.context(
        lead={"id": lead_id},
        followup_error=error.message if error is not None else None,
        **await lead_panel(session, place, lead_id),
    )
    await commit_before_answering(session)
    return render(request, "lead.html", context, block="followups")


@router.post("/{lead_id}/followups")
async def enrol(
    place: PlaceDep, request: Request, session: SessionDep, lead_id: LeadId, form: FormDep
) -> Response:
    await leads_service.get_lead_id(session, place.workspace_id, lead_id)
    try:
        body = EnrolIn.model_validate({"sequence_id": form.get("sequence_id", "").strip()})
    except ValidationError:
        refused = InvalidInput("sequence_id: choose a sequence")
        return await _panel(request, session, place, lead_id, refused)
    try:
        # A savepoint: a refusal leaves nothing behind before the page answers 200.
        async with session.begin_nested():
            await sequences.enrol(
                session, place.workspace_id, lead_id, body.sequence_id, place.viewer.user_id
            )
    except (Conflict, InvalidInput) as exc:
        return await _panel(request, session, place, lead_id, exc)
    return await _panel(request, session, place, lead_id)


@router.post("/{lead_id}/followups/{followup_id}/{action}")
async def decide(
    place: PlaceDep,
    request: Request,
    session: SessionDep,
    lead_id: LeadId,
    followup_id: FollowupId,
    action: FollowupAction,
) -> Response:
    try:
        async with session.begin_nested():
            await ACTIONS[action](session, place.workspace_id, lead_id, followup_id)
    except (Conflict, InvalidInput) as exc:
        return await _panel(request, session, place, lead_id, exc)
    return await _panel(request, session, place, lead_id)
