"""The operator pages in a real browser (Debian's chromium via Playwright) against the real
app on a loopback uvicorn server with its in-process worker and the test database.

Screenshots of the main pages go to docs/screenshots/ only with REPLYDESK_SCREENSHOTS=1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from replydesk.core.db import Database, plain_url
from replydesk.workspaces.service import rotate_webhook_token
from tests.support.members import Member, add_member, new_workspace_owner
from tests.support.queue import fetchval, insert_events, wait_until
from tests.support.rows import fetch_rows, insert_lead
from tests.support.samples import sample
from tests.web.conftest import Live, no_serious_violations, screenshot, sign_in

pytestmark = pytest.mark.usefixtures("browser")


async def _owner(db: Database) -> tuple[Member, str]:
    """A workspace owner and the workspace's webhook token (a second create gives a new one)."""
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    async with db.session() as session:
        rotated = await rotate_webhook_token(session, owner.workspace_id, grace_s=0)
    return owner, rotated.webhook_token


def _reply_payload() -> dict[str, Any]:
    return sample("emailbison", "lead_replied")


async def _post_webhook(live: Live, ws: Member, token: str, payload: dict[str, Any]) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(
            f"{live.url}/webhooks/emailbison/{ws.workspace_id}",
            params={"token": token},
            json=payload,
        )
    assert resp.status_code in (200, 202), resp.text


async def test_first_run_setup_in_the_browser(live: Live, page: Any) -> None:
    token = live.app.state.first_run.token
    assert token, "an empty database has a setup link"
    await page.goto(f"{live.url}/")
    assert page.url == f"{live.url}/login"  # signed out → login
    await page.goto(f"{live.url}/setup?token={token}")
    await no_serious_violations(page)
    await page.get_by_label("Workspace name").fill("Acme Outbound")
    await page.get_by_label("Email").fill("founder@acme.example")
    await page.get_by_label("Password").fill("a long enough password")
    await screenshot(page, "setup")
    await page.get_by_role("button", name="Create account and workspace").click()
    await page.wait_for_url(f"{live.url}/w/*/inbox")
    assert await page.get_by_text("founder@acme.example").is_visible()
    await page.goto(f"{live.url}/setup?token={token}")
    assert await page.get_by_role("heading", name="Not found").is_visible()


