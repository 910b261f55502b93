"""Tenant isolation of the timeline, notes, tags and read-mark endpoints (as
tests/inbox/test_isolation.py does for the rest): A's credentials on B's workspace or B's
objects are 404, the same answer as for ids that do not exist, and nothing of B's changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from replydesk.core.db import Database
from replydesk.leads import markings
from replydesk.leads import service as leads
from replydesk.leads.vocabulary import LeadEventKind
from tests.support.http import Send
from tests.support.isolation import assert_404_like_nowhere
from tests.support.members import Member
from tests.support.rows import at, insert_lead, insert_message, snapshot

B_TABLES = ("leads", "messages", "lead_events", "lead_notes", "tags", "lead_tags", "lead_reads")


@dataclass(frozen=True)
class Objects:
    lead: int
    note: int
    tag: int


async def _seed(db: Database, member: Member) -> Objects:
    ws = member.workspace_id
    lead = await insert_lead(
        db,
        ws,
        email=f"lead@{ws.hex[:8]}.example",
        last_inbound_channel="email",
        last_inbound_at=at(1),
        last_message_at=at(1),
    )
    await insert_message(
        db, ws, lead, channel="email", direction="inbound", sent_by="lead", occurred_at=at(1)
    )
    async with db.session() as session:
        await leads.record_timeline_event(
            session, ws, lead, LeadEventKind.OPEN, occurred_at=at(2), external_id="open:1"
        )
        note = await markings.add_note(session, ws, lead, member.user_id, "private note")
        tag = await markings.create_tag(session, ws, f"tag-{ws.hex[:6]}")
        await markings.attach_tag(session, ws, lead, tag["id"])
        await markings.mark_read(session, ws, lead, member.user_id)
    return Objects(lead, note["id"], tag["id"])


# (method, path template, body): {ws} is the URL's workspace, {lead}/{note}/{tag} B's ids.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/timeline", None),
    ("POST", "/api/v1/workspaces/{ws}/leads/{lead}/read", None),
    ("POST", "/api/v1/workspaces/{ws}/leads/{lead}/unread", None),
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/notes", None),
    ("POST", "/api/v1/workspaces/{ws}/leads/{lead}/notes", {"body": "mine"}),
    ("PATCH", "/api/v1/workspaces/{ws}/leads/{lead}/notes/{note}", {"body": "changed"}),
    ("DELETE", "/api/v1/workspaces/{ws}/leads/{lead}/notes/{note}", None),
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/tags", None),
    ("PUT", "/api/v1/workspaces/{ws}/leads/{lead}/tags/{tag}", None),
    ("DELETE", "/api/v1/workspaces/{ws}/leads/{lead}/tags/{tag}", None),
    ("PATCH", "/api/v1/workspaces/{ws}/tags/{tag}", {"name": "renamed"}),
    ("DELETE", "/api/v1/workspaces/{ws}/tags/{tag}", None),
    ("GET", "/api/v1/workspaces/{ws}/tags", None),
    ("POST", "/api/v1/workspaces/{ws}/tags", {"name": "new"}),
    ("GET", "/api/v1/workspaces/{ws}/leads?filter=unread&status=active", None),
    ("GET", "/api/v1/workspaces/{ws}/leads?sort=oldest_waiting", None),
]
# Each object endpoint with B's id in one slot (A's ids in the others), and in all of them.
OBJECT_CASES = [
    (method, template, body, foreign)
    for method, template, body in ENDPOINTS
    if "{" in template.removeprefix("/api/v1/workspaces/{ws}")
    for foreign in ("lead", "note", "tag", "all")
    if foreign == "all" or "{" + foreign + "}" in template
]


def _fill(template: str, ws: uuid.UUID, objects: Objects) -> str:
    return template.format(ws=ws, lead=objects.lead, note=objects.note, tag=objects.tag)


def _mix(own: Objects, other: Objects, foreign: str) -> Objects:
    """``other``'s id in the ``foreign`` slot (or in all of them), ``own``'s elsewhere."""
    slots = ("lead", "note", "tag")
    picked = {s: getattr(other if foreign in (s, "all") else own, s) for s in slots}
    return Objects(**picked)


async def _b_state(db: Database, b: Member) -> list[Any]:
    return [await snapshot(db, table, b.workspace_id) for table in B_TABLES]


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS)
async def test_b_workspace_url_is_404_and_changes_nothing(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    await _seed(db, owner)
    b_objects = await _seed(db, rival)
    before = await _b_state(db, rival)
    url = _fill(template, rival.workspace_id, b_objects)
    nowhere = _fill(template, uuid.uuid4(), b_objects)
    await assert_404_like_nowhere(as_a, method, url, nowhere, body, workspace=True)
    assert await _b_state(db, rival) == before


@pytest.mark.parametrize(("method", "template", "body", "foreign"), OBJECT_CASES)
async def test_b_object_ids_under_a_workspace_are_404_and_change_nothing(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
    method: str,
    template: str,
    body: dict[str, Any] | None,
    foreign: str,
) -> None:
    """B's id in any one slot (A's ids in the others), or in all of them, is 404."""
    a_objects = await _seed(db, owner)
    b_objects = await _seed(db, rival)
    before = await _b_state(db, rival)
    a_before = await _b_state(db, owner)
    url = _fill(template, owner.workspace_id, _mix(a_objects, b_objects, foreign))
    gone = Objects(lead=10**12, note=10**12, tag=10**12)
    nowhere = _fill(template, owner.workspace_id, _mix(a_objects, gone, foreign))
    await assert_404_like_nowhere(as_a, method, url, nowhere, body, workspace=False)
    assert await _b_state(db, rival) == before
    assert await _b_state(db, owner) == a_before
    own = await as_a(method, _fill(template, owner.workspace_id, a_objects), body)
    assert own.status_code in (200, 201, 204), own.text


async def test_lists_never_include_b(
    db: Database, owner: Member, rival: Member, as_a: Send
) -> None:
    a_objects = await _seed(db, owner)
    b_objects = await _seed(db, rival)
    ws = owner.workspace_id
    timeline = (
        await as_a("GET", f"/api/v1/workspaces/{ws}/leads/{a_objects.lead}/timeline", None)
    ).json()
    assert [i["kind"] for i in timeline["items"]] == ["message", "event", "note"]
    tags = (await as_a("GET", f"/api/v1/workspaces/{ws}/tags", None)).json()["items"]
    assert [t["id"] for t in tags] == [a_objects.tag]
    b_tag_name = f"tag-{rival.workspace_id.hex[:6]}"
    found = (
        await as_a("GET", f"/api/v1/workspaces/{ws}/leads?filter=tag:{b_tag_name}", None)
    ).json()
    assert found["items"] == []
    await as_a("POST", f"/api/v1/workspaces/{ws}/leads/{a_objects.lead}/unread", None)
    unread = (await as_a("GET", f"/api/v1/workspaces/{ws}/leads?filter=unread", None)).json()
    assert [lead["id"] for lead in unread["items"]] == [a_objects.lead]
    assert b_objects.lead not in [lead["id"] for lead in unread["items"]]
    counts = (await as_a("GET", f"/api/v1/workspaces/{ws}/inbox/counts", None)).json()
    assert counts["unread"] == 1
