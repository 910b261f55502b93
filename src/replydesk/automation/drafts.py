"""Drafts and automation settings: store, list, approve, reject, supersede, auto-send (the only
writer of ``drafts`` and ``automation_settings``; statements in ``repository``).

Sending goes through the reply path (``integrations.outbound.service.request_reply``) with the
idempotency key ``draft:<id>``, in the caller's transaction: the conditional approval and the
queued reply commit together, so a double approve (or an approval racing the automatic send)
queues one reply.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation import repository as sql
from replydesk.automation.drafting import Drafted, DraftRequest
from replydesk.automation.schemas import (
    AutomationSettingsIn,
    AutomationSettingsOut,
    AvailabilityIn,
    AvailabilityOut,
    DraftList,
    DraftOut,
    MeetingOut,
)
from replydesk.automation.sequences import service as sequences
from replydesk.automation.sequences.vocabulary import StopReason
from replydesk.automation.vocabulary import NEVER_AUTO_SENT, DraftStatus, JobType, VerifierStatus
from replydesk.core.errors import Conflict, MalformedInput, NotFound
from replydesk.core.settings import Settings
from replydesk.integrations.outbound import service as outbound
from replydesk.integrations.outbound.schemas import ReplyIn
from replydesk.leads import context as lead_context
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import Channel, LeadCategory, LeadStatus
from replydesk.queue.service import enqueue

DRAFT_MAX_ATTEMPTS = 5
MAX_ID = 2**63 - 1


class DraftNotPending(Conflict):
    code = "draft_not_pending"


# --- settings -------------------------------------------------------------------------------


async def get_settings(session: AsyncSession, workspace_id: uuid.UUID) -> AutomationSettingsOut:
    row = (await session.execute(sql.GET_SETTINGS, {"ws": workspace_id})).one_or_none()
    if row is None:
        return AutomationSettingsOut()
    return AutomationSettingsOut.model_validate({**row.settings, "updated_at": row.updated_at})


async def attention_sla_hours(session: AsyncSession, workspace_id: uuid.UUID) -> float | None:
    """The workspace's ``attention_sla_hours`` (None: no SLA set); one primary-key read."""
    found = (await session.execute(sql.GET_ATTENTION_SLA, {"ws": workspace_id})).scalar()
    return None if found is None else float(found)


async def put_settings(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    body: AutomationSettingsIn,
    actor: uuid.UUID | None,
) -> AutomationSettingsOut:
    params = {"ws": workspace_id, "settings": body.model_dump_json(), "actor": actor}
    updated_at = (await session.execute(sql.PUT_SETTINGS, params)).scalar_one()
    return AutomationSettingsOut.model_validate({**body.model_dump(), "updated_at": updated_at})


async def get_availability(
    session: AsyncSession, workspace_id: uuid.UUID
) -> AvailabilityOut | None:
    row = (await session.execute(sql.GET_AVAILABILITY, {"ws": workspace_id})).one_or_none()
    if row is None or row.availability is None:
        return None
    return AvailabilityOut.model_validate({**row.availability, "updated_at": row.updated_at})


async def put_availability(
    session: AsyncSession, workspace_id: uuid.UUID, body: AvailabilityIn, actor: uuid.UUID | None
) -> AvailabilityOut:
    params = {"ws": workspace_id, "availability": body.model_dump_json(), "actor": actor}
    updated_at = (await session.execute(sql.PUT_AVAILABILITY, params)).scalar_one()
    return AvailabilityOut.model_validate({**body.model_dump(), "updated_at": updated_at})


async def offer_counts(
    session: AsyncSession, workspace_id: uuid.UUID, starts: list[datetime]
) -> dict[datetime, int]:
    if not starts:
        return {}
    rows = await session.execute(sql.OFFER_COUNTS, {"ws": workspace_id, "starts": starts})
    return {r.slot_start: int(r.offered) for r in rows}


async def count_offers(
    session: AsyncSession, workspace_id: uuid.UUID, starts: list[datetime]
) -> None:
    if starts:
        await session.execute(sql.COUNT_OFFERS, {"ws": workspace_id, "starts": starts})


# --- the draft job's writes -----------------------------------------------------------------


def draft_dedupe_key(message_id: int) -> str:
    """One draft job per inbound message, ever (a replayed postprocess enqueues nothing)."""
    return f"{JobType.DRAFT_GENERATE}:{message_id}"


