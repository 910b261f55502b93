"""The scheduler tick: send the due steps of running enrolments, in bounded batches within a
time budget (``REPLYDESK_FOLLOWUP_BATCH_SIZE``, ``REPLYDESK_FOLLOWUP_TIME_BUDGET_S``).

One batch is one transaction: ``FOR UPDATE SKIP LOCKED`` claims at most a batch of due
enrolments (another tick skips them), and each step is handed to the reply path
(``integrations.outbound.service.request_reply``: its gates, quarantines, unsubscribe check
and idempotency key ``followup:{lead}:{sequence}:{step}``), which only inserts the queued
message and its ``reply.send`` job — no provider call happens while the batch's rows are
locked; the job sends after the commit. The step's row in ``followup_steps`` (primary key
workspace x lead x sequence x step) is written in the same transaction: a replayed or
concurrent tick can never take a step twice.

Refusals, decided per step (docs/automation.md "Sequences"):

- ``integration_disconnected`` (the provider is gated): the step is **held** and tried again
  after ``REPLYDESK_REPLY_SEND_GATE_RECHECK_S`` — a follow-up is worth sending a little late —
  but at most ``HOLD_MAX`` after it was first held; then it is skipped;
- ``recipient_unreachable`` (quarantined channel), ``integration_not_configured``, no address
  on that channel, a missing subject, a template field the lead lacks: the step is
  **skipped** (recorded with the reason) and the next one is scheduled;
- ``unsubscribed``: the enrolment stops.

Each is counted by reason in the tick's one info line (processed/sent/skipped/failed).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation.sequences import repository as sql
from replydesk.automation.sequences import service, templates
from replydesk.automation.sequences.schedule import step_due
from replydesk.automation.sequences.vocabulary import StepStatus, StopReason
from replydesk.core.db import Database
from replydesk.core.db_errors import is_database_unavailable
from replydesk.core.errors import Conflict, InvalidInput
from replydesk.core.log_categories import exception_category
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings
from replydesk.integrations.outbound import service as outbound
from replydesk.integrations.outbound.schemas import ReplyIn
from replydesk.leads.vocabulary import Channel, LeadCategory, LeadStatus

log = get_logger(__name__)

# A gated provider holds a step at most this long, then the step is skipped.
HOLD_MAX = timedelta(hours=48)
# A reply younger than this may not be categorised yet (inbound.postprocess stops the
# sequence, or holds it for an out-of-office): its lead's step waits that long.
REPLY_JUDGEMENT = timedelta(minutes=10)
# Errors of our own on one step: retried with backoff, then the step is recorded failed.
STEP_MAX_FAILURES = 5
FAILURE_BACKOFF = timedelta(minutes=1)
FAILURE_BACKOFF_CAP = timedelta(hours=1)
STOPS = {
    LeadStatus.UNSUBSCRIBED.value: StopReason.UNSUBSCRIBED,
    LeadStatus.MEETING_BOOKED.value: StopReason.MEETING_BOOKED,
    LeadStatus.CLOSED.value: StopReason.LEAD_CLOSED,
}


@dataclass
class TickReport:
    processed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    stopped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] += 1


class _AlreadyTaken(Exception):
    """The step's row exists: a replay; nothing is sent again."""


def idempotency_key(lead_id: int, sequence_id: int, step: int) -> str:
    return f"followup:{lead_id}:{sequence_id}:{step}"


async def run_tick(db: Database, settings: Settings) -> TickReport:
    """Batches until none is due or the budget is spent; one info line with the figures."""
    started = time.monotonic()
    deadline = started + settings.followup_time_budget_s
    report = TickReport()
    batches = 0
    while True:
        async with db.session() as session:
            claimed = await process_batch(session, settings, settings.followup_batch_size, report)
        batches += 1
        if claimed < settings.followup_batch_size or time.monotonic() >= deadline:
            break
    m = metrics()
    for result in ("processed", "sent", "skipped", "failed"):
        n = getattr(report, result)
        if n:
            m.followup_ticks.labels(result).inc(n)
    log.info(
        "followup_tick",
        processed=report.processed,
        sent=report.sent,
        skipped=report.skipped,
        failed=report.failed,
        stopped=report.stopped,
        reasons=dict(report.reasons),
        batches=batches,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )
    return report


