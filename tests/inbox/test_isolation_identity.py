"""Tenant isolation of the identity endpoints: identities, merge suggestions, merges, merge,
split, unmerge. Workspace A's token or session on workspace B's URL, or on B's lead, identity
and merge ids under A's URL: 404 like a missing id, and none of B's rows change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from replydesk.core.db import Database
from replydesk.leads import merges
from tests.leads.test_identity import dana_with_phone_and_linkedin
from tests.leads.test_processing import run
from tests.support.http import Send
from tests.support.members import Member
from tests.support.rows import fetch_rows, snapshot
from tests.support.samples import sample

TABLES = ("leads", "messages", "lead_identities", "lead_merges", "lead_merge_suggestions")


@dataclass(frozen=True)
class Objects:
    lead: int
    other: int
    identity: int
    merge: int


async def _seed(db: Database, member: Member) -> Objects:
    """Two leads with the same name (a suggestion), a standing split (a merge record)."""
    ws = member.workspace_id
    lead = (await run(db, ws, "emailbison", dana_with_phone_and_linkedin())).lead_id or 0
    other = (
        await run(db, ws, "emailbison", sample("emailbison", "untracked_reply_received"))
    ).lead_id or 0
    held = await fetch_rows(db, "SELECT kind, id FROM lead_identities WHERE lead_id = :id", id=lead)
    ids = {r["kind"]: r["id"] for r in held}
    async with db.session() as session:
        record = await merges.split(session, ws, lead, ids["linkedin_url"], member.user_id)
    identity = ids["phone"]
    return Objects(lead, other, identity, record["id"])


async def _b_state(db: Database, b: Member) -> list[Any]:
    return [await snapshot(db, table, b.workspace_id) for table in TABLES]


ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/identities", None),
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/merge-suggestions", None),
    ("GET", "/api/v1/workspaces/{ws}/leads/{lead}/merges", None),
    ("POST", "/api/v1/workspaces/{ws}/leads/{lead}/merge", {"other_lead_id": "{other}"}),
    ("POST", "/api/v1/workspaces/{ws}/leads/{lead}/split", {"identity_id": "{identity}"}),
    ("POST", "/api/v1/workspaces/{ws}/leads/{lead}/unmerge", {"merge_id": "{merge}"}),
]


def _fill(
    template: str, body: dict[str, Any] | None, ws: uuid.UUID, objects: Objects
) -> tuple[str, dict[str, Any] | None]:
    values = {
        "lead": objects.lead,
        "other": objects.other,
        "identity": objects.identity,
        "merge": objects.merge,
    }
    path = template.format(ws=ws, **values)
    if body is None:
        return path, None
    return path, {k: int(v.format(**values)) for k, v in body.items()}


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
    b = await _seed(db, rival)
    before = await _b_state(db, rival)
    path, payload = _fill(template, body, rival.workspace_id, b)
    resp = await as_a(method, path, payload)
    assert resp.status_code == 404, resp.text
    assert resp.json() == {"error": {"code": "not_found", "message": "workspace not found"}}
    nowhere = await as_a(method, *_fill(template, body, uuid.uuid4(), b))
    assert (nowhere.status_code, nowhere.json()) == (resp.status_code, resp.json())
    assert await _b_state(db, rival) == before


@pytest.mark.parametrize(("method", "template", "body"), ENDPOINTS)
async def test_b_ids_under_a_workspace_are_404_and_change_nothing(
    db: Database,
    owner: Member,
    rival: Member,
    as_a: Send,
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    a = await _seed(db, owner)
    b = await _seed(db, rival)
    before = await _b_state(db, rival)
    ws = owner.workspace_id
    gone = Objects(10**12, 10**12, 10**12, 10**12)
    # B's lead under A's URL; and A's lead with B's other lead / identity / merge id.
    for objects in (
        Objects(b.lead, a.other, a.identity, a.merge),
        Objects(a.lead, b.other, b.identity, b.merge),
    ):
        if objects.lead == a.lead and body is None:
            continue  # GETs take no other id
        resp = await as_a(method, *_fill(template, body, ws, objects))
        assert resp.status_code == 404, (objects, resp.text)
        assert resp.json()["error"]["code"] == "not_found"
        missing = Objects(
            *(
                g if o == getattr(b, f) else o
                for o, g, f in zip(
                    (objects.lead, objects.other, objects.identity, objects.merge),
                    (gone.lead, gone.other, gone.identity, gone.merge),
                    ("lead", "other", "identity", "merge"),
                    strict=True,
                )
            )
        )
        nowhere = await as_a(method, *_fill(template, body, ws, missing))
        assert (nowhere.status_code, nowhere.json()) == (resp.status_code, resp.json())
    assert await _b_state(db, rival) == before
    # A's own objects through the same endpoint work: the 404s were about ownership.
    own = await as_a(method, *_fill(template, body, ws, a))
    assert own.status_code == 200, own.text


async def test_suggestions_and_search_never_include_b(
    db: Database, owner: Member, rival: Member, as_a: Send
) -> None:
    a = await _seed(db, owner)
    await _seed(db, rival)
    ws = owner.workspace_id
    found = await as_a("GET", f"/api/v1/workspaces/{ws}/leads/{a.lead}/merge-suggestions", None)
    suggested = {s["lead"]["id"] for s in found.json()["items"]}
    mine = await fetch_rows(db, "SELECT id FROM leads WHERE workspace_id = :ws", ws=ws)
    assert a.other in suggested and suggested <= {r["id"] for r in mine}
    q = (await as_a("GET", f"/api/v1/workspaces/{ws}/leads?q=501", None)).json()
    assert [lead["id"] for lead in q["items"]] == [a.lead]
