"""Webhook event list and replay (admin or owner only)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.http import https_client
from tests.support.members import Member, add_member
from tests.support.rows import fetch_rows, insert_event


async def test_list_filters_and_pages_newest_first(
    app: FastAPI, db: Database, owner: Member, rival: Member
) -> None:
    ws = owner.workspace_id
    ids = {
        (provider, status): await insert_event(db, ws, provider, status)
        for provider in ("emailbison", "ghl", "unipile")
        for status in ("succeeded", "dead", "ignored")
    }
    await insert_event(db, rival.workspace_id, "ghl", "dead")

    async def listing(**params: Any) -> list[int]:
        out: list[int] = []
        cursor = None
        async with https_client(app) as client:
            while True:
                query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
                resp = await client.get(
                    owner.url("webhook-events"), params=query, headers=owner.headers
                )
                assert resp.status_code == 200, resp.text
                out.extend(item["id"] for item in resp.json()["items"])
                cursor = resp.json()["next_cursor"]
                if cursor is None:
                    return out

    assert await listing() == sorted(ids.values(), reverse=True)
    assert await listing(status="dead") == sorted(
        (v for (_, s), v in ids.items() if s == "dead"), reverse=True
    )
    assert await listing(provider="ghl", status="ignored") == [ids[("ghl", "ignored")]]
    async with https_client(app) as client:
        for params, needle in (
            ({"status": "broken"}, "status must be one of"),
            ({"provider": "hubspot"}, "provider must be one of"),
        ):
            resp = await client.get(
                owner.url("webhook-events"), params=params, headers=owner.headers
            )
            assert resp.status_code == 422
            assert needle in resp.json()["error"]["message"]


async def test_replay_puts_a_dead_event_back_to_pending(
    app: FastAPI, db: Database, owner: Member
) -> None:
    event = await insert_event(db, owner.workspace_id, "ghl", "dead", attempts=8, last_error="boom")
    path = owner.url(f"webhook-events/{event}/replay")
    async with https_client(app) as client:
        resp = await client.post(path, headers=owner.headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["replayed"] is True
        assert body["event"]["status"] == "pending"
        assert body["event"]["attempts"] == 0
        again = await client.post(path, headers=owner.headers)
        assert again.status_code == 200
        assert again.json()["replayed"] is False
        missing = await client.post(
            owner.url(f"webhook-events/{event + 999}/replay"), headers=owner.headers
        )
        assert missing.status_code == 404


async def test_events_need_admin_or_owner(app: FastAPI, db: Database, owner: Member) -> None:
    event = await insert_event(db, owner.workspace_id, "ghl", "dead")
    member = await add_member(db, owner.workspace_id, "kim@acme.example", "member")
    admin = await add_member(db, owner.workspace_id, "ada@acme.example", "admin")
    path = owner.url(f"webhook-events/{event}/replay")
    async with https_client(app) as client:
        refused = await client.post(path, headers=member.headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert (await fetch_rows(db, "SELECT status FROM webhook_events"))[0]["status"] == "dead"
        # The event list is an admin view too.
        listed = await client.get(owner.url("webhook-events"), headers=member.headers)
        assert listed.status_code == 403
        assert (await client.get(owner.url("webhook-events"), headers=admin.headers)).is_success
        ok = await client.post(path, headers=admin.headers)
        assert ok.status_code == 200
        assert ok.json()["replayed"] is True