async def process_batch(
    session: AsyncSession, settings: Settings, limit: int, report: TickReport
) -> int:
    """Claim and take at most ``limit`` due steps in the caller's transaction; how many were
    claimed."""
    rows = (await session.execute(sql.CLAIM_DUE, {"limit": limit})).all()
    zones: dict[uuid.UUID, str | None] = {}
    for row in rows:
        if row.workspace_id not in zones:
            zones[row.workspace_id] = await service.workspace_timezone(session, row.workspace_id)
        report.processed += 1
        await _take_step(session, settings, row, zones[row.workspace_id], report)
    return len(rows)


async def _take_step(
    session: AsyncSession, settings: Settings, row: Any, tz: str | None, report: TickReport
) -> None:
    now = datetime.now(UTC)
    ws, step_no = row.workspace_id, int(row.current_step)
    steps: list[dict[str, Any]] = list(row.steps)
    base = {"ws": ws, "id": row.id}
    stop = STOPS.get(row.status)
    if row.category == LeadCategory.UNSUBSCRIBE.value:
        stop = StopReason.UNSUBSCRIBED
    if stop is not None:
        await session.execute(sql.STOP_CLAIMED, {**base, "reason": stop.value})
        report.stopped += 1
        report.reasons[f"stopped:{stop.value}"] += 1
        return
    if step_no >= len(steps):  # the sequence was edited shorter
        await session.execute(sql.COMPLETE, base)
        return
    last_in = row.last_inbound_at
    if last_in is not None and last_in > row.started_at and now - last_in < REPLY_JUDGEMENT:
        await _later(session, base, last_in + REPLY_JUDGEMENT, "awaiting_reply_categorisation")
        report.skip("awaiting_reply_categorisation")
        return
    held_to, paused = service.hold_for(now, row.out_of_office_until, tz, now)
    if paused is not None:
        await _later(session, base, held_to, "out_of_office", paused_until=paused)
        report.skip("out_of_office")
        return
    step = steps[step_no]
    channel = Channel(step["channel"])
    keys = {"ws": ws, "lead_id": row.lead_id, "sequence_id": row.sequence_id, "step": step_no}
    try:
        fields = templates.lead_fields(row.first_name, row.last_name, row.company, row.title)
        body = templates.render(step["template"], fields)
        subject = templates.render(step["subject"], fields) if step.get("subject") else None
    except templates.MissingField as missing:
        await _skip_step(session, row, steps, tz, keys, channel, f"missing_field:{missing.field}")
        report.skip("missing_field")
        return
    try:
        async with session.begin_nested():
            inserted = await session.execute(
                sql.INSERT_STEP,
                {
                    **keys,
                    "id": row.id,
                    "channel": channel.value,
                    "status": StepStatus.QUEUED.value,
                    "reason": None,
                    "message_id": None,
                },
            )
            if inserted.first() is None:
                raise _AlreadyTaken
            reply = ReplyIn(channel=channel, body=body, subject=subject)
            shown, _created = await outbound.request_reply(
                session,
                settings,
                ws,
                int(row.lead_id),
                reply,
                idempotency_key(row.lead_id, row.sequence_id, step_no),
            )
            await session.execute(sql.SET_STEP_REPLY, {**keys, "message_id": shown["id"]})
    except _AlreadyTaken:
        await _advance(session, row, steps, tz, report_kind=None)
        report.skip("already_taken")
        return
    except outbound.Unsubscribed:
        await session.execute(sql.STOP_CLAIMED, {**base, "reason": StopReason.UNSUBSCRIBED.value})
        report.stopped += 1
        report.reasons[f"stopped:{StopReason.UNSUBSCRIBED.value}"] += 1
        return
    except outbound.IntegrationDisconnected as gated:
        if row.held_since is not None and now - row.held_since >= HOLD_MAX:
            await _skip_step(session, row, steps, tz, keys, channel, gated.code)
        else:
            recheck = now + timedelta(seconds=settings.reply_send_gate_recheck_s)
            await _later(session, base, recheck, gated.code, held=True)
        report.skip(gated.code)
        return
    except (Conflict, InvalidInput) as refused:
        await _skip_step(session, row, steps, tz, keys, channel, refused.code)
        report.skip(refused.code)
        return
    except Exception as exc:
        if is_database_unavailable(exc):
            raise
        await _failed(session, row, steps, tz, keys, channel, exc)
        report.failed += 1
        return
    await _advance(session, row, steps, tz, report_kind="sent")
    report.sent += 1
    log.info(
        "followup_step_queued",
        followup_id=row.id,
        lead_id=row.lead_id,
        sequence_id=row.sequence_id,
        step=step_no,
        channel=channel.value,
        message_id=shown["id"],
    )


