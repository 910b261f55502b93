"""Follow-up sequences: definitions, enrolments and the stops (the only writer of
``sequences``, ``followups`` and ``followup_steps``; statements in ``repository``).

Every function runs in the caller's transaction. The facts that stop a sequence are recorded
elsewhere and call in here in their own transaction: inbound post-processing
(``stop_for_lead(replied | unsubscribed)``, ``hold_for_out_of_office``), booking a meeting
(``meeting_booked``). The scheduler tick that sends due steps is ``sequences.tick``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation.sequences import repository as sql
from replydesk.automation.sequences.schedule import back_at_work, step_due
from replydesk.automation.sequences.schemas import (
    FollowupList,
    FollowupOut,
    SequenceIn,
    SequenceList,
    SequenceOut,
    StepOut,
)
from replydesk.automation.sequences.vocabulary import (
    FINAL_STATES,
    SequenceTrigger,
    StopReason,
)
from replydesk.core.errors import Conflict, NotFound
from replydesk.integrations.outbound.service import Unsubscribed
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import LeadStatus, SentBy

SEQUENCES_MAX = 500  # listed per workspace
FOLLOWUPS_MAX = 200  # listed per lead
AUTO_SEQUENCES_MAX = 20  # started by one campaign send
# Lead statuses no sequence starts for (and the tick stops at).
NOT_FOLLOWED = (
    LeadStatus.MEETING_BOOKED,
    LeadStatus.BOUNCED,
    LeadStatus.UNSUBSCRIBED,
    LeadStatus.CLOSED,
)


class FollowupEnded(Conflict):
    code = "followup_ended"


class SequenceDisabled(Conflict):
    code = "sequence_disabled"


class LeadNotFollowed(Conflict):
    code = "lead_not_followed"


# --- sequences ------------------------------------------------------------------------------


def _sequence(row: Any) -> SequenceOut:
    return SequenceOut(
        id=row.id,
        name=row.name,
        trigger=SequenceTrigger(row.trigger),
        steps=[StepOut.model_validate(s) for s in row.steps],
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _params(workspace_id: uuid.UUID, body: SequenceIn, actor: uuid.UUID | None) -> dict[str, Any]:
    steps = [s.model_dump(mode="json", exclude_none=True) for s in body.steps]
    return {
        "ws": workspace_id,
        "name": body.name,
        "trigger": body.trigger.value,
        "steps": json.dumps(steps),
        "enabled": body.enabled,
        "actor": actor,
    }


async def create_sequence(
    session: AsyncSession, workspace_id: uuid.UUID, body: SequenceIn, actor: uuid.UUID | None
) -> SequenceOut:
    row = (await session.execute(sql.INSERT_SEQUENCE, _params(workspace_id, body, actor))).one()
    return _sequence(row)


async def update_sequence(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    sequence_id: int,
    body: SequenceIn,
    actor: uuid.UUID | None,
) -> SequenceOut:
    """Replace the sequence. Running enrolments keep their place (``current_step``) and take
    the new steps from there; with fewer steps than their place they complete at the next
    tick."""
    params = {**_params(workspace_id, body, actor), "id": sequence_id}
    row = (await session.execute(sql.UPDATE_SEQUENCE, params)).one_or_none()
    if row is None:
        raise NotFound("sequence not found")
    return _sequence(row)


async def get_sequence(
    session: AsyncSession, workspace_id: uuid.UUID, sequence_id: int
) -> SequenceOut:
    params = {"ws": workspace_id, "id": sequence_id}
    row = (await session.execute(sql.GET_SEQUENCE, params)).one_or_none()
    if row is None:
        raise NotFound("sequence not found")
    return _sequence(row)


async def list_sequences(session: AsyncSession, workspace_id: uuid.UUID) -> SequenceList:
    rows = await session.execute(sql.LIST_SEQUENCES, {"ws": workspace_id, "limit": SEQUENCES_MAX})
    return SequenceList(items=[_sequence(r) for r in rows])


# --- scheduling -----------------------------------------------------------------------------


async def workspace_timezone(session: AsyncSession, workspace_id: uuid.UUID) -> str | None:
    value = (await session.execute(sql.TIMEZONE, {"ws": workspace_id})).scalar_one_or_none()
    return str(value) if value else None


def first_due(
    steps: list[dict[str, Any]],
    start: datetime,
    out_of_office_until: date | None,
    timezone: str | None,
    now: datetime,
) -> tuple[datetime, datetime | None]:
    """When step 0 is due, and the out-of-office hold (or None)."""
    step = steps[0]
    due = step_due(start, step.get("delay_hours"), step.get("delay_business_days"), timezone)
    return hold_for(due, out_of_office_until, timezone, now)


def hold_for(
    due: datetime, out_of_office_until: date | None, timezone: str | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """``due`` moved to the next working day after the lead's return, when that is later."""
    if out_of_office_until is None:
        return due, None
    back = back_at_work(out_of_office_until, timezone)
    if back <= max(due, now):
        return due, None
    return back, back


