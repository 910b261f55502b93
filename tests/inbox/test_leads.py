"""Lead list (filters, search, keyset pages), lead detail, PATCH, conversation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from replydesk.core.db import Database
from tests.support.http import https_client
from tests.support.members import Member, add_member
from tests.support.rows import at, fetch_rows, insert_lead, insert_message


async def _all_pages(
    client: httpx.AsyncClient, member: Member, params: dict[str, Any]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = await client.get(member.url("leads"), params=query, headers=member.headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert len(body["items"]) <= params.get("limit", 50)
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def _expected_order(rows: list[dict[str, Any]]) -> list[int]:
    dated = sorted(
        (r for r in rows if r["last_message_at"] is not None),
        key=lambda r: (r["last_message_at"], r["id"]),
        reverse=True,
    )
    undated = sorted((r for r in rows if r["last_message_at"] is None), key=lambda r: -r["id"])
    return [r["id"] for r in dated + undated]


@given(
    minutes=st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=0, max_size=30),
    page_size=st.integers(1, 7),
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
async def test_keyset_pages_cover_every_lead_once_in_order(
    app: FastAPI, db: Database, owner: Member, minutes: list[int | None], page_size: int
) -> None:
    """Ties on last_message_at and leads without messages included."""
    async with db.session() as session:
        await session.execute(text("DELETE FROM leads"))
    for m in minutes:
        await insert_lead(db, owner.workspace_id, last_message_at=None if m is None else at(m))
    rows = await fetch_rows(db, "SELECT id, last_message_at FROM leads")
    async with https_client(app) as client:
        items = await _all_pages(client, owner, {"limit": page_size})
    assert [i["id"] for i in items] == _expected_order(rows)


async def test_filters_search_and_assignee(app: FastAPI, db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    kim = await add_member(db, ws, "kim@acme.example")
    dana = await insert_lead(
        db,
        ws,
        email="dana.reyes@northwind.example",
        first_name="Dana",
        last_name="Reyes",
        company="Northwind Traders",
        category="interested",
        last_inbound_channel="email",
        last_inbound_at=at(10),
        last_message_at=at(10),
        assignee_user_id=kim.user_id,
    )
    omar = await insert_lead(
        db,
        ws,
        email="omar@contoso.example",
        first_name="Omar",
        last_name="Dane",
        company="Contoso",
        last_inbound_channel="sms",
        last_inbound_at=at(5),
        last_team_outbound_at=at(6),
        last_message_at=at(6),
    )
    odd = await insert_lead(
        db,
        ws,
        email="x_y%z@odd.example",
        first_name=None,
        last_name=None,
        company="100% Pure_Co",
        last_inbound_channel="linkedin",
        last_inbound_at=at(1),
        last_message_at=at(1),
        category="not_interested",
    )

    async def ids(**params: Any) -> list[int]:
        async with https_client(app) as client:
            resp = await client.get(owner.url("leads"), params=params, headers=owner.headers)
        assert resp.status_code == 200, resp.text
        return [item["id"] for item in resp.json()["items"]]

    assert await ids() == [dana, omar, odd]
    assert await ids(filter="all") == [dana, omar, odd]
    assert await ids(filter="requires_attention") == [dana, odd]
    assert await ids(filter="category:interested") == [dana]
    assert await ids(filter="category:uncategorized") == [omar]
    assert await ids(filter="channel:sms") == [omar]
    assert await ids(filter=["requires_attention", "channel:linkedin"]) == [odd]
    # Prefix search on e-mail, "first last", last name and company, case-insensitive.
    assert await ids(q="DANA") == [dana]
    assert await ids(q="dana r") == [dana]
    assert await ids(q="dane") == [omar]
    assert await ids(q="dan") == [dana, omar]
    assert await ids(q="north") == [dana]
    assert await ids(q="omar@") == [omar]
    assert await ids(q="reyes") == [dana]
    assert await ids(q="eyes") == []  # prefix, not substring
    # LIKE wildcards in q are literal.
    assert await ids(q="100%") == [odd]
    assert await ids(q="x_y") == [odd]
    assert await ids(q="x%") == []
    assert await ids(q="_") == []
    assert await ids(assignee=str(kim.user_id)) == [dana]
    assert await ids(assignee="none") == [omar, odd]
    assert await ids(assignee="me") == []
    # The requires_attention flag on items matches the filter.
    async with https_client(app) as client:
        items = (await client.get(owner.url("leads"), headers=owner.headers)).json()["items"]
    assert [i["requires_attention"] for i in items] == [True, False, True]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"filter": "unseen"}, 422, "unknown filter"),
        ({"filter": "tag:"}, 422, "unknown filter"),
        ({"filter": "tag:" + "x" * 65}, 422, "tag is too long"),
        ({"status": "gone"}, 422, "status must be one of"),
        ({"sort": "newest"}, 422, "sort must be one of"),
        ({"filter": "channel:fax"}, 422, "channel"),
        ({"filter": "category:"}, 422, "unknown filter"),
        ({"q": "   "}, 422, "q must not be blank"),
        ({"q": "x" * 201}, 422, "at most 200"),
        ({"assignee": "someone"}, 422, "assignee"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 201}, 422, "limit must be at most 200"),
        ({"cursor": "not-a-cursor"}, 400, "cursor"),
        ({"cursor": "eyJrIjoibWVzc2FnZXMiLCJ0IjpudWxsLCJpIjoxfQ"}, 400, "cursor"),
    ],
)
async def test_bad_list_parameters_are_rejected_clearly(
    app: FastAPI, owner: Member, params: dict[str, Any], status: int, needle: str
) -> None:
    async with https_client(app) as client:
        resp = await client.get(owner.url("leads"), params=params, headers=owner.headers)
    assert resp.status_code == status, resp.text
    assert set(resp.json()) == {"error"}
    assert needle in resp.json()["error"]["message"]


async def test_lead_detail_and_404s(app: FastAPI, db: Database, owner: Member) -> None:
    lead = await insert_lead(db, owner.workspace_id, email="a@b.example", first_name="Ann")
    async with https_client(app) as client:
        resp = await client.get(owner.url(f"leads/{lead}"), headers=owner.headers)
        assert resp.status_code == 200
        assert resp.json()["first_name"] == "Ann"
        assert resp.json()["requires_attention"] is False
        missing = await client.get(owner.url(f"leads/{lead + 1000}"), headers=owner.headers)
        assert missing.status_code == 404
        assert missing.json() == {"error": {"code": "not_found", "message": "lead not found"}}
        huge = await client.get(owner.url(f"leads/{2**63}"), headers=owner.headers)
        assert huge.status_code == 422


async def test_patch_validates_and_is_idempotent(
    app: FastAPI, db: Database, owner: Member, rival: Member
) -> None:
    lead = await insert_lead(
        db,
        owner.workspace_id,
        email="a@b.example",
        last_inbound_channel="email",
        last_inbound_at=at(1),
        last_message_at=at(1),
    )
    kim = await add_member(db, owner.workspace_id, "kim@acme.example")
    path = owner.url(f"leads/{lead}")
    snooze = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    body = {
        "status": "active",
        "category": "  Interested ",
        "snoozed_until": snooze.isoformat(),
        "assignee": str(kim.user_id),
    }
    async with https_client(app) as client:
        first = await client.patch(path, json=body, headers=owner.headers)
        assert first.status_code == 200, first.text
        lead_out = first.json()
        assert lead_out["category"] == "interested"
        assert lead_out["assignee_user_id"] == str(kim.user_id)
        assert datetime.fromisoformat(lead_out["snoozed_until"]) == snooze
        assert lead_out["requires_attention"] is False  # snoozed
        second = await client.patch(path, json=body, headers=owner.headers)
        assert second.json() == lead_out  # same state, same updated_at

        counts = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
        assert counts["requires_attention"] == 0
        cleared = await client.patch(
            path, json={"snoozed_until": None, "assignee": None}, headers=owner.headers
        )
        assert cleared.json()["requires_attention"] is True
        assert cleared.json()["assignee_user_id"] is None
        assert cleared.json()["category"] == "interested"  # untouched
        assert cleared.json()["updated_at"] > lead_out["updated_at"]

        bad_bodies: list[tuple[dict[str, Any], str]] = [
            ({}, "at least one"),
            ({"status": "deleted"}, "status"),
            ({"status": None}, "status cannot be null"),
            ({"category": "   "}, "category must not be blank"),
            ({"category": "x" * 65}, "category"),
            ({"category": "hot lead"}, "category"),
            ({"snoozed_until": "2026-01-01T10:00:00"}, "snoozed_until"),
            ({"snoozed_until": "tomorrow"}, "snoozed_until"),
            ({"assignee": "not-a-uuid"}, "assignee"),
            ({"assignee": str(rival.user_id)}, "not a member of this workspace"),
            ({"priority": 1}, "priority"),
        ]
        before = await fetch_rows(db, "SELECT * FROM leads WHERE id = :id", id=lead)
        for bad, needle in bad_bodies:
            resp = await client.patch(path, json=bad, headers=owner.headers)
            assert resp.status_code == 422, (bad, resp.text)
            assert needle in resp.json()["error"]["message"], (bad, resp.json())
        assert await fetch_rows(db, "SELECT * FROM leads WHERE id = :id", id=lead) == before
        closed = await client.patch(path, json={"status": "closed"}, headers=owner.headers)
        assert closed.json()["status"] == "closed"
        assert closed.json()["requires_attention"] is False


async def test_conversation_pages_all_channels_oldest_first(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    lead = await insert_lead(db, ws, email="a@b.example")
    other = await insert_lead(db, ws, email="c@d.example")
    rng = random.Random(7)
    expected = []
    for i in range(23):
        channel = rng.choice(["email", "sms", "linkedin"])
        inbound = rng.random() < 0.5
        when = at(rng.randint(0, 10))  # ties on occurred_at: ordered by id
        mid = await insert_message(
            db,
            ws,
            lead,
            channel=channel,
            direction="inbound" if inbound else "outbound",
            sent_by="lead" if inbound else "team",
            occurred_at=when,
            body=f"m{i}",
        )
        expected.append((when, mid))
    await insert_message(
        db, ws, other, channel="sms", direction="inbound", sent_by="lead", occurred_at=at(3)
    )
    expected_ids = [mid for _, mid in sorted(expected)]
    pages: list[list[int]] = []
    cursor = None
    async with https_client(app) as client:
        while True:
            params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            resp = await client.get(
                owner.url(f"leads/{lead}/messages"), params=params, headers=owner.headers
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            pages.append([m["id"] for m in body["items"]])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        leads_cursor = (
            await client.get(owner.url("leads"), params={"limit": 1}, headers=owner.headers)
        ).json()["next_cursor"]
        wrong_kind = await client.get(
            owner.url(f"leads/{lead}/messages"),
            params={"cursor": leads_cursor},
            headers=owner.headers,
        )
        assert wrong_kind.status_code == 400
    # Newest page first; within a page oldest → newest; together: the whole timeline once.
    assert pages[0] == expected_ids[-5:]
    assert [mid for page in reversed(pages) for mid in page] == expected_ids
    assert {len(p) for p in pages[:-1]} == {5}
