"""The operator pages on a real uvicorn server (loopback) with the in-process worker, and a
Debian chromium driven by Playwright when one can be had (else the browser tests skip)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.web import first_run
from tests.support.http import UvicornServer
from tests.support.members import PASSWORD
from tests.support.queue import fast_settings

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """REPLYDESK_CHROMIUM, else the system chromium (Debian: apt-get install chromium)."""
    explicit = os.environ.get("REPLYDESK_CHROMIUM")
    if explicit:
        return explicit
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def web_settings(database_url: str, tmp_path: Path) -> Settings:
    # Plain http on loopback: the Secure cookie flag would keep the browser from sending them.
    return fast_settings(database_url, data_dir=tmp_path / "data", cookie_secure=False)


@dataclass
class Live:
    app: FastAPI
    url: str
    settings: Settings


@pytest.fixture
async def live(web_settings: Settings, db: Database) -> AsyncIterator[Live]:
    """The whole app, worker included, as ``replydesk serve`` runs it, on a loopback port."""
    setup = await first_run.prepare(db, None, announce=False)
    app = create_app(web_settings, database=db, worker=True, first_run=setup)
    async with (
        app.router.lifespan_context(app),
        UvicornServer(app, web_settings) as server,
    ):
        yield Live(app, server.url, web_settings)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no chromium found: apt-get install -y chromium (or set REPLYDESK_CHROMIUM); "
            "the browser tests need a browser"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        try:
            launched = await pw.chromium.launch(
                executable_path=path, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
        except Exception as exc:  # a browser that cannot start is "no browser"
            pytest.skip(f"chromium at {path} did not start: {type(exc).__name__}: {exc}")
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def sign_in(page: Any, live: Live, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"{live.url}/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{live.url}/w/**")


async def screenshot(page: Any, name: str) -> None:
    """Only with REPLYDESK_SCREENSHOTS=1: tests leave no tracked file changed otherwise."""
    if os.environ.get("REPLYDESK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


async def no_serious_violations(page: Any) -> None:
    """axe-core (axe-playwright-python) on the current page: nothing serious or critical."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert bad == [], bad
