"""Notes on a lead and workspace tags: who may do what, idempotence, the tag: filter."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from replydesk.core.db import Database
from tests.support.http import https_client
from tests.support.members import Member, add_member
from tests.support.rows import fetch_rows, insert_lead


async def _send(
    client: httpx.AsyncClient, member: Member, method: str, path: str, body: Any = None
) -> httpx.Response:
    return await client.request(method, member.url(path), json=body, headers=member.headers)


async def test_notes_members_write_authors_and_admins_edit_and_delete(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    lead = await insert_lead(db, ws, email="n@x.example")
    kim = await add_member(db, ws, "kim@acme.example")
    lee = await add_member(db, ws, "lee@acme.example")
    async with https_client(app) as client:
        made = await _send(client, kim, "POST", f"leads/{lead}/notes", {"body": "  hot lead  "})
        assert made.status_code == 201, made.text
        note = made.json()
        assert (note["body"], note["author_user_id"], note["lead_id"]) == (
            "hot lead",
            str(kim.user_id),
            lead,
        )
        path = f"leads/{lead}/notes/{note['id']}"
        # Another member may not edit or delete it; nothing changes.
        for method, body in (("PATCH", {"body": "mine now"}), ("DELETE", None)):
            denied = await _send(client, lee, method, path, body)
            assert denied.status_code == 403, denied.text
            assert denied.json()["error"]["code"] == "forbidden"
        edited = await _send(client, kim, "PATCH", path, {"body": "hot lead, call Tue"})
        assert edited.status_code == 200 and edited.json()["body"] == "hot lead, call Tue"
        again = await _send(client, kim, "PATCH", path, {"body": "hot lead, call Tue"})
        assert again.json()["updated_at"] == edited.json()["updated_at"]  # idempotent
        # The owner (an admin role) may edit and delete anyone's note.
        second = (await _send(client, lee, "POST", f"leads/{lead}/notes", {"body": "b"})).json()
        listed = (await _send(client, lee, "GET", f"leads/{lead}/notes")).json()["items"]
        assert [n["id"] for n in listed] == [second["id"], note["id"]]  # newest first
        gone = await _send(client, owner, "DELETE", path)
        assert gone.status_code == 204
        assert (await _send(client, owner, "DELETE", path)).status_code == 404
        for bad in ({"body": "   "}, {"body": "x" * 10_001}, {"body": "ok", "extra": 1}, {}):
            resp = await _send(client, kim, "POST", f"leads/{lead}/notes", bad)
            assert resp.status_code == 422, (bad, resp.text)
        missing = await _send(client, kim, "POST", f"leads/{10**12}/notes", {"body": "x"})
        assert missing.status_code == 404
    rows = await fetch_rows(db, "SELECT body FROM lead_notes WHERE lead_id = :id", id=lead)
    assert rows == [{"body": "b"}]


async def test_tags_create_rename_delete_attach_detach_and_filter(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ws = owner.workspace_id
    dana = await insert_lead(db, ws, email="dana@x.example")
    omar = await insert_lead(db, ws, email="omar@x.example")
    kim = await add_member(db, ws, "kim@acme.example")

    async def tagged(client: httpx.AsyncClient, name: str) -> list[int]:
        resp = await client.get(
            owner.url("leads"), params={"filter": f"tag:{name}"}, headers=owner.headers
        )
        assert resp.status_code == 200, resp.text
        return [lead["id"] for lead in resp.json()["items"]]

    async with https_client(app) as client:
        made = await _send(client, kim, "POST", "tags", {"name": " VIP "})
        assert made.status_code == 201, made.text
        vip = made.json()
        assert vip["name"] == "VIP"
        dup = await _send(client, kim, "POST", "tags", {"name": "VIP"})
        assert (dup.status_code, dup.json()["error"]["code"]) == (409, "conflict")
        other = (await _send(client, kim, "POST", "tags", {"name": "later"})).json()
        for _ in range(2):  # attach is idempotent
            resp = await _send(client, kim, "PUT", f"leads/{dana}/tags/{vip['id']}")
            assert resp.status_code == 204, resp.text
        await _send(client, kim, "PUT", f"leads/{omar}/tags/{other['id']}")
        assert await tagged(client, "VIP") == [dana]
        assert await tagged(client, "nope") == []
        names = (await _send(client, kim, "GET", f"leads/{dana}/tags")).json()["items"]
        assert [t["name"] for t in names] == ["VIP"]
        # Rename and delete are for admins/owners.
        denied = await _send(client, kim, "PATCH", f"tags/{vip['id']}", {"name": "Top"})
        assert denied.status_code == 403
        taken = await _send(client, owner, "PATCH", f"tags/{vip['id']}", {"name": "later"})
        assert (taken.status_code, taken.json()["error"]["code"]) == (409, "conflict")
        renamed = await _send(client, owner, "PATCH", f"tags/{vip['id']}", {"name": "Top"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Top"
        assert await tagged(client, "Top") == [dana]
        assert await tagged(client, "VIP") == []
        for _ in range(2):  # detach is idempotent
            resp = await _send(client, kim, "DELETE", f"leads/{dana}/tags/{vip['id']}")
            assert resp.status_code == 204
        assert await tagged(client, "Top") == []
        assert (await _send(client, kim, "DELETE", f"tags/{other['id']}")).status_code == 403
        assert (await _send(client, owner, "DELETE", f"tags/{other['id']}")).status_code == 204
        assert await tagged(client, "later") == []
        listed = (await _send(client, kim, "GET", "tags")).json()["items"]
        assert [t["name"] for t in listed] == ["Top"]
        unknown = await _send(client, kim, "PUT", f"leads/{dana}/tags/{10**12}")
        assert unknown.status_code == 404