async def enqueue_draft(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    message_id: int,
    category: LeadCategory,
    confidence: float | None,
) -> int | None:
    payload = {
        "message_id": message_id,
        "lead_id": lead_id,
        "category": category.value,
        "confidence": confidence,
    }
    return await enqueue(
        session,
        JobType.DRAFT_GENERATE.value,
        payload,
        draft_dedupe_key(message_id),
        workspace_id=workspace_id,
        max_attempts=DRAFT_MAX_ATTEMPTS,
    )


async def supersede_older(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    message_id: int,
    occurred_at: datetime,
) -> list[int]:
    """A newer inbound message: the lead's pending drafts of older messages are superseded."""
    params = {"ws": workspace_id, "lead_id": lead_id, "message_id": message_id}
    rows = await session.execute(sql.SUPERSEDE_OLDER, {**params, "occurred_at": occurred_at})
    return [int(r.id) for r in rows]


async def has_draft(session: AsyncSession, workspace_id: uuid.UUID, message_id: int) -> bool:
    params = {"ws": workspace_id, "message_id": message_id}
    return (await session.execute(sql.DRAFT_FOR_MESSAGE, params)).first() is not None


@dataclass(frozen=True)
class Stored:
    id: int
    status: DraftStatus
    auto_send_at: datetime | None = None


async def store_draft(
    session: AsyncSession, workspace_id: uuid.UUID, request: DraftRequest, drafted: Drafted
) -> Stored | None:
    """Insert the draft (None: this message has one already, or is gone)."""
    params = {
        "ws": workspace_id,
        "lead_id": request.lead_id,
        "message_id": request.message_id,
        "channel": request.channel.value,
        "subject": drafted.subject,
        "body": drafted.body,
        "source": drafted.source.value,
        "category": request.category.value if request.category else None,
        "confidence": request.confidence,
        "verifier_status": drafted.verifier_status.value,
        "notes": json.dumps(drafted.notes),
        "model": drafted.model,
        "prompt_version": drafted.prompt_version,
        "context_hash": drafted.context_hash,
        "input_tokens": drafted.input_tokens,
        "output_tokens": drafted.output_tokens,
        "timings": json.dumps(drafted.timings),
        "offered_slots": json.dumps([s.isoformat() for s in request.slots]),
    }
    row = (await session.execute(sql.INSERT_DRAFT, params)).one_or_none()
    if row is None:
        return None
    return Stored(int(row.id), DraftStatus(row.status))


def auto_send_refusal(
    automation: AutomationSettingsIn, request: DraftRequest, drafted: Drafted
) -> str | None:
    """Why this draft is not sent automatically (None: it may be, after the delay)."""
    rule = automation.auto_send
    if not rule.enabled:
        return "auto-send is off"
    if request.category is None or request.category in NEVER_AUTO_SENT:
        return "this category is never sent automatically"
    if request.category not in rule.categories:
        return f"auto-send is not enabled for {request.category.value}"
    if request.confidence is None or request.confidence < rule.min_confidence:
        return f"the category's confidence is below {rule.min_confidence:g}"
    if drafted.verifier_status is not VerifierStatus.PASSED:
        return f"the verifier did not pass it ({drafted.verifier_status.value})"
    if request.context.unsubscribed:
        return "the lead unsubscribed"
    return None


def auto_send_dedupe_key(draft_id: int) -> str:
    return f"{JobType.DRAFT_AUTO_SEND}:{draft_id}"


async def schedule_auto_send(
    session: AsyncSession, workspace_id: uuid.UUID, draft_id: int, delay_s: int
) -> datetime:
    at = datetime.now(UTC) + timedelta(seconds=delay_s)
    await session.execute(sql.SET_AUTO_SEND_AT, {"ws": workspace_id, "id": draft_id, "at": at})
    await enqueue(
        session,
        JobType.DRAFT_AUTO_SEND.value,
        {"draft_id": draft_id},
        auto_send_dedupe_key(draft_id),
        workspace_id=workspace_id,
        run_at=at,
        max_attempts=DRAFT_MAX_ATTEMPTS,
    )
    return at


async def add_note(
    session: AsyncSession, workspace_id: uuid.UUID, draft_id: int, note: str
) -> None:
    await session.execute(sql.APPEND_NOTE, {"ws": workspace_id, "id": draft_id, "note": note})


