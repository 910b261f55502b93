"""Lead list: status= filter, sort=last_message|oldest_waiting, per-user read state."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.events import apply_event
from tests.support.http import https_client
from tests.support.members import Member, add_member
from tests.support.rows import at, insert_lead
from tests.support.samples import sample


async def _ids(app: FastAPI, member: Member, **params: Any) -> list[int]:
    async with https_client(app) as client:
        resp = await client.get(member.url("leads"), params=params, headers=member.headers)
    assert resp.status_code == 200, resp.text
    return [lead["id"] for lead in resp.json()["items"]]


async def _walk(app: FastAPI, member: Member, **params: Any) -> list[int]:
    ids: list[int] = []
    cursor = None
    async with https_client(app) as client:
        while True:
            page_params = {**params, **({"cursor": cursor} if cursor else {})}
            resp = await client.get(member.url("leads"), params=page_params, headers=member.headers)
            assert resp.status_code == 200, resp.text
            ids += [lead["id"] for lead in resp.json()["items"]]
            cursor = resp.json()["next_cursor"]
            if cursor is None:
                return ids


async def test_status_filter_returns_only_that_status(
    app: FastAPI, db: Database, owner: Member
) -> None:
    """Regression: status=unsubscribed was ignored and every lead came back."""
    ws = owner.workspace_id
    active = await insert_lead(db, ws, email="a@x.example", last_message_at=at(1))
    gone = await insert_lead(db, ws, email="u@x.example", status="unsubscribed")
    closed = await insert_lead(db, ws, email="c@x.example", status="closed", last_message_at=at(2))
    assert await _ids(app, owner, status="unsubscribed") == [gone]
    assert await _ids(app, owner, status=["closed", "unsubscribed"]) == [closed, gone]
    assert await _ids(app, owner, status="active") == [active]
    assert await _ids(app, owner) == [closed, active, gone]


async def test_oldest_waiting_sort_pages_with_its_own_cursor(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    waiting = {}
    for minute in (30, 10, 20, 10, 40):
        lead = await insert_lead(
            db,
            ws,
            email=f"w{len(waiting)}@x.example",
            last_inbound_at=at(minute),
            last_message_at=at(minute),
        )
        waiting[lead] = minute
    answered = await insert_lead(
        db, ws, email="done@x.example", last_inbound_at=at(1), last_team_outbound_at=at(2)
    )
    expected = sorted(waiting, key=lambda lead: (waiting[lead], lead))
    assert await _walk(app, owner, sort="oldest_waiting", limit=2) == expected
    assert answered not in await _ids(app, owner, sort="oldest_waiting")
    newest_first = await _walk(app, owner, sort="last_message", limit=2)
    assert newest_first == await _walk(app, owner, limit=200)
    async with https_client(app) as client:
        first = await client.get(
            owner.url("leads"), params={"sort": "oldest_waiting", "limit": 1}, headers=owner.headers
        )
        cursor = first.json()["next_cursor"]
        # A cursor keeps its sort: it is refused under the other one.
        other = await client.get(
            owner.url("leads"), params={"cursor": cursor}, headers=owner.headers
        )
    assert other.status_code == 400, other.text


async def test_unread_is_per_user_and_returns_with_a_newer_inbound_message(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    kim = await add_member(db, ws, "kim@acme.example")
    sent = await apply_event(db, ws, "emailbison", sample("emailbison", "email_sent"))
    quiet = sent.lead_id
    assert quiet is not None
    replied = await insert_lead(
        db, ws, email="r@x.example", last_inbound_at=at(5), last_message_at=at(5)
    )

    async def counts(member: Member) -> tuple[int, bool]:
        async with https_client(app) as client:
            body = (await client.get(member.url("inbox/counts"), headers=member.headers)).json()
        return body["unread"], body["unread_capped"]

    async def mark(member: Member, lead: int, what: str) -> None:
        async with https_client(app) as client:
            resp = await client.post(member.url(f"leads/{lead}/{what}"), headers=member.headers)
        assert resp.status_code == 204, resp.text

    # Only a lead with an inbound message can be unread.
    assert await counts(owner) == (1, False)
    assert await _ids(app, owner, filter="unread") == [replied]
    await mark(owner, replied, "read")
    await mark(owner, replied, "read")  # idempotent
    await mark(owner, quiet, "read")  # no inbound message: nothing to read
    assert await counts(owner) == (0, False)
    assert await _ids(app, owner, filter="unread") == []
    assert await counts(kim) == (1, False)  # per user
    # A newer inbound message makes it unread again.
    reply = await apply_event(db, ws, "emailbison", sample("emailbison", "lead_replied"))
    assert reply.lead_id == quiet
    assert await _ids(app, owner, filter="unread") == [quiet]
    assert await _ids(app, kim, filter=["unread", "requires_attention"]) == [quiet, replied]
    await mark(owner, quiet, "read")
    await mark(owner, replied, "unread")
    assert await _ids(app, owner, filter="unread") == [replied]
    assert await counts(owner) == (1, False)