async def test_login_failure_then_success(live: Live, db: Database, page: Any) -> None:
    owner, _ = await _owner(db)
    await page.goto(f"{live.url}/login")
    await no_serious_violations(page)
    await screenshot(page, "login")
    await page.get_by_label("Email").fill(owner.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.locator("#login-error")
    await alert.wait_for()
    assert await alert.inner_text() == "E-mail or password is wrong."
    await sign_in(page, live, owner.email)
    assert page.url == f"{live.url}/w/{owner.workspace_id}/inbox"
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{live.url}/login")
    await page.goto(f"{live.url}/w/{owner.workspace_id}/inbox")
    assert page.url.startswith(f"{live.url}/login")


async def test_counts_update_within_5_s_after_a_webhook(
    live: Live, db: Database, page: Any
) -> None:
    owner, token = await _owner(db)
    await sign_in(page, live, owner.email)
    count = page.locator("#count-attention")
    assert await count.inner_text() == "0"
    await _post_webhook(live, owner, token, _reply_payload())
    posted = time.monotonic()
    await expect(count).to_have_text("1", timeout=5_000)
    assert time.monotonic() - posted < 5.0
    # The list itself shows the lead after a reload (or a filter change).
    await page.reload()
    assert await page.locator("ol.leads li.lead").count() == 1
    assert await page.locator("ol.leads li.unread").count() == 1
    await no_serious_violations(page)
    await screenshot(page, "inbox")


@asynccontextmanager
async def _locked_leads(database_url: str) -> AsyncIterator[None]:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE leads IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def test_stale_mark_under_a_counts_timeout(
    live: Live, db: Database, page: Any, database_url: str
) -> None:
    owner, _ = await _owner(db)
    await insert_lead(db, owner.workspace_id, email="ann@lead.example")
    await sign_in(page, live, owner.email)
    stale = page.locator("#counts-stale")
    assert await stale.count() == 0
    good = live.settings
    # As tests/inbox/test_counts.py forces it: a 1 ms budget while leads are locked.
    live.app.state.settings = good.model_copy(update={"counts_statement_timeout_ms": 1})
    try:
        async with _locked_leads(database_url):
            await stale.wait_for(state="visible", timeout=5_000)
            assert "Stale" in await stale.inner_text()
            await screenshot(page, "inbox-stale")
    finally:
        live.app.state.settings = good
    await stale.wait_for(state="detached", timeout=5_000)


async def test_open_a_lead_with_the_keyboard(live: Live, db: Database, page: Any) -> None:
    owner, token = await _owner(db)
    await _post_webhook(live, owner, token, _reply_payload())
    await wait_until(lambda: _count(live, "SELECT count(*) FROM messages"), timeout_s=10)
    await sign_in(page, live, owner.email)
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live.url}/w/{owner.workspace_id}/leads/*")
    assert await page.locator("ol.items li.msg").count() >= 1
    await page.keyboard.press("r")
    assert await page.evaluate("document.activeElement.id") == "reply"
    assert await page.get_by_label("Reply", exact=True).is_visible()
    assert await page.get_by_role("button", name="Send").is_visible()
    await page.evaluate("document.activeElement.blur()")  # typing in the box is not a shortcut
    await page.keyboard.press("?")
    assert await page.locator("#shortcuts").is_visible()
    await page.keyboard.press("Escape")
    # A note through the page appears in the timeline.
    await page.get_by_label("Note").fill("Called back, wants a demo")
    await page.get_by_role("button", name="Add note").click()
    await page.get_by_text("Called back, wants a demo").wait_for()
    # The page marked the lead read.
    rows = await fetch_rows(db, "SELECT count(*) AS n FROM lead_reads")
    assert rows == [{"n": 1}]
    await no_serious_violations(page)
    await screenshot(page, "lead")


async def _count(live: Live, sql: str) -> bool:
    return bool(await fetchval(str(live.settings.database_url), sql))


async def test_replay_a_dead_event(live: Live, db: Database, page: Any, database_url: str) -> None:
    owner, _ = await _owner(db)
    [event_id] = await insert_events(
        database_url, owner.workspace_id, [("emailbison", "LEAD_REPLIED", _reply_payload())]
    )
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        # Let the worker finish it first, then make it a dead letter as a failure would.
        await wait_until(lambda: _status_is(conn, event_id, "succeeded"), timeout_s=10)
        await conn.execute(
            "UPDATE webhook_events SET status = 'dead', attempts = 5, "
            "last_error = 'provider_timeout: gave up' WHERE id = $1",
            event_id,
        )
        await sign_in(page, live, owner.email)
        await page.goto(f"{live.url}/w/{owner.workspace_id}/admin/events")
        await no_serious_violations(page)
        await screenshot(page, "dead-letters")
        await page.get_by_role("link", name=str(event_id), exact=True).click()
        await page.wait_for_url(f"**/admin/events/{event_id}")
        assert "LEAD_REPLIED" in await page.locator("pre.payload").inner_text()
        await no_serious_violations(page)
        await page.get_by_role("button", name="Replay").click()
        await page.wait_for_url(f"**/admin/events/{event_id}")
        await wait_until(lambda: _status_is(conn, event_id, "succeeded"), timeout_s=10)
        assert (
            await conn.fetchval("SELECT attempts FROM webhook_events WHERE id = $1", event_id) == 1
        )
    finally:
        await conn.close()


async def _status_is(conn: Any, event_id: int, status: str) -> bool:
    found = await conn.fetchval("SELECT status FROM webhook_events WHERE id = $1", event_id)
    return bool(found == status)


