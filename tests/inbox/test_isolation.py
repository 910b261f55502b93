"""Tenant isolation: every endpoint, workspace A's credentials on workspace B's objects.

Each answer is 404 (never 403: existence is not leaked), identical to the answer for an id
that does not exist at all, and nothing of B's changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from replydesk.core.db import Database
from tests.support.http import Send
from tests.support.isolation import assert_404_like_nowhere
from tests.support.members import Member
from tests.support.rows import at, insert_event, insert_lead, insert_message, snapshot


@dataclass(frozen=True)
class Objects:
    lead: int
    event: int
    user: uuid.UUID = field(default_factory=uuid.uuid4)  # a member (the owner)


async def _seed(db: Database, member: Member) -> Objects:
    lead = await insert_lead(
        db,
        member.workspace_id,
        email=f"lead@{member.workspace_id.hex[:8]}.example",
        last_inbound_channel="email",
        last_inbound_at=at(1),
        last_message_at=at(1),
    )
    await insert_message(
        db,
        member.workspace_id,
        lead,
        channel="email",
        direction="inbound",
        sent_by="lead",
        occurred_at=at(1),
    )
    event = await insert_event(db, member.workspace_id, "ghl", "dead")
    return Objects(lead, event, member.user_id)


# (method, path template, body): {ws} is the workspace in the URL, {lead}/{event} B's ids.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/workspaces/{ws}/inbox/counts", None),
    ("GET", "/api/v1/workspaces/{ws}/leads", None),
    ("GET", "/api/v1/workspaces/{ws}/leads?filter=requires_attention", None),
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}", None),
    ("PATCH", "/api/v1/workspaces/{ws}/leads/{lead}", {"status": "closed"}),
    ("PATCH", "/api/v1/workspaces/{ws}/leads/{lead}", {"assignee": None, "category": "other"}),
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/messages", None),
    ("GET", "/api/v1/workspaces/{ws}/webhook-events", None),
    ("GET", "/api/v1/workspaces/{ws}/webhook-events?status=dead", None),
    ("POST", "/api/v1/workspaces/{ws}/webhook-events/{event}/replay", None),
    ("POST", "/api/v1/workspaces/{ws}/members/{user}/unlock", None),
]
OBJECT_ENDPOINTS = [
    e for e in ENDPOINTS if any(f"{{{o}}}" in e[1] for o in ("lead", "event", "user"))
]


async def _b_state(db: Database, b: Member) -> list[Any]:
    return [
        await snapshot(db, table, b.workspace_id)
        for table in ("leads", "messages", "webhook_events", "inbox_counts_cache")
    ]


def _fill(template: str, ws: uuid.UUID, objects: Objects) -> str:
    return template.format(ws=ws, lead=objects.lead, event=objects.event, user=objects.user)


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


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_ENDPOINTS)
async def test_b_object_ids_under_a_workspace_are_404_and_change_nothing(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    a_objects = await _seed(db, owner)
    b_objects = await _seed(db, rival)
    before = await _b_state(db, rival)
    url = _fill(template, owner.workspace_id, b_objects)
    nowhere = _fill(template, owner.workspace_id, Objects(lead=10**12, event=10**12))
    await assert_404_like_nowhere(as_a, method, url, nowhere, body, workspace=False)
    assert await _b_state(db, rival) == before
    # A's own object through the same endpoint works: the 404 is about ownership.
    own = await as_a(method, _fill(template, owner.workspace_id, a_objects), body)
    assert own.status_code == 200, own.text


async def test_lists_and_counts_never_include_b(
    db: Database, owner: Member, rival: Member, as_a: Send
) -> None:
    a_objects = await _seed(db, owner)
    b_objects = await _seed(db, rival)
    ws = owner.workspace_id
    leads = (await as_a("GET", f"/api/v1/workspaces/{ws}/leads", None)).json()["items"]
    assert [lead["id"] for lead in leads] == [a_objects.lead]
    found = (await as_a("GET", f"/api/v1/workspaces/{ws}/leads?q=lead@", None)).json()
    assert [lead["id"] for lead in found["items"]] == [a_objects.lead]
    events = (await as_a("GET", f"/api/v1/workspaces/{ws}/webhook-events", None)).json()
    assert [e["id"] for e in events["items"]] == [a_objects.event]
    assert b_objects.event not in [e["id"] for e in events["items"]]
    counts = (await as_a("GET", f"/api/v1/workspaces/{ws}/inbox/counts", None)).json()
    assert (counts["requires_attention"], counts["total_leads"]) == (1, 1)
