"""The follow-up tick's bounds and failures: batches of REPLYDESK_FOLLOWUP_BATCH_SIZE within
REPLYDESK_FOLLOWUP_TIME_BUDGET_S, an error of ours retried with backoff then recorded
failed, and the periodic task the composition root registers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replydesk.app import periodic_tasks
from replydesk.automation.sequences import tick as tick_module
from replydesk.automation.sequences.tick import STEP_MAX_FAILURES, run_tick
from replydesk.core.settings import Settings
from tests.automation import drafts_support
from tests.automation.drafts_support import Desk, draft_settings
from tests.automation.sequences_support import (
    email_step,
    enrol,
    followup_messages,
    followups,
    make_due,
    new_sequence,
)
from tests.support.logs import LogCapture
from tests.support.queue import fetch


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return draft_settings(database_url, tmp_path, followup_batch_size=1)


sim = drafts_support.sim  # the fixtures (tests/automation/drafts_support.py)
desk = drafts_support.desk


async def _dana(desk: Desk) -> int:
    lead_id, _ = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", "Thanks, noted.")
    return lead_id


async def test_a_tick_claims_bounded_batches_until_none_is_due_or_the_budget_is_spent(
    desk: Desk, settings: Settings
) -> None:
    lead_id = await _dana(desk)
    for name in ("A", "B", "C"):
        seq = await new_sequence(desk, [email_step(f"{name}, {{first_name}}")], name=name)
        await enrol(desk, lead_id, seq["id"])
    # No budget left after the first batch: one claim of one step, the rest waits.
    spent = settings.model_copy(update={"followup_time_budget_s": 1e-9})
    report = await run_tick(desk.db, spent)
    assert (report.processed, report.sent) == (1, 1)
    # With the budget: batches of one until none is due.
    report = await run_tick(desk.db, settings)
    assert (report.processed, report.sent) == (2, 2)
    assert len(await followup_messages(desk.url)) == 3


async def test_an_error_of_ours_is_retried_with_backoff_then_recorded_failed(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, log_capture: LogCapture
) -> None:
    lead_id = await _dana(desk)
    seq = await new_sequence(desk, [email_step("One"), email_step("Two")])
    f = await enrol(desk, lead_id, seq["id"])

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(tick_module.outbound, "request_reply", broken)
    report = await run_tick(desk.db, desk.settings)
    assert (report.processed, report.sent, report.failed) == (1, 0, 1)
    shown = (await followups(desk, lead_id))[0]
    assert shown["current_step"] == 0 and shown["last_skip_reason"] == "error"
    wait = datetime.fromisoformat(shown["next_step_at"]) - datetime.now(UTC)
    assert timedelta(seconds=30) < wait <= timedelta(minutes=1)
    failed = [r for r in log_capture.records() if r["event"] == "followup_step_failed"]
    assert len(failed) == 1 and failed[0]["level"] == "warning"
    assert failed[0]["error_class"] == "RuntimeError" and failed[0]["category"]
    for _ in range(STEP_MAX_FAILURES - 1):
        await make_due(desk.url, f["id"])
        await run_tick(desk.db, desk.settings)
    moved = (await followups(desk, lead_id))[0]
    assert moved["current_step"] == 1 and moved["counts"]["failed"] == 1
    steps = await fetch(desk.url, "SELECT step, status, reason FROM followup_steps")
    assert [tuple(s) for s in steps] == [(0, "failed", "RuntimeError")]
    # The next step goes out once the bug is gone.
    monkeypatch.undo()
    await make_due(desk.url, f["id"])
    assert (await run_tick(desk.db, desk.settings)).sent == 1
    assert [m["body"] for m in await followup_messages(desk.url)] == ["Two"]


async def test_the_tick_is_a_periodic_task_of_the_app(desk: Desk, settings: Settings) -> None:
    [task] = [t for t in periodic_tasks(settings) if t.name == "automation.followup_tick"]
    assert task.interval_s == settings.followup_tick_interval_s
    assert task.budget_s > settings.followup_time_budget_s
    lead_id = await _dana(desk)
    seq = await new_sequence(desk)
    await enrol(desk, lead_id, seq["id"])
    report = await task.run(desk.db)
    assert (report.processed, report.failed, report.skipped) == (1, 0, 0)
    assert len(await followup_messages(desk.url)) == 1
