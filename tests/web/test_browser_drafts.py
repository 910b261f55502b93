"""Approving an edited draft in a real browser: the queue swaps the item in place, the draft
leaves the queue, and the lead's timeline shows the reply with the edited text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.sim.server import SimServer
from tests.support.integrations import SECRET_KEY
from tests.support.members import new_workspace_owner
from tests.support.queue import wait_until
from tests.support.replies import configure, dana, reply_settings
from tests.support.rows import fetch_rows
from tests.support.sim import sim
from tests.web.conftest import Live, no_serious_violations, screenshot, sign_in

__all__ = ["sim"]

pytestmark = pytest.mark.usefixtures("browser")
EDITED = "Tuesday 10:00 works, the invite is on its way."


@pytest.fixture
def web_settings(database_url: str, tmp_path: Any) -> Settings:
    return reply_settings(database_url, tmp_path, SECRET_KEY, cookie_secure=False)


async def test_approve_an_edited_draft(live: Live, db: Database, page: Any, sim: SimServer) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    await configure(db, live.settings, owner.workspace_id, sim)
    # Dana's reply runs through the in-process worker: categorised, then drafted offline
    # (the template engine: no AI integration is configured).
    lead_id = await dana(db, owner.workspace_id)

    async def drafted() -> bool:
        return bool(await fetch_rows(db, "SELECT id FROM drafts WHERE lead_id = :l", l=lead_id))

    await wait_until(drafted, timeout_s=15)
    (row,) = await fetch_rows(
        db, "SELECT id, body, status FROM drafts WHERE lead_id = :l", l=lead_id
    )
    assert row["status"] == "pending_review"
    draft_id, generated = row["id"], row["body"]
    await sign_in(page, live, owner.email)
    await expect(page.locator("#drafts-pending")).to_have_text("1")
    await page.get_by_role("link", name="Drafts").click()
    await page.wait_for_url(f"{live.url}/w/{owner.workspace_id}/drafts")

    item = page.locator(f"#draft-{draft_id}")
    await expect(item.locator(".meta")).to_contain_text("Source: template")
    await screenshot(page, "drafts")
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts")).to_contain_text("approve the selected draft")
    await page.get_by_role("button", name="Close").click()
    await no_serious_violations(page)

    box = item.get_by_label("Draft for Dana")
    await expect(box).to_have_value(generated)
    await box.fill(f"Hi Dana,\n{EDITED}")
    # The keyboard: j selects the draft, e approves it with the text as edited.
    await item.focus()
    await page.keyboard.press("j")
    await page.keyboard.press("e")
    await expect(item.locator(".outcome")).to_contain_text("Approved (edited)")
    await expect(item.get_by_role("button", name="Approve", exact=True)).to_have_count(0)

    await page.reload()
    await expect(page.locator("#no-drafts")).to_be_visible()
    await expect(page.locator(f"#draft-{draft_id}")).to_have_count(0)

    await page.goto(f"{live.url}/w/{owner.workspace_id}/leads/{lead_id}")
    mine = page.locator("li.msg.outbound", has_text=EDITED)
    await expect(mine).to_have_count(1)
    # Queued, or sent already: the in-process worker delivers it to the simulator.
    await expect(mine.locator(".msg-status")).to_have_text(re.compile(r"^(queued|sent)$"))
    rows = await fetch_rows(db, "SELECT body FROM messages WHERE direction = 'outbound'")
    assert rows == [{"body": f"Hi Dana,\n{EDITED}"}]
