"""Sequences in a real browser: an owner creates one through the form (a refused form first,
its problems announced), a member reads it, and the lead page's follow-ups panel enrols,
pauses, resumes and stops in place; axe on each page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from replydesk.core.db import Database
from tests.support.members import add_member, new_workspace_owner
from tests.support.rows import fetch_rows, insert_lead
from tests.web.conftest import Live, no_serious_violations, screenshot, sign_in

pytestmark = pytest.mark.usefixtures("browser")


async def test_sequences_and_the_follow_ups_panel(live: Live, db: Database, page: Any) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    member = await add_member(db, owner.workspace_id, "kim@acme.example")
    lead = await insert_lead(db, owner.workspace_id, email="ann@lead.example", first_name="Ann")
    ws = f"{live.url}/w/{owner.workspace_id}"
    await sign_in(page, live, owner.email)
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Sequences").click()
    await page.wait_for_url(f"{ws}/sequences")
    await no_serious_violations(page)

    # A refused form: announced, shown next to the field, nothing stored.
    await page.locator("#steps-0-template").fill("Hi {nickname}")
    await page.locator("#steps-0-delay").fill("24")
    await page.get_by_role("button", name="Create sequence").click()
    await expect(page.get_by_role("alert")).to_contain_text("Name: ")
    await expect(page.locator("#err-steps-0-template")).to_contain_text("nickname")
    await no_serious_violations(page)
    assert await fetch_rows(db, "SELECT id FROM sequences") == []

    await page.get_by_label("Name", exact=True).fill("Nudge")
    await page.locator("#steps-0-template").fill("Hi {first_name|there}, any thoughts?")
    await page.get_by_role("button", name="Create sequence").click()
    await page.wait_for_url(f"{ws}/sequences/*?saved=true")
    await expect(page.get_by_role("status")).to_contain_text("Saved.")
    await expect(page.locator("#steps-0-template")).to_have_value(
        "Hi {first_name|there}, any thoughts?"
    )
    await no_serious_violations(page)
    await screenshot(page, "sequence")

    # The lead's follow-ups: enrol, pause, resume, stop, each swapped in place.
    await page.goto(f"{ws}/leads/{lead}")
    panel = page.locator("#followups")
    await panel.get_by_label("Enrol in sequence").select_option(label="Nudge")
    await panel.get_by_role("button", name="Enrol").click()
    state = panel.locator(".followup-state")
    await expect(state).to_have_text("active")
    await no_serious_violations(page)
    await panel.get_by_role("button", name="Pause Nudge").click()
    await expect(state).to_have_text("paused")
    await panel.get_by_role("button", name="Resume Nudge").click()
    await expect(state).to_have_text("active")
    await panel.get_by_role("button", name="Stop Nudge").click()
    await expect(state).to_have_text("stopped")
    await expect(panel.get_by_role("button", name="Resume Nudge")).to_have_count(0)
    rows = await fetch_rows(db, "SELECT state, stop_reason FROM followups")
    assert rows == [{"state": "stopped", "stop_reason": "manual"}]
    await no_serious_violations(page)
    await page.get_by_role("button", name="Sign out").click()

    # A member reads the sequence, read-only.
    await sign_in(page, live, member.email)
    await page.goto(f"{ws}/sequences")
    await expect(page.get_by_role("button", name="Create sequence")).to_have_count(0)
    await page.get_by_role("link", name="Nudge").click()
    await expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    await expect(page.get_by_role("button", name="Save sequence")).to_have_count(0)
    await no_serious_violations(page)
