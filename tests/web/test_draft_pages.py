"""The approval queue and the lead page's draft panel over HTTP (no browser): order, approve
with an edit through the reply path, reject, CSRF, roles and tenant isolation."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from replydesk.automation.vocabulary import VerifierStatus
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.sim.server import SimServer
from replydesk.web import draft_pages
from tests.support.drafts import pending_draft
from tests.support.http import https_client
from tests.support.integrations import SECRET_KEY
from tests.support.members import PASSWORD, Member, add_member, new_workspace_owner
from tests.support.replies import configure, dana, reply_settings
from tests.support.rows import at, fetch_rows, insert_lead, insert_message
from tests.support.sim import sim

__all__ = ["sim"]

DRAFT = "Hi Dana,\nthanks for getting back to me.\nDoes Tuesday work?"
EDITED = "Hi Dana,\nTuesday 10:00 works, the invite is on its way."


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return reply_settings(database_url, tmp_path, SECRET_KEY)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    resp = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 303, resp.text


async def _other_lead(db: Database, owner: Member, email: str) -> int:
    lead_id = await insert_lead(db, owner.workspace_id, email=email, first_name="Omar")
    await insert_message(
        db,
        owner.workspace_id,
        lead_id,
        channel="email",
        direction="inbound",
        sent_by="lead",
        occurred_at=at(1),
        body="Tell me more",
    )
    return lead_id


async def _outbound(db: Database) -> list[dict[str, Any]]:
    return await fetch_rows(
        db,
        "SELECT lead_id, body, status, idempotency_key FROM messages "
        "WHERE direction = 'outbound' ORDER BY id",
    )


async def test_queue_oldest_first_with_notes_and_nav_count(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    first_lead = await dana(db, owner.workspace_id)
    second_lead = await _other_lead(db, owner, "omar@lead.example")
    first = await pending_draft(
        db,
        owner.workspace_id,
        first_lead,
        DRAFT,
        notes=("the first name does not match",),
        verifier=VerifierStatus.FAILED,
    )
    second = await pending_draft(db, owner.workspace_id, second_lead, "Hi Omar, here is more.")
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        page = await client.get(f"/w/{owner.workspace_id}/drafts")
        inbox = await client.get(f"/w/{owner.workspace_id}/inbox")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index(f'id="draft-{first}"') < html.index(f'id="draft-{second}"')
    assert "the first name does not match" in html and ">failed<" in html
    assert "Draft for Dana" in html and "Draft for Omar" in html
    assert "Source: template" in html and "Re: Quick question" in html
    # The textarea holds the draft's text exactly (no leading newline added).
    assert f'name="body" rows="6" required maxlength="20000">{DRAFT}</textarea>' in html
    assert re.search(r'id="nav-drafts">Drafts <span[^>]*>2</span>', inbox.text)


async def test_queue_page_announces_drafts_that_arrive_after_it_was_drawn(
    app: FastAPI, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    first_lead = await dana(db, owner.workspace_id)
    shown = await pending_draft(db, owner.workspace_id, first_lead, DRAFT)
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        page = (await client.get(f"/w/{owner.workspace_id}/drafts")).text
        found = re.search(r'hx-get="(/w/[^"]+/drafts/fresh\?after=(\d+))"', page)
        assert found and int(found.group(2)) == shown, "the page polls from its newest draft"
        quiet = await client.get(found.group(1), headers={"HX-Request": "true"})
        assert quiet.status_code == 200 and "new draft" not in quiet.text
        # Another inbound message's draft arrives while the operator works on the page.
        await pending_draft(
            db, owner.workspace_id, await _other_lead(db, owner, "o@x.example"), "Hi Omar"
        )
        fresh = await client.get(found.group(1), headers={"HX-Request": "true"})
        other = await new_workspace_owner(db, "Other", "ann@other.example")
        await _sign_in(client, other.email)
        foreign = await client.get(f"/w/{owner.workspace_id}/drafts/fresh?after=0")
        bad = await client.get(f"/w/{other.workspace_id}/drafts/fresh?after=-1")
    assert "1 new draft waiting" in fresh.text and 'role="status"' in fresh.text
    assert f'after={shown}"' in fresh.text  # it keeps polling from the page's draw
    assert 'href="/w/' + str(owner.workspace_id) + '/drafts">Show them' in fresh.text
    assert foreign.status_code in (403, 404)
    assert bad.status_code == 422


async def test_approve_edited_sends_through_the_reply_path(
    app: FastAPI, db: Database, sim: SimServer, settings: Settings
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    draft_id = await pending_draft(db, owner.workspace_id, lead_id, DRAFT)
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(f"/w/{owner.workspace_id}/drafts")).text)
        resp = await client.post(
            f"/w/{owner.workspace_id}/drafts/{draft_id}/approve",
            data={"body": EDITED.replace("\n", "\r\n"), "view": "queue"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert resp.status_code == 200, resp.text
        assert f'id="draft-{draft_id}"' in resp.text and "Approved (edited)" in resp.text
        assert "the reply is queued" in resp.text and "data-approve" not in resp.text
        again = await client.post(
            f"/w/{owner.workspace_id}/drafts/{draft_id}/approve",
            data={"csrf_token": token, "view": "lead"},
        )
        assert (again.status_code, again.headers["location"]) == (
            303,
            f"/w/{owner.workspace_id}/leads/{lead_id}",
        )
        queue = await client.get(f"/w/{owner.workspace_id}/drafts")
        lead_page = await client.get(f"/w/{owner.workspace_id}/leads/{lead_id}")
    # One reply, the edited text with the browser's CRLF undone, keyed by the draft.
    assert await _outbound(db) == [
        {
            "lead_id": lead_id,
            "body": EDITED,
            "status": "queued",
            "idempotency_key": f"draft:{draft_id}",
        }
    ]
    rows = await fetch_rows(db, "SELECT status, edit_diff FROM drafts WHERE id = :id", id=draft_id)
    assert rows[0]["status"] == "approved" and "+Tuesday 10:00 works" in rows[0]["edit_diff"]
    assert f'id="draft-{draft_id}"' not in queue.text and "No drafts are waiting." in queue.text
    assert 'id="drafts-title"' in lead_page.text and "Approved (edited)" in lead_page.text
    assert "Tuesday 10:00 works, the invite is on its way." in lead_page.text


async def test_unchanged_text_is_no_edit_and_reject_keeps_the_reason(
    app: FastAPI, db: Database, sim: SimServer, settings: Settings
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    other = await _other_lead(db, owner, "omar@lead.example")
    kept = await pending_draft(db, owner.workspace_id, lead_id, DRAFT)
    dropped = await pending_draft(db, owner.workspace_id, other, "Hi Omar, buy now.")
    base = f"/w/{owner.workspace_id}/drafts"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(base)).text)
        hx = {"X-CSRF-Token": token, "HX-Request": "true"}
        rejected = await client.post(
            f"{base}/{dropped}/reject", data={"reason": "too pushy"}, headers=hx
        )
        assert rejected.status_code == 200, rejected.text
        assert "Rejected: too pushy." in rejected.text
        # A rejected draft cannot be approved: the item says so in place, nothing is sent.
        late = await client.post(f"{base}/{dropped}/approve", data={}, headers=hx)
        assert late.status_code == 200 and 'role="alert"' in late.text
        assert "can no longer be sent" in late.text
        ok = await client.post(
            f"{base}/{kept}/approve", data={"body": DRAFT.replace("\n", "\r\n")}, headers=hx
        )
        assert ok.status_code == 200 and "Approved:" in ok.text
    assert [r["body"] for r in await _outbound(db)] == [DRAFT]
    rows = await fetch_rows(
        db, "SELECT id, status, reject_reason, edit_diff FROM drafts ORDER BY id"
    )
    assert rows == [
        {"id": kept, "status": "approved", "reject_reason": None, "edit_diff": None},
        {"id": dropped, "status": "rejected", "reject_reason": "too pushy", "edit_diff": None},
    ]


async def test_forged_approve_is_refused(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    lead_id = await dana(db, owner.workspace_id)
    draft_id = await pending_draft(db, owner.workspace_id, lead_id, DRAFT)
    url = f"/w/{owner.workspace_id}/drafts/{draft_id}"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        forged = await client.post(f"{url}/approve", data={"body": "Send me your password"})
        wrong = await client.post(f"{url}/approve", data={"csrf_token": "x" * 20})
        reject = await client.post(f"{url}/reject", headers={"HX-Request": "true"})
    for resp in (forged, wrong, reject):
        assert resp.status_code == 403, resp.text
    rows = await fetch_rows(db, "SELECT status FROM drafts")
    assert rows == [{"status": "pending_review"}] and await _outbound(db) == []


async def test_member_decides_but_another_workspace_is_a_404(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    member = await add_member(db, owner.workspace_id, "kim@acme.example")
    rival = await new_workspace_owner(db, "Rival", "lee@rival.example")
    theirs_lead = await dana(db, rival.workspace_id)
    theirs = await pending_draft(db, rival.workspace_id, theirs_lead, "Secret rival text")
    mine_lead = await _other_lead(db, owner, "omar@lead.example")
    mine = await pending_draft(db, owner.workspace_id, mine_lead, "Hi Omar")
    async with https_client(app) as client:
        await _sign_in(client, member.email)
        queue = await client.get(f"/w/{owner.workspace_id}/drafts")
        assert queue.status_code == 200 and f'id="draft-{mine}"' in queue.text
        assert "Secret rival text" not in queue.text
        token = _csrf(queue.text)
        hx = {"X-CSRF-Token": token, "HX-Request": "true"}
        cross = await client.post(f"/w/{owner.workspace_id}/drafts/{theirs}/approve", headers=hx)
        cross_reject = await client.post(
            f"/w/{owner.workspace_id}/drafts/{theirs}/reject", headers=hx
        )
        their_queue = await client.get(f"/w/{rival.workspace_id}/drafts")
        rejected = await client.post(f"/w/{owner.workspace_id}/drafts/{mine}/reject", headers=hx)
    for resp in (cross, cross_reject, their_queue):
        assert resp.status_code == 404, resp.text
        assert "Secret rival text" not in resp.text
    assert rejected.status_code == 200 and "Rejected." in rejected.text
    rows = await fetch_rows(db, "SELECT id, status FROM drafts ORDER BY id")
    assert rows == [{"id": theirs, "status": "pending_review"}, {"id": mine, "status": "rejected"}]


async def test_queue_load_more_is_keyset_paged(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    ids = []
    for n in range(draft_pages.QUEUE_PAGE + 1):
        lead_id = await _other_lead(db, owner, f"lead{n}@lead.example")
        ids.append(await pending_draft(db, owner.workspace_id, lead_id, f"Hi number {n}"))
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        first = await client.get(f"/w/{owner.workspace_id}/drafts")
        more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', first.text)
        assert more, "no Load more link"
        rest = await client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    shown = [int(i) for i in re.findall(r'id="draft-(\d+)"', first.text)]
    assert shown == ids[: draft_pages.QUEUE_PAGE]
    assert [int(i) for i in re.findall(r'id="draft-(\d+)"', rest.text)] == ids[-1:]
    assert "<html" not in rest.text and "Load more" not in rest.text
