"""Tenant isolation of the administration and dead-letter endpoints.

Workspace A's owner (by Bearer token and by session) on workspace B's URLs, and on B's
object ids under A's URL: 404 (never 403), the same answer as for ids that do not exist,
and nothing of B's changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from replydesk.core.db import Database
from tests.support.http import Send
from tests.support.members import Member, add_member
from tests.support.rows import fetch_rows, insert_event, snapshot


@dataclass(frozen=True)
class Objects:
    member: uuid.UUID  # a member (role member) of the workspace
    token: int  # that member's API token
    event: int  # a dead webhook event


async def _seed(db: Database, owner: Member, email: str) -> Objects:
    member = await add_member(db, owner.workspace_id, email, "member")
    [row] = await fetch_rows(db, "SELECT id FROM api_tokens WHERE user_id = :u", u=member.user_id)
    event = await insert_event(db, owner.workspace_id, "emailbison", "dead")
    return Objects(member.user_id, row["id"], event)


async def _state(db: Database, ws: uuid.UUID) -> list[Any]:
    tables = ("memberships", "api_tokens", "invitations", "webhook_events")
    rows = [await snapshot(db, table, ws) for table in tables]
    rows.append(await fetch_rows(db, "SELECT * FROM workspaces WHERE id = :ws", ws=ws))
    return rows


# (method, path under the workspace, body, A's own status): {member}/{token}/{event} are ids.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "members", None, 200),
    ("PATCH", "members/{member}", {"role": "admin"}, 200),
    ("DELETE", "members/{member}", None, 204),
    ("POST", "invitations", {"email": "new@example.org", "role": "member"}, 201),
    ("GET", "api-tokens", None, 200),
    ("POST", "api-tokens", {"name": "x"}, 201),
    ("DELETE", "api-tokens/{token}", None, 200),
    ("POST", "webhook-token/rotate", None, 200),
    ("GET", "webhook-events/{event}", None, 200),
]
OBJECT_ENDPOINTS = [e for e in ENDPOINTS if "{" in e[1]]


def _url(ws: uuid.UUID, template: str, objects: Objects) -> str:
    path = template.format(member=objects.member, token=objects.token, event=objects.event)
    return f"/api/v1/workspaces/{ws}/{path}"


@pytest.mark.parametrize(("method", "template", "body", "own"), ENDPOINTS)
async def test_b_workspace_url_is_404_and_changes_nothing(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
    method: str,
    template: str,
    body: dict[str, Any] | None,
    own: int,
) -> None:
    await _seed(db, owner, "a-member@acme.example")
    b_objects = await _seed(db, rival, "b-member@rival.example")
    before = await _state(db, rival.workspace_id)
    resp = await as_a(method, _url(rival.workspace_id, template, b_objects), body)
    assert resp.status_code == 404, resp.text
    assert resp.json() == {"error": {"code": "not_found", "message": "workspace not found"}}
    nowhere = await as_a(method, _url(uuid.uuid4(), template, b_objects), body)
    assert (nowhere.status_code, nowhere.json()) == (resp.status_code, resp.json())
    assert await _state(db, rival.workspace_id) == before


@pytest.mark.parametrize(("method", "template", "body", "own"), OBJECT_ENDPOINTS)
async def test_b_object_ids_under_a_workspace_are_404_and_change_nothing(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
    method: str,
    template: str,
    body: dict[str, Any] | None,
    own: int,
) -> None:
    a_objects = await _seed(db, owner, "a-member@acme.example")
    b_objects = await _seed(db, rival, "b-member@rival.example")
    before = await _state(db, rival.workspace_id)
    resp = await as_a(method, _url(owner.workspace_id, template, b_objects), body)
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"]["code"] == "not_found"
    gone = Objects(member=uuid.uuid4(), token=10**12, event=10**12)
    nowhere = await as_a(method, _url(owner.workspace_id, template, gone), body)
    assert (nowhere.status_code, nowhere.json()) == (resp.status_code, resp.json())
    assert await _state(db, rival.workspace_id) == before
    # A's own object through the same endpoint works: the 404 is about ownership.
    mine = await as_a(method, _url(owner.workspace_id, template, a_objects), body)
    assert mine.status_code == own, mine.text


async def test_lists_never_include_b(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
) -> None:
    a_objects = await _seed(db, owner, "a-member@acme.example")
    await _seed(db, rival, "b-member@rival.example")
    ws = owner.workspace_id
    members = (await as_a("GET", f"/api/v1/workspaces/{ws}/members", None)).json()["items"]
    assert {m["email"] for m in members} == {owner.email, "a-member@acme.example"}
    tokens = (await as_a("GET", f"/api/v1/workspaces/{ws}/api-tokens", None)).json()["items"]
    assert a_objects.token in {t["token_id"] for t in tokens}
    assert {t["email"] for t in tokens} == {owner.email, "a-member@acme.example"}
    mine = (await as_a("GET", "/api/v1/workspaces", None)).json()["items"]
    assert [w["id"] for w in mine] == [str(ws)]
