"""Webhook events through the real worker and the application's handlers."""

from __future__ import annotations

from sqlalchemy import text

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.queue.service import enqueue
from tests.support.logs import LogCapture
from tests.support.queue import (
    fast_settings,
    fetch,
    insert_events,
    running_worker,
    status_counts,
    wait_until,
)
from tests.support.samples import event_type_of, sample
from tests.support.workspaces import new_workspace

SAMPLES = [
    ("emailbison", "email_sent"),
    ("emailbison", "lead_replied"),
    ("emailbison", "lead_interested"),
    ("emailbison", "manual_email_sent"),
    ("emailbison", "untracked_reply_received"),
    ("emailbison", "email_opened"),
    ("emailbison", "email_bounced"),
    ("emailbison", "lead_unsubscribed"),
    ("ghl", "inbound_sms"),
    ("ghl", "outbound_sms"),
    ("unipile", "message_received"),
]


async def test_every_sample_is_processed_and_follow_up_jobs_are_recorded_no_ops(
    db: Database, database_url: str, log_capture: LogCapture
) -> None:
    ws = (await new_workspace(db, unipile_account_provider_id="ACoAAOwnerX")).id
    events = [(p, event_type_of(p, sample(p, n)), sample(p, n)) for p, n in SAMPLES]
    mailbox = {"event": {"type": "EMAIL_ACCOUNT_ADDED"}, "data": {"sender_email": {"id": 9}}}
    events.append(("emailbison", "EMAIL_ACCOUNT_ADDED", mailbox))
    # The same deliveries twice (as separate rows, e.g. replays): nothing is duplicated.
    ids = await insert_events(database_url, ws, events + events)

    async def done() -> bool:
        open_items = await fetch(
            database_url,
            "SELECT 1 FROM webhook_events WHERE status IN ('pending', 'running') UNION ALL "
            "SELECT 1 FROM jobs WHERE status IN ('pending', 'running')",
        )
        return not open_items

    settings = fast_settings(database_url)
    async with running_worker(db, build_registry(settings, db), settings):
        await wait_until(done)
    assert await status_counts(database_url, "webhook_events") == {
        "succeeded": 2 * len(SAMPLES),
        "ignored": 2,
    }
    ignored = await fetch(
        database_url, "SELECT id, last_error FROM webhook_events WHERE status = 'ignored'"
    )
    assert {r["id"] for r in ignored} == {ids[len(SAMPLES)], ids[-1]}
    assert {r["last_error"] for r in ignored} == {"no handler for emailbison:EMAIL_ACCOUNT_ADDED"}
    # Messages: campaign send, reply (replied + interested), manual send, untracked reply,
    # 2 SMS, 1 LinkedIn; the opens/bounce/unsubscribe store none.
    assert len(await fetch(database_url, "SELECT id FROM messages")) == 7
    jobs = await fetch(database_url, "SELECT type, status FROM jobs ORDER BY type, id")
    # Drafts (offline templates: no AI key) for the two replies worth answering; a score
    # (the offline heuristic) after each inbound message.
    assert [tuple(j) for j in jobs] == [("draft.generate", "succeeded")] * 2 + [
        ("followup.start", "succeeded")
    ] * 2 + [("inbound.postprocess", "succeeded")] * 4 + [("lead.score", "succeeded")] * 4
    starts = [r for r in log_capture.records() if r["event"] == "followup_start"]
    assert len(starts) == 2 and {r["level"] for r in starts} == {"info"}
    categorised = [r for r in log_capture.records() if r["event"] == "inbound_categorised"]
    assert len(categorised) == 4 and {r["level"] for r in categorised} == {"info"}
    # No sequence exists here: nothing starts (docs/automation.md "Sequences").
    assert all(r["started"] == [] for r in starts)
    assert {r["note"] for r in starts} == {"no enabled no_reply_after_outbound sequence"}
    ignored_logs = [r for r in log_capture.records() if r["event"] == "queue_item_ignored"]
    assert len(ignored_logs) == 2 and {r["level"] for r in ignored_logs} == {"info"}
    assert not [r for r in log_capture.records() if r["level"] == "error"]
    # No PII in the logs: neither lead e-mail addresses nor message bodies.
    assert "dana.reyes@northwind.example" not in log_capture.text
    assert "Sounds good" not in log_capture.text


async def test_unknown_job_type_is_retried_then_dead_with_an_alert(
    db: Database, database_url: str
) -> None:
    async with db.session() as session:
        await enqueue(session, "newer.feature", {}, "newer:1", max_attempts=2)
    async with running_worker(db, build_registry(), fast_settings(database_url)):
        await wait_until(lambda: _dead(database_url))
    job = (await fetch(database_url, "SELECT attempts, last_error FROM jobs"))[0]
    assert (job["attempts"], job["last_error"]) == (
        2,
        "RetryableError: no handler for job type newer.feature",
    )
    async with db.session() as session:
        alert = (await session.execute(text("SELECT error_class, count FROM alerts"))).one()
    assert tuple(alert) == ("no_handler", 1)


async def _dead(url: str) -> bool:
    return await status_counts(url, "jobs") == {"dead": 1}