async def test_forged_post_from_the_browser_is_refused(live: Live, db: Database, page: Any) -> None:
    owner, _ = await _owner(db)
    lead_id = await insert_lead(db, owner.workspace_id, email="ann@lead.example")
    await sign_in(page, live, owner.email)
    # The browser's own cookies, no CSRF token: what another site's form would send.
    resp = await page.request.post(
        f"{live.url}/w/{owner.workspace_id}/leads/{lead_id}/update",
        form={"status": "closed"},
    )
    assert resp.status == 403
    rows = await fetch_rows(db, "SELECT status FROM leads WHERE id = :id", id=lead_id)
    assert rows == [{"status": "active"}]


async def test_a_member_cannot_see_admin_pages(live: Live, db: Database, page: Any) -> None:
    owner, _ = await _owner(db)
    member = await add_member(db, owner.workspace_id, "kim@acme.example")
    # The owner sees the admin pages (and they pass axe) ...
    await sign_in(page, live, owner.email)
    pages = (
        ("admin/integrations", "integrations"),
        ("admin/members", "members"),
        ("sequences", None),
    )
    for path, shot in pages:
        await page.goto(f"{live.url}/w/{owner.workspace_id}/{path}")
        assert await page.get_by_role("heading", level=1).count() == 1
        await no_serious_violations(page)
        if shot:
            await screenshot(page, shot)
    await page.get_by_role("button", name="Sign out").click()
    # ... a member does not.
    await sign_in(page, live, member.email)
    assert await page.get_by_role("link", name="Integrations").count() == 0
    resp = await page.goto(f"{live.url}/w/{owner.workspace_id}/admin/integrations")
    assert resp is not None and resp.status == 403
    assert await page.get_by_role("heading", name="Not allowed").is_visible()
    await no_serious_violations(page)


async def test_another_workspaces_lead_url_is_a_404_page(
    live: Live, db: Database, page: Any
) -> None:
    owner, _ = await _owner(db)
    rival = await new_workspace_owner(db, "Rival", "lee@rival.example")
    theirs = await insert_lead(db, rival.workspace_id, email="secret@rival-lead.example")
    await sign_in(page, live, owner.email)
    for ws in (owner.workspace_id, rival.workspace_id):
        resp = await page.goto(f"{live.url}/w/{ws}/leads/{theirs}")
        assert resp is not None and resp.status == 404
        assert await page.get_by_role("heading", name="Not found").is_visible()
        assert "secret@rival-lead.example" not in await page.content()
    await no_serious_violations(page)


async def test_health_banner_comes_and_goes(
    live: Live, db: Database, page: Any, database_url: str
) -> None:
    owner, _ = await _owner(db)
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        await conn.execute(
            "INSERT INTO integration_credentials (workspace_id, provider, settings, secret_hint, "
            "secret_ciphertext) VALUES ($1, 'unipile', '{}'::jsonb, '…abcd', 'x')",
            owner.workspace_id,
        )
        await conn.execute(
            "INSERT INTO integration_health (workspace_id, provider, status) "
            "VALUES ($1, 'unipile', 'disconnected')",
            owner.workspace_id,
        )
        await sign_in(page, live, owner.email)
        banner = page.get_by_role("alert")
        assert "Unipile is disconnected" in await banner.inner_text()
        link = banner.get_by_role("link", name="Open Unipile settings")
        await link.click()
        await page.wait_for_url("**/admin/integrations#integration-unipile")
        await no_serious_violations(page)
        await conn.execute(
            "UPDATE integration_health SET status = 'ok' WHERE workspace_id = $1",
            owner.workspace_id,
        )
        await page.goto(f"{live.url}/w/{owner.workspace_id}/inbox")
        assert await page.get_by_role("alert").count() == 0
    finally:
        await conn.close()


async def test_pages_work_without_network_access(live: Live, db: Database, page: Any) -> None:
    """Every request a page makes goes to the app itself."""
    owner, _ = await _owner(db)
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    await sign_in(page, live, owner.email)
    await asyncio.sleep(3.5)  # one counts poll
    assert seen and all(url.startswith(live.url) for url in seen), seen
    assert any(url.endswith("/inbox/counts") for url in seen)
