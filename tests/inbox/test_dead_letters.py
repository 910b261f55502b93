"""Dead-letter inspection: GET webhook-events/{id} with the payload and every attempt."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.queue.queues import ClaimedItem
from replydesk.queue.registry import Registry
from tests.support.http import https_client
from tests.support.members import Member, add_member
from tests.support.queue import fast_settings, fetch, insert_events, running_worker, wait_until

PAYLOAD = {
    "event": {"type": "LEAD_REPLIED", "api_token": "eb-secret-value-123"},
    "data": {"lead": {"email": "dana.reyes@northwind.example", "first_name": "Dana"}},
}


async def _broken(session: AsyncSession, item: ClaimedItem) -> str | None:
    raise KeyError("reply")


async def test_dead_event_shows_payload_and_attempts_masked_for_members(
    app: FastAPI, db: Database, database_url: str, owner: Member
) -> None:
    ws = owner.workspace_id
    [event_id] = await insert_events(database_url, ws, [("emailbison", "LEAD_REPLIED", PAYLOAD)])
    await fetch(database_url, "UPDATE webhook_events SET max_attempts = 2")
    registry = Registry()
    registry.add("webhook_events", "emailbison:LEAD_REPLIED", _broken)

    async def dead() -> bool:
        rows = await fetch(
            database_url, "SELECT status FROM webhook_events WHERE id = $1", event_id
        )
        return bool(rows[0]["status"] == "dead")

    async with running_worker(db, registry, fast_settings(database_url), worker_id="w-9"):
        await wait_until(dead)
    member = await add_member(db, ws, "mo@acme.example", "member")
    async with https_client(app) as client:
        resp = await client.get(owner.url(f"webhook-events/{event_id}"), headers=owner.headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert (body["id"], body["status"], body["attempts"]) == (event_id, "dead", 2)
        assert body["payload"] == PAYLOAD and body["payload_masked"] is False
        history = body["attempts_history"]
        assert [(a["attempt"], a["outcome"], a["category"], a["worker"]) for a in history] == [
            (1, "retry", "bug", "w-9"),
            (2, "dead", "bug", "w-9"),
        ]
        assert {a["error"] for a in body["attempts_history"]} == {"KeyError: 'reply'"}
        assert body["attempts_truncated"] is False
        as_member = await client.get(
            member.url(f"webhook-events/{event_id}"), headers=member.headers
        )
    assert as_member.status_code == 200, as_member.text
    masked = as_member.json()
    assert masked["payload_masked"] is True
    assert masked["payload"]["event"]["api_token"] == "[redacted]"
    assert masked["payload"]["data"]["lead"]["email"] == "d***@northwind.example"
    assert "eb-secret-value-123" not in as_member.text and "dana.reyes" not in as_member.text
    assert masked["attempts_history"] == body["attempts_history"]


async def test_unknown_event_is_404(app: FastAPI, owner: Member) -> None:
    async with https_client(app) as client:
        resp = await client.get(owner.url("webhook-events/999999"), headers=owner.headers)
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "not_found", "message": "webhook event not found"}}