# --- enrolments -----------------------------------------------------------------------------


async def _shown(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, followup_id: int
) -> FollowupOut:
    params = {"ws": workspace_id, "lead_id": lead_id, "id": followup_id}
    row = (await session.execute(sql.GET_FOLLOWUP, params)).one_or_none()
    if row is None:
        raise NotFound("follow-up not found")
    return FollowupOut.of(row)


async def _insert_followup(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    sequence_id: int,
    steps: list[dict[str, Any]],
    start: datetime,
    out_of_office_until: date | None,
    *,
    message_id: int | None = None,
    actor: uuid.UUID | None = None,
) -> int | None:
    """The new enrolment's id; None when the lead is enrolled in that sequence already (the
    unique key decides, never a read first)."""
    now = datetime.now(UTC)
    timezone = await workspace_timezone(session, workspace_id)
    due, held = first_due(steps, start, out_of_office_until, timezone, now)
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "sequence_id": sequence_id,
        "started_at": start,
        "next_step_at": due,
        "paused_until": held,
        "message_id": message_id,
        "actor": actor,
    }
    new_id = (await session.execute(sql.INSERT_FOLLOWUP, params)).scalar_one_or_none()
    return None if new_id is None else int(new_id)


async def enrol(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    sequence_id: int,
    actor: uuid.UUID | None,
) -> tuple[FollowupOut, bool]:
    """Enrol the lead (``POST leads/{id}/followups``): the enrolment and whether it is new.
    Enrolling again answers the running enrolment; a finished one is 409 (a lead goes
    through a sequence once)."""
    now = datetime.now(UTC)
    facts = (
        await session.execute(
            sql.LEAD_FACTS, {"ws": workspace_id, "lead_id": lead_id, "since": now}
        )
    ).one_or_none()
    if facts is None:
        raise NotFound("lead not found")
    seq = (
        await session.execute(sql.GET_SEQUENCE, {"ws": workspace_id, "id": sequence_id})
    ).one_or_none()
    if seq is None:
        raise NotFound("sequence not found")
    existing = (
        await session.execute(
            sql.FOLLOWUP_OF, {"ws": workspace_id, "lead_id": lead_id, "sequence_id": sequence_id}
        )
    ).one_or_none()
    if existing is not None:
        return await _existing(session, workspace_id, lead_id, int(existing.id))
    if not seq.enabled:
        raise SequenceDisabled("the sequence is disabled: enable it (PUT sequences/{id}) first")
    if await leads.is_unsubscribed(session, workspace_id, lead_id):
        raise Unsubscribed("the lead asked to unsubscribe: nothing more is sent to them")
    if LeadStatus(facts.status) in NOT_FOLLOWED:
        raise LeadNotFollowed(f"the lead is {facts.status}: no follow-up starts for it")
    new_id = await _insert_followup(
        session,
        workspace_id,
        lead_id,
        sequence_id,
        list(seq.steps),
        now,
        facts.out_of_office_until,
        actor=actor,
    )
    if new_id is None:  # a concurrent enrolment committed first
        raced = (
            await session.execute(
                sql.FOLLOWUP_OF,
                {"ws": workspace_id, "lead_id": lead_id, "sequence_id": sequence_id},
            )
        ).one()
        return await _existing(session, workspace_id, lead_id, int(raced.id))
    return await _shown(session, workspace_id, lead_id, new_id), True


async def _existing(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, followup_id: int
) -> tuple[FollowupOut, bool]:
    shown = await _shown(session, workspace_id, lead_id, followup_id)
    if shown.state in FINAL_STATES:
        why = f" ({shown.stop_reason.value})" if shown.stop_reason else ""
        raise FollowupEnded(
            f"the lead went through this sequence already: it is {shown.state.value}{why}"
        )
    return shown, False


