"""The pages over HTTP (no browser): redirects, CSRF, roles, tenant isolation, first run."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.web import first_run
from tests.support.http import https_client
from tests.support.members import PASSWORD, Member, add_member, new_workspace_owner
from tests.support.rows import fetch_rows, insert_lead


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def _sign_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    resp = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 303, resp.text
    return resp


async def test_signed_out_start_page_goes_to_login(app: FastAPI) -> None:
    async with https_client(app) as client:
        resp = await client.get("/")
        assert resp.status_code == 303
        assert resp.headers["location"] == "/login"
        page = await client.get("/login")
    assert page.status_code == 200
    assert 'for="email">Email<' in page.text and 'for="password">Password<' in page.text
    assert ">Sign in</button>" in page.text


async def test_login_failure_inline_then_success(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    async with https_client(app) as client:
        wrong = await client.post("/login", data={"email": owner.email, "password": "nope" * 3})
        assert wrong.status_code == 401
        assert "E-mail or password is wrong." in wrong.text
        ok = await _sign_in(client, owner.email)
        assert ok.headers["location"] == f"/w/{owner.workspace_id}/inbox"
        inbox = await client.get(ok.headers["location"])
    assert inbox.status_code == 200
    assert "Requires attention" in inbox.text


async def test_login_rate_limit_is_shown_inline(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    app.state.settings = app.state.settings.model_copy(update={"login_max_attempts_per_account": 2})
    async with https_client(app) as client:
        for _ in range(2):
            await client.post("/login", data={"email": owner.email, "password": "x" * 12})
        blocked = await client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) > 0


async def test_forged_form_post_without_csrf_is_refused(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    lead_id = await insert_lead(db, owner.workspace_id, email="ann@lead.example")
    url = f"/w/{owner.workspace_id}/leads/{lead_id}"
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        page = await client.get(url)
        assert page.status_code == 200
        token = _csrf(page.text)
        # Another site's form: the browser sends the cookies, but it cannot know the token.
        forged = await client.post(f"{url}/update", data={"status": "closed"})
        wrong = await client.post(f"{url}/update", data={"status": "closed", "csrf_token": "x"})
        signout = await client.post("/logout")
        for resp in (forged, wrong, signout):
            assert resp.status_code == 403, resp.text
            assert "text/html" in resp.headers["content-type"]
        rows = await fetch_rows(db, "SELECT status FROM leads WHERE id = :id", id=lead_id)
        assert rows == [{"status": "active"}]
        # The real page's form (hidden field) and htmx (header) both work.
        done = await client.post(f"{url}/update", data={"status": "closed", "csrf_token": token})
        assert done.status_code == 303
        hx = await client.post(
            f"{url}/update",
            data={"status": "active"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert (hx.status_code, hx.headers["hx-redirect"]) == (204, url)
    rows = await fetch_rows(db, "SELECT status FROM leads WHERE id = :id", id=lead_id)
    assert rows == [{"status": "active"}]


async def test_member_gets_403_page_on_admin_pages(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    member: Member = await add_member(db, owner.workspace_id, "kim@acme.example")
    base = f"/w/{owner.workspace_id}/admin"
    async with https_client(app) as client:
        await _sign_in(client, member.email)
        inbox = await client.get(f"/w/{owner.workspace_id}/inbox")
        assert inbox.status_code == 200
        assert "/admin/" not in inbox.text  # no admin links for a member
        for path in ("/integrations", "/members", "/events", "/events/1"):
            resp = await client.get(base + path)
            assert resp.status_code == 403, path
            assert "Not allowed" in resp.text
        token = _csrf(inbox.text)
        resp = await client.post(f"{base}/tokens", data={"name": "x", "csrf_token": token})
        assert resp.status_code == 403


async def test_another_workspaces_lead_is_a_404_page(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    rival = await new_workspace_owner(db, "Rival", "lee@rival.example")
    theirs = await insert_lead(db, rival.workspace_id, email="secret@rival-lead.example")
    async with https_client(app) as client:
        await _sign_in(client, owner.email)
        token = _csrf((await client.get(f"/w/{owner.workspace_id}/inbox")).text)
        under_mine = await client.get(f"/w/{owner.workspace_id}/leads/{theirs}")
        under_theirs = await client.get(f"/w/{rival.workspace_id}/leads/{theirs}")
        missing = await client.get(f"/w/{owner.workspace_id}/leads/999999")
        post = await client.post(
            f"/w/{owner.workspace_id}/leads/{theirs}/notes",
            data={"body": "hi", "csrf_token": token},
        )
    for resp in (under_mine, under_theirs, missing, post):
        assert resp.status_code == 404
        assert "Not found" in resp.text
        assert "secret@rival-lead.example" not in resp.text
    assert await fetch_rows(db, "SELECT id FROM lead_notes") == []


async def test_first_run_setup_link_works_once(settings: Settings, db: Database) -> None:
    setup = await first_run.prepare(db, None, announce=False)
    token = setup.token
    assert token
    app = create_app(settings, database=db, first_run=setup)
    async with app.router.lifespan_context(app):
        await _setup_once(app, db, token)


async def test_no_setup_link_once_a_user_exists(settings: Settings, db: Database) -> None:
    await new_workspace_owner(db, "Acme", "sam@acme.example")
    assert (await first_run.prepare(db, None, announce=False)).token is None


async def _setup_once(app: FastAPI, db: Database, token: str) -> None:
    async with https_client(app) as client:
        assert (await client.get("/setup", params={"token": "wrong"})).status_code == 404
        form = await client.get("/setup", params={"token": token})
        assert form.status_code == 200
        done = await client.post(
            "/setup",
            data={
                "token": token,
                "workspace": "Acme",
                "email": "sam@acme.example",
                "password": PASSWORD,
            },
        )
        assert done.status_code == 303
        assert done.headers["location"].endswith("/inbox")
        inbox = await client.get(done.headers["location"])
        assert inbox.status_code == 200 and "sam@acme.example" in inbox.text
        again = await client.get("/setup", params={"token": token})
    assert again.status_code == 404
    rows = await fetch_rows(db, "SELECT role FROM memberships")
    assert rows == [{"role": "owner"}]


async def test_assets_are_served_from_the_package(app: FastAPI) -> None:
    async with https_client(app) as client:
        page = await client.get("/login")
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        # Nothing from outside: every URL is a path of this app (or a fragment).
        assert all(s.startswith(("/", "#")) and not s.startswith("//") for s in sources), sources
        for src in sources:
            if src.startswith("/static/"):
                resp = await client.get(src)
                assert resp.status_code == 200, src
        assert (await client.get("/static/../app.py")).status_code == 404
        assert (await client.get("/static/nothing.js")).status_code == 404