async def _later(
    session: AsyncSession,
    base: dict[str, Any],
    at: datetime,
    reason: str,
    *,
    held: bool = False,
    failure: int = 0,
    paused_until: datetime | None = None,
) -> None:
    params = {
        **base,
        "at": at,
        "reason": reason,
        "held": held,
        "failure": failure,
        "paused_until": paused_until,
    }
    await session.execute(sql.RETRY_LATER, params)


async def _advance(
    session: AsyncSession,
    row: Any,
    steps: list[dict[str, Any]],
    tz: str | None,
    *,
    report_kind: str | None,
    reason: str | None = None,
) -> None:
    """Move on from the current step: schedule the next one (from now), or complete."""
    now = datetime.now(UTC)
    nxt = int(row.current_step) + 1
    due: datetime | None = None
    held: datetime | None = None
    if nxt < len(steps):
        step = steps[nxt]
        planned = step_due(now, step.get("delay_hours"), step.get("delay_business_days"), tz)
        due, held = service.hold_for(planned, row.out_of_office_until, tz, now)
    params = {
        "ws": row.workspace_id,
        "id": row.id,
        "step": int(row.current_step),
        "done": due is None,
        "next_step_at": due,
        "paused_until": held,
        "sent": 1 if report_kind == "sent" else 0,
        "skipped": 1 if report_kind == "skipped" else 0,
        "failed": 1 if report_kind == "failed" else 0,
        "reason": reason,
    }
    await session.execute(sql.ADVANCE, params)


async def _record_step(
    session: AsyncSession,
    row: Any,
    keys: dict[str, Any],
    channel: Channel,
    status: StepStatus,
    reason: str,
) -> bool:
    params = {
        **keys,
        "id": row.id,
        "channel": channel.value,
        "status": status.value,
        "reason": reason,
        "message_id": None,
    }
    return (await session.execute(sql.INSERT_STEP, params)).first() is not None


async def _skip_step(
    session: AsyncSession,
    row: Any,
    steps: list[dict[str, Any]],
    tz: str | None,
    keys: dict[str, Any],
    channel: Channel,
    reason: str,
) -> None:
    recorded = await _record_step(session, row, keys, channel, StepStatus.SKIPPED, reason)
    await _advance(
        session, row, steps, tz, report_kind="skipped" if recorded else None, reason=reason
    )
    log.info(
        "followup_step_skipped",
        followup_id=row.id,
        lead_id=row.lead_id,
        step=int(row.current_step),
        reason=reason,
    )


async def _failed(
    session: AsyncSession,
    row: Any,
    steps: list[dict[str, Any]],
    tz: str | None,
    keys: dict[str, Any],
    channel: Channel,
    exc: Exception,
) -> None:
    failures = int(row.step_failures) + 1
    log.warning(
        "followup_step_failed",
        category=exception_category(exc),
        error_class=type(exc).__name__,
        followup_id=row.id,
        lead_id=row.lead_id,
        step=int(row.current_step),
        failures=failures,
    )
    if failures >= STEP_MAX_FAILURES:
        recorded = await _record_step(
            session, row, keys, channel, StepStatus.FAILED, type(exc).__name__
        )
        await _advance(
            session, row, steps, tz, report_kind="failed" if recorded else None, reason="failed"
        )
        return
    wait = min(FAILURE_BACKOFF * 2 ** (failures - 1), FAILURE_BACKOFF_CAP)
    base = {"ws": row.workspace_id, "id": row.id}
    await _later(session, base, datetime.now(UTC) + wait, "error", failure=1)
