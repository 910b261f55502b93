"""At most one send per inbound message (issue 11, behaviour 5), against real PostgreSQL: a
manual ``POST leads/{id}/replies`` supersedes the lead's pending draft in its transaction, an
approval after a manual reply is refused (409), a manual reply after an approval is refused
(409 ``already_answered``), and the unique key on ``messages.answers_message_id`` decides a
race — concurrent approve + manual reply send exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from replydesk.core.db import plain_url
from tests.automation import drafts_support
from tests.automation.drafts_support import Desk
from tests.support.drafts import pending_draft
from tests.support.queue import fetch

DANA_TEXT = "Sounds good, can we talk Tuesday?"


settings = drafts_support.settings  # the fixtures (tests/automation/drafts_support.py)
sim = drafts_support.sim
desk = drafts_support.desk


async def _manual(desk: Desk, lead_id: int, text: str = "Tuesday 10:00 works.") -> httpx.Response:
    return await desk.post(f"leads/{lead_id}/replies", {"channel": "email", "body": text})


async def _outbound(desk: Desk) -> list[dict[str, Any]]:
    rows = await fetch(
        desk.url,
        "SELECT id, body, idempotency_key, answers_message_id, status FROM messages "
        "WHERE direction = 'outbound' ORDER BY id",
    )
    return [dict(r) for r in rows]


async def _draft_status(desk: Desk, draft_id: int) -> tuple[str, list[str]]:
    row = next(r for r in await desk.draft_rows() if r["id"] == draft_id)
    return str(row["status"]), list(row["verifier_notes"])


async def test_a_manual_reply_supersedes_the_pending_draft(desk: Desk) -> None:
    lead_id, message_id = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    draft_id = await pending_draft(desk.db, desk.ws, lead_id, "Hi Dana, Tuesday works.")
    manual = await _manual(desk, lead_id)
    assert manual.status_code == 202, manual.text
    status, notes = await _draft_status(desk, draft_id)
    assert status == "superseded"
    assert "superseded: the message was answered by hand (a manual reply)" in notes
    approve = await desk.post(f"drafts/{draft_id}/approve")
    assert approve.status_code == 409 and approve.json()["error"]["code"] == "draft_not_pending"
    assert "superseded" in approve.json()["error"]["message"]
    # A second manual message is the operator's follow-on: it answers nothing more.
    again = await _manual(desk, lead_id, "P.S. I'll send an invite.")
    assert again.status_code == 202, again.text
    sent = await _outbound(desk)
    assert [(r["body"], r["answers_message_id"]) for r in sent] == [
        ("Tuesday 10:00 works.", message_id),
        ("P.S. I'll send an invite.", None),
    ]
    assert (await desk.get("drafts", status="pending_review")).json()["items"] == []


async def test_a_manual_reply_after_an_approval_is_refused(desk: Desk) -> None:
    lead_id, message_id = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    draft_id = await pending_draft(desk.db, desk.ws, lead_id, "Hi Dana, Tuesday works.")
    approve = await desk.post(f"drafts/{draft_id}/approve")
    assert approve.status_code == 202, approve.text
    manual = await _manual(desk, lead_id)
    assert manual.status_code == 409, manual.text
    error = manual.json()["error"]
    assert error["code"] == "already_answered"
    assert f"draft {draft_id}" in error["message"]
    sent = await _outbound(desk)
    assert [(r["idempotency_key"], r["answers_message_id"]) for r in sent] == [
        (f"draft:{draft_id}", message_id)
    ]
    # The lead writes again: a new message, a new answer.
    await desk.inbound(93002, "2026-01-24T09:00:00.000000Z", "Great, see you then.")
    assert (await _manual(desk, lead_id)).status_code == 202


async def test_a_draft_written_after_a_manual_reply_is_born_superseded(desk: Desk) -> None:
    lead_id, _ = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    assert (await _manual(desk, lead_id)).status_code == 202
    draft_id = await pending_draft(desk.db, desk.ws, lead_id, "Hi Dana, Tuesday works.")
    assert (await _draft_status(desk, draft_id))[0] == "superseded"
    approve = await desk.post(f"drafts/{draft_id}/approve")
    assert approve.status_code == 409 and approve.json()["error"]["code"] == "draft_not_pending"
    assert len(await _outbound(desk)) == 1


async def test_the_database_allows_one_answer_per_inbound_message(desk: Desk) -> None:
    lead_id, message_id = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    insert = (
        "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, body, "
        "occurred_at, status, answers_message_id) VALUES ($1, $2, 'email', 'outbound', 'team', "
        "'x', now(), $3, $4)"
    )
    conn = await asyncpg.connect(plain_url(desk.url))
    try:
        await conn.execute(insert, desk.ws, lead_id, "failed", message_id)  # does not count
        await conn.execute(insert, desk.ws, lead_id, "queued", message_id)
        with pytest.raises(asyncpg.UniqueViolationError, match="answers_message_id"):
            await conn.execute(insert, desk.ws, lead_id, "queued", message_id)
    finally:
        await conn.close()


async def test_concurrent_approve_and_manual_reply_send_exactly_once(desk: Desk) -> None:
    """Each round: a new inbound message with a pending draft, then the approval and a manual
    reply at once. Whichever commits first wins; the other is a 409; one reply per message."""
    lead_id = 0
    winners: set[str] = set()
    for n in range(6):
        lead_id, message_id = await desk.inbound(
            93001 + n, f"2026-01-{10 + n:02d}T18:20:00.000000Z", f"{DANA_TEXT} ({n})"
        )
        draft_id = await pending_draft(desk.db, desk.ws, lead_id, f"Hi Dana, Tuesday works ({n}).")
        approve, manual = await asyncio.gather(
            desk.post(f"drafts/{draft_id}/approve"), _manual(desk, lead_id, f"By hand {n}.")
        )
        codes = sorted([approve.status_code, manual.status_code])
        assert codes == [202, 409], (approve.text, manual.text)
        winners.add("approve" if approve.status_code == 202 else "manual")
        answers = [r for r in await _outbound(desk) if r["answers_message_id"] == message_id]
        assert len(answers) == 1
        if approve.status_code == 202:
            assert manual.json()["error"]["code"] == "already_answered"
            assert answers[0]["idempotency_key"] == f"draft:{draft_id}"
        else:
            assert approve.json()["error"]["code"] == "draft_not_pending"
            assert answers[0]["body"] == f"By hand {n}."
    sent = await _outbound(desk)
    assert len(sent) == 6  # one send per inbound message, never two
    assert len(await desk.jobs("reply.send")) == 6


async def test_an_approval_that_meets_the_unique_key_is_refused(desk: Desk) -> None:
    """Another reply answers the message without passing the hook (written straight to the
    table): the approval's insert meets the unique key, 409, and the approval rolls back."""
    lead_id, message_id = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    draft_id = await pending_draft(desk.db, desk.ws, lead_id, "Hi Dana, Tuesday works.")
    conn = await asyncpg.connect(plain_url(desk.url))
    try:
        await conn.execute(
            "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, body, "
            "occurred_at, status, answers_message_id) VALUES ($1, $2, 'email', 'outbound', "
            "'team', 'x', now(), 'queued', $3)",
            desk.ws,
            lead_id,
            message_id,
        )
    finally:
        await conn.close()
    approve = await desk.post(f"drafts/{draft_id}/approve")
    assert approve.status_code == 409, approve.text
    assert approve.json()["error"]["code"] == "already_answered"
    assert (await _draft_status(desk, draft_id))[0] == "pending_review"
    assert len(await _outbound(desk)) == 1
    assert await desk.jobs("reply.send") == []