async def lead_followups(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> FollowupList:
    params = {"ws": workspace_id, "lead_id": lead_id, "limit": FOLLOWUPS_MAX}
    rows = await session.execute(sql.LEAD_FOLLOWUPS, params)
    return FollowupList(items=[FollowupOut.of(r) for r in rows])


async def pause(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, followup_id: int
) -> FollowupOut:
    """Pause an active enrolment (a paused one answers as it is)."""
    return await _decide(session, workspace_id, lead_id, followup_id, sql.PAUSE, "paused")


async def resume(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, followup_id: int
) -> FollowupOut:
    """Resume a paused enrolment: a step that fell due meanwhile goes at the next tick."""
    return await _decide(session, workspace_id, lead_id, followup_id, sql.RESUME, "resumed")


async def stop(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, followup_id: int
) -> FollowupOut:
    """Stop for good (``stop_reason`` manual); a stopped or completed one answers as it is."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "id": followup_id,
        "reason": StopReason.MANUAL.value,
    }
    await session.execute(sql.STOP_ONE, params)
    return await _shown(session, workspace_id, lead_id, followup_id)


async def _decide(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    followup_id: int,
    statement: Any,
    verb: str,
) -> FollowupOut:
    params = {"ws": workspace_id, "lead_id": lead_id, "id": followup_id}
    changed = (await session.execute(statement, params)).first() is not None
    shown = await _shown(session, workspace_id, lead_id, followup_id)
    if not changed and shown.state in FINAL_STATES:
        raise FollowupEnded(f"the follow-up is {shown.state.value}: it cannot be {verb}")
    return shown


# --- what other transactions tell us --------------------------------------------------------


async def start_for_outbound(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> tuple[list[int], str | None]:
    """``followup.start``: a campaign send starts every enabled ``no_reply_after_outbound``
    sequence of the workspace for its lead (once per lead x sequence: the unique key; a
    replayed job starts nothing). The new enrolments, or why none started."""
    # Most workspaces have no such sequence: one cheap read answers them.
    limit = {"ws": workspace_id, "limit": AUTO_SEQUENCES_MAX}
    auto = (await session.execute(sql.AUTO_SEQUENCES, limit)).all()
    if not auto:
        return [], "no enabled no_reply_after_outbound sequence"
    msg = (
        await session.execute(sql.OUTBOUND_MESSAGE, {"ws": workspace_id, "id": message_id})
    ).one_or_none()
    if msg is None:
        return [], "message not found or not outbound"
    if msg.sent_by != SentBy.CAMPAIGN.value:
        return [], f"sent by {msg.sent_by}, not a campaign send"
    lead_id = int(msg.lead_id)
    params = {"ws": workspace_id, "lead_id": lead_id, "since": msg.occurred_at}
    facts = (await session.execute(sql.LEAD_FACTS, params)).one_or_none()
    if facts is None:
        return [], "lead not found"
    if facts.replied_since:
        return [], "the lead replied after this send"
    if LeadStatus(facts.status) in NOT_FOLLOWED or await leads.is_unsubscribed(
        session, workspace_id, lead_id
    ):
        return [], f"the lead is {facts.status}"
    started: list[int] = []
    for seq in auto:
        new_id = await _insert_followup(
            session,
            workspace_id,
            lead_id,
            int(seq.id),
            list(seq.steps),
            msg.occurred_at,
            facts.out_of_office_until,
            message_id=message_id,
        )
        if new_id is not None:
            started.append(new_id)
    return started, None if started else "no enabled sequence to start (or started already)"


async def stop_for_lead(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    reason: StopReason,
    *,
    replied_at: datetime | None = None,
) -> list[int]:
    """Stop every running enrolment of the lead; the stopped ids. ``replied_at``: a reply
    stops only the enrolments started before it (an old message synced late stops none)."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "reason": reason.value,
        "replied_at": replied_at,
    }
    return [int(r.id) for r in await session.execute(sql.STOP_LEAD, params)]


async def hold_for_out_of_office(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, until: date
) -> list[int]:
    """The lead is away until ``until``: running enrolments wait for the next working day
    after it (``paused_until``; they go on by themselves)."""
    timezone = await workspace_timezone(session, workspace_id)
    back = back_at_work(until, timezone)
    if back <= datetime.now(UTC):
        return []
    params = {"ws": workspace_id, "lead_id": lead_id, "until": back}
    return [int(r.id) for r in await session.execute(sql.HOLD_LEAD_UNTIL, params)]
