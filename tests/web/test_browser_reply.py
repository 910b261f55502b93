"""Replying from the lead page in a real browser: the message shows at once as queued and turns
sent by itself once the in-process worker delivered it to the provider simulator."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.sim.server import SimServer
from tests.support.integrations import SECRET_KEY
from tests.support.members import new_workspace_owner
from tests.support.replies import configure, dana, reply_settings
from tests.support.sim import sim, sim_requests
from tests.web.conftest import Live, no_serious_violations, screenshot, sign_in

__all__ = ["sim"]

pytestmark = pytest.mark.usefixtures("browser")
TEXT = "Tuesday at 10 works, the invite is on its way."


@pytest.fixture
def web_settings(database_url: str, tmp_path: Any) -> Settings:
    # The simulator on loopback, a key to seal its credentials, plain-http cookies.
    return reply_settings(database_url, tmp_path, SECRET_KEY, cookie_secure=False)


async def test_reply_from_the_lead_page_turns_sent(
    live: Live, db: Database, page: Any, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    await configure(db, live.settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    await sign_in(page, live, owner.email)
    await page.goto(f"{live.url}/w/{owner.workspace_id}/leads/{lead_id}")

    await page.get_by_role("textbox", name="Reply").fill(TEXT)
    await page.get_by_label("Channel", exact=True).select_option("email")
    await page.get_by_role("button", name="Send").click()

    mine = page.locator("li.msg.outbound", has_text=TEXT)
    await expect(mine).to_have_count(1)
    # Live: the timeline re-reads itself while a reply is queued; no reload here.
    await expect(mine.locator(".msg-status")).to_have_text("sent", timeout=15_000)
    (sent,) = await sim_requests(sim, "emailbison", "replies.reply")
    assert sent["path"].endswith("/api/replies/93001/reply")
    assert await page.get_by_role("textbox", name="Reply").input_value() == ""
    await screenshot(page, "lead-reply-sent")
    await no_serious_violations(page)
