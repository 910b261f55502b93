"""GET leads/{id}/timeline: messages, provider events, operator changes and notes in one
keyset-paged stream; provider events once per webhook dedupe key."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI

from replydesk.core.db import Database
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import LeadEventKind
from tests.support.events import apply_event
from tests.support.http import https_client
from tests.support.members import Member, add_member
from tests.support.rows import at, fetch_rows, insert_lead, insert_message
from tests.support.samples import sample


async def _get(app: FastAPI, member: Member, path: str, **params: Any) -> Any:
    async with https_client(app) as client:
        resp = await client.get(member.url(path), params=params, headers=member.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def _walk(app: FastAPI, member: Member, lead_id: int, limit: int) -> list[dict[str, Any]]:
    """Every item, page by page from the newest, returned oldest first."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = await _get(app, member, f"leads/{lead_id}/timeline", **params)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    return [item for page in reversed(pages) for item in page]


def _summary(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        kind = item["kind"]
        detail = {
            "message": lambda i: i["message"]["direction"],
            "event": lambda i: i["event"]["kind"],
            "note": lambda i: i["note"]["body"],
        }[kind](item)
        out.append((kind, detail))
    return out


async def test_provider_events_changes_and_notes_are_one_ordered_stream(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    sent = await apply_event(db, ws, "emailbison", sample("emailbison", "email_sent"))
    lead_id = sent.lead_id
    assert lead_id is not None
    await apply_event(db, ws, "emailbison", sample("emailbison", "lead_replied"))
    for _ in range(2):  # a re-delivered open and unsubscribe are one entry each
        await apply_event(db, ws, "emailbison", sample("emailbison", "email_opened"))
        await apply_event(db, ws, "emailbison", sample("emailbison", "lead_unsubscribed"))
    kim = await add_member(db, ws, "kim@acme.example")
    async with https_client(app) as client:
        for body in (
            {"status": "closed"},
            {"status": "closed"},  # a repeat changes nothing and records nothing
            {"category": "interested", "assignee": str(kim.user_id)},
        ):
            resp = await client.patch(
                owner.url(f"leads/{lead_id}"), json=body, headers=owner.headers
            )
            assert resp.status_code == 200, resp.text
        resp = await client.post(
            owner.url(f"leads/{lead_id}/notes"), json={"body": "call Tuesday"}, headers=kim.headers
        )
        assert resp.status_code == 201, resp.text

    items = _summary(await _walk(app, owner, lead_id, limit=50))
    assert items[:4] == [
        ("message", "outbound"),  # 18:13:05 campaign send
        ("message", "inbound"),  # 18:20:00 reply
        ("event", "open"),  # 18:20:01: events after messages at one time, then by id
        ("event", "unsubscribe"),
    ]
    # Operator changes happen now (after the sample times), in the order they were made.
    assert items[4:] == [
        ("event", "status_change"),
        ("event", "category_change"),
        ("event", "assignee_change"),
        ("note", "call Tuesday"),
    ]
    full = await _walk(app, owner, lead_id, limit=50)
    changes = {i["event"]["kind"]: i["event"] for i in full if i["kind"] == "event"}
    assert changes["status_change"]["data"] == {"from": "unsubscribed", "to": "closed"}
    assert changes["status_change"]["actor_user_id"] == str(owner.user_id)
    assert changes["assignee_change"]["data"] == {"from": None, "to": str(kim.user_id)}
    assert changes["open"]["actor_user_id"] is None
    # Small pages walk the same stream: no item lost or repeated at page boundaries.
    assert await _walk(app, owner, lead_id, limit=1) == full
    assert await _walk(app, owner, lead_id, limit=3) == full
    # The open counter still counts once.
    row = (await fetch_rows(db, "SELECT open_count FROM leads WHERE id = :id", id=lead_id))[0]
    assert row["open_count"] == 1


async def test_ties_at_one_timestamp_page_exactly(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    lead_id = await insert_lead(db, ws, email="tie@x.example")
    for _ in range(3):
        await insert_message(
            db, ws, lead_id, channel="sms", direction="inbound", sent_by="lead", occurred_at=at(5)
        )
    async with db.session() as session:
        for n in range(3):
            await leads.record_timeline_event(
                session, ws, lead_id, LeadEventKind.CLICK, data={"n": n}, occurred_at=at(5)
            )
    full = await _walk(app, owner, lead_id, limit=200)
    assert [i["kind"] for i in full] == ["message"] * 3 + ["event"] * 3
    assert [i["event"]["data"]["n"] for i in full[3:]] == [0, 1, 2]
    for limit in (1, 2, 4):
        assert await _walk(app, owner, lead_id, limit=limit) == full


async def test_record_timeline_event_is_idempotent_per_external_id_and_workspace_scoped(
    db: Database, owner: Member, rival: Member
) -> None:
    ws = owner.workspace_id
    lead_id = await insert_lead(db, ws, email="a@x.example")
    async with db.session() as session:
        first = await leads.record_timeline_event(
            session, ws, lead_id, LeadEventKind.MERGE, data={"other": 7}, external_id="merge:1"
        )
        again = await leads.record_timeline_event(
            session, ws, lead_id, LeadEventKind.MERGE, data={"other": 7}, external_id="merge:1"
        )
        foreign = await leads.record_timeline_event(
            session, rival.workspace_id, lead_id, LeadEventKind.MERGE
        )
    assert (first, again, foreign) == (True, False, False)
    rows = await fetch_rows(
        db, "SELECT kind, data FROM lead_events WHERE lead_id = :id", id=lead_id
    )
    assert rows == [{"kind": "merge", "data": {"other": 7}}]


async def test_bad_timeline_cursors_are_refused(app: FastAPI, db: Database, owner: Member) -> None:
    lead_id = await insert_lead(db, owner.workspace_id, email="c@x.example")
    messages_cursor = "eyJrIjoibWVzc2FnZXMiLCJ0IjpudWxsLCJpIjoxfQ"
    async with https_client(app) as client:
        for bad in ("nope", messages_cursor):
            resp = await client.get(
                owner.url(f"leads/{lead_id}/timeline"),
                params={"cursor": bad},
                headers=owner.headers,
            )
            assert resp.status_code == 400, resp.text
            assert "cursor" in resp.json()["error"]["message"]
        missing = await client.get(owner.url(f"leads/{10**12}/timeline"), headers=owner.headers)
    assert missing.status_code == 404


async def test_unknown_lead_records_no_event(db: Database, owner: Member) -> None:
    async with db.session() as session:
        assert not await leads.record_timeline_event(
            session, owner.workspace_id, 10**12, LeadEventKind.OPEN, external_id=str(uuid.uuid4())
        )