# --- reads ----------------------------------------------------------------------------------


def _shown(row: Any) -> DraftOut:
    values = dict(row._mapping)
    values["verifier"] = {
        "status": values.pop("verifier_status"),
        "notes": list(values.pop("verifier_notes") or []),
    }
    for who in ("approved_by", "rejected_by"):
        values[who] = str(values[who]) if values[who] is not None else None
    return DraftOut.model_validate(values)


async def get_draft(session: AsyncSession, workspace_id: uuid.UUID, draft_id: int) -> DraftOut:
    row = (await session.execute(sql.DRAFT, {"ws": workspace_id, "id": draft_id})).one_or_none()
    if row is None:
        raise NotFound("draft not found")
    return _shown(row)


def _encode(at: datetime, row_id: int) -> str:
    raw = json.dumps({"k": "drafts", "t": at.isoformat(), "i": row_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[datetime | None, int]:
    if cursor is None:
        return None, 0
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        if not isinstance(data, dict) or data.get("k") != "drafts":
            raise ValueError("wrong kind")
        row_id = data["i"]
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= MAX_ID:
            raise ValueError("bad id")
        at = datetime.fromisoformat(data["t"])
        if at.tzinfo is None:
            raise ValueError("naive timestamp")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedInput("cursor is not a valid drafts cursor; use next_cursor") from exc
    return at, row_id


async def _page(
    session: AsyncSession, statement: Any, params: dict[str, Any], limit: int
) -> DraftList:
    at, after_id = _decode(params.pop("cursor"))
    rows = (
        await session.execute(
            statement, {**params, "at": at, "after_id": after_id, "limit": limit + 1}
        )
    ).all()
    items = [_shown(r) for r in rows[:limit]]
    more = len(rows) > limit
    return DraftList(
        items=items, next_cursor=_encode(items[-1].created_at, items[-1].id) if more else None
    )


async def lead_drafts(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, limit: int, cursor: str | None
) -> DraftList:
    params = {"ws": workspace_id, "lead_id": lead_id, "cursor": cursor}
    return await _page(session, sql.LEAD_DRAFTS, params, limit)


async def list_drafts(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    status: DraftStatus,
    limit: int,
    cursor: str | None,
) -> DraftList:
    """``pending_review``: the approval queue, oldest first; other statuses newest first."""
    if status is DraftStatus.PENDING_REVIEW:
        return await _page(
            session, sql.PENDING_QUEUE, {"ws": workspace_id, "cursor": cursor}, limit
        )
    params = {"ws": workspace_id, "status": status.value, "cursor": cursor}
    return await _page(session, sql.BY_STATUS, params, limit)


async def pending_count(
    session: AsyncSession, workspace_id: uuid.UUID, cap: int, after_id: int | None = None
) -> int:
    """How many drafts wait for review (only those with an id above ``after_id`` when given:
    new since a page was drawn), counted up to ``cap``."""
    if after_id is None:
        params: dict[str, object] = {"ws": workspace_id, "cap": cap}
        return int((await session.execute(sql.PENDING_COUNT, params)).scalar_one())
    params = {"ws": workspace_id, "cap": cap, "after_id": after_id}
    return int((await session.execute(sql.PENDING_NEWER_COUNT, params)).scalar_one())


async def newest_pending_id(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    """The highest id among the drafts waiting for review (0: none)."""
    result = await session.execute(sql.NEWEST_PENDING_ID, {"ws": workspace_id})
    return int(result.scalar_one())


# --- decisions ------------------------------------------------------------------------------


def _diff(before: str, after: str) -> str | None:
    if before == after:
        return None
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "draft", "sent", lineterm=""
    )
    return "\n".join(lines)


async def approve(
    session: AsyncSession,
    settings: Settings,
    workspace_id: uuid.UUID,
    draft_id: int,
    actor: uuid.UUID | None,
    body: str | None = None,
    *,
    automatic: bool = False,
) -> DraftOut:
    """Approve (optionally edited) and queue the reply, in the caller's transaction. A draft
    approved already answers as it is (a double approve sends once); a rejected or superseded
    one is 409 ``draft_not_pending``. A refused reply (unsubscribed, gated, quarantined …)
    raises and the caller's rollback leaves the draft pending."""
    current = await get_draft(session, workspace_id, draft_id)
    if current.status in (DraftStatus.APPROVED, DraftStatus.SENT, DraftStatus.FAILED):
        return current
    if current.status is not DraftStatus.PENDING_REVIEW:
        raise DraftNotPending(f"the draft is {current.status.value}: it can no longer be sent")
    text = body if body is not None else current.body
    params = {
        "ws": workspace_id,
        "id": draft_id,
        "body": text,
        "diff": _diff(current.body, text),
        "actor": actor,
        "auto": automatic,
    }
    row = (await session.execute(sql.APPROVE, params)).one_or_none()
    if row is None:  # a concurrent decision committed first: show what it left
        return await _after_race(session, workspace_id, draft_id)
    reply = ReplyIn(channel=Channel(row.channel), body=row.body, subject=row.subject)
    shown, _created = await outbound.request_reply(
        session,
        settings,
        workspace_id,
        int(row.lead_id),
        reply,
        f"draft:{draft_id}",
        answering=current.in_reply_to_message_id,
    )
    await session.execute(
        sql.SET_REPLY, {"ws": workspace_id, "id": draft_id, "message_id": shown["id"]}
    )
    return await get_draft(session, workspace_id, draft_id)


ANSWERED_BY_HAND = "superseded: the message was answered by hand (a manual reply)"


async def answered_by_hand(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, message_id: int
) -> str | None:
    """A manual reply to the lead, answering its inbound message ``message_id``, is about to
    be queued (the reply path calls this in its transaction): the lead's pending drafts are
    superseded. Returns why the reply must be refused — the message's draft was approved and
    its reply is queued or sent (at most one send per inbound message) — else None."""
    params = {"ws": workspace_id, "lead_id": lead_id, "note": ANSWERED_BY_HAND}
    await session.execute(sql.SUPERSEDE_BY_HAND, params)
    found = (
        await session.execute(sql.APPROVED_ANSWER, {"ws": workspace_id, "message_id": message_id})
    ).first()
    if found is None:
        return None
    return (
        f"draft {found.id} answering this lead's newest message was approved already: "
        "at most one send per inbound message (wait for the lead's next message)"
    )


async def _after_race(session: AsyncSession, workspace_id: uuid.UUID, draft_id: int) -> DraftOut:
    current = await get_draft(session, workspace_id, draft_id)
    if current.status in (DraftStatus.APPROVED, DraftStatus.SENT, DraftStatus.FAILED):
        return current
    raise DraftNotPending(f"the draft is {current.status.value}: it can no longer be sent")


async def reject(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    draft_id: int,
    actor: uuid.UUID | None,
    reason: str | None,
) -> DraftOut:
    """Reject a pending draft (a repeat answers as it is; any other status is 409)."""
    params = {"ws": workspace_id, "id": draft_id, "actor": actor, "reason": reason}
    if (await session.execute(sql.REJECT, params)).first() is None:
        current = await get_draft(session, workspace_id, draft_id)
        if current.status is DraftStatus.REJECTED:
            return current
        raise DraftNotPending(f"the draft is {current.status.value}: it cannot be rejected")
    return await get_draft(session, workspace_id, draft_id)


# --- meetings -------------------------------------------------------------------------------


async def book_meeting(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    start: datetime,
    actor: uuid.UUID | None,
) -> MeetingOut:
    """Record the meeting (a repeat of the same start is the same meeting), set the lead
    ``meeting_booked`` through ``leads.service`` (a status_change timeline event) and stop
    its follow-up sequences (``meeting_booked``)."""
    if not await lead_context.lead_exists(session, workspace_id, lead_id):
        raise NotFound("lead not found")
    params = {"ws": workspace_id, "lead_id": lead_id, "start": start, "actor": actor}
    await session.execute(sql.BOOK_MEETING, params)
    await leads.update_lead(
        session,
        workspace_id,
        lead_id,
        {"status": LeadStatus.MEETING_BOOKED.value},
        actor_user_id=actor,
    )
    # A booked meeting ends the lead's follow-ups (same transaction as the booking).
    await sequences.stop_for_lead(session, workspace_id, lead_id, StopReason.MEETING_BOOKED)
    row = (await session.execute(sql.MEETING, params)).one()
    return MeetingOut(
        id=row.id,
        lead_id=row.lead_id,
        start=row.start,
        status=LeadStatus.MEETING_BOOKED,
        booked_by=str(row.booked_by) if row.booked_by else None,
        created_at=row.created_at,
    )
