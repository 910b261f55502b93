"""Admin pages (write-only credentials, tokens shown once), the lead list's keyset "Load more",
lead changes through the page, the workspace switcher."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import https_client
from tests.support.members import PASSWORD, new_workspace_owner
from tests.support.rows import fetch_rows, insert_lead

GHL_KEY = "pit-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"


@pytest.fixture
async def keyed_app(database_url: str, tmp_path: Path, db: Database) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=Fernet.generate_key().decode(),
    )
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        yield app


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def _signed_in(client: httpx.AsyncClient, email: str) -> None:
    resp = await client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 303


async def test_credentials_are_write_only_and_tokens_shown_once(
    keyed_app: FastAPI, db: Database
) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    base = f"/w/{owner.workspace_id}/admin"
    async with https_client(keyed_app) as client:
        await _signed_in(client, owner.email)
        page = await client.get(f"{base}/integrations")
        token = _csrf(page.text)
        bad = await client.post(
            f"{base}/integrations/emailbison",
            data={"base_url": "https://not-allowed.example", "api_key": "k1", "csrf_token": token},
        )
        assert bad.status_code == 422
        assert "not-allowed.example" in bad.text  # the service's reason, inline
        saved = await client.post(
            f"{base}/integrations/ghl",
            data={"location_id": "loc-1", "api_key": GHL_KEY, "csrf_token": token},
        )
        assert saved.status_code == 303
        page = await client.get(f"{base}/integrations")
        assert GHL_KEY not in page.text  # never shown back
        assert "…" + GHL_KEY[-4:] in page.text
        check = await client.post(f"{base}/integrations/ghl/check", data={"csrf_token": token})
        assert check.status_code == 303

        made = await client.post(f"{base}/tokens", data={"name": "laptop", "csrf_token": token})
        assert made.status_code == 200
        shown = re.search(r'id="new-token">([^<]+)<', made.text)
        assert shown and shown.group(1).startswith("rdp_")
        listing = await client.get(f"{base}/members")
        assert "laptop" in listing.text and shown.group(1) not in listing.text
    rows = await fetch_rows(
        db, "SELECT provider, secret_hint FROM integration_credentials ORDER BY provider"
    )
    assert rows == [{"provider": "ghl", "secret_hint": "…" + GHL_KEY[-4:]}]


async def test_lead_list_loads_more_by_keyset(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    for i in range(55):
        await insert_lead(db, owner.workspace_id, email=f"l{i}@lead.example")
    inbox = f"/w/{owner.workspace_id}/inbox"
    async with https_client(app) as client:
        await _signed_in(client, owner.email)
        first = await client.get(inbox, params={"view": "all"})
        assert first.text.count('<li class="lead') == 50
        more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', first.text)
        assert more
        url = more.group(1).replace("&amp;", "&")
        rest = await client.get(url, headers={"HX-Request": "true"})
        assert rest.status_code == 200
        assert rest.text.count('<li class="lead') == 5
        assert "<html" not in rest.text  # a fragment: the rows block only
        assert "Load more" not in rest.text
        everyone = set(re.findall(r"l\d+@lead.example", first.text + rest.text))
        assert len(everyone) == 55
        # A hand-edited sort is said above an empty list, not a 500.
        odd = await client.get(inbox, params={"sort": "sideways"})
        assert odd.status_code == 200 and "sort must be one of" in odd.text


async def test_lead_changes_through_the_page_use_the_api_rules(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    lead = await insert_lead(db, owner.workspace_id, email="ann@lead.example")
    url = f"/w/{owner.workspace_id}/leads/{lead}"
    async with https_client(app) as client:
        await _signed_in(client, owner.email)
        token = _csrf((await client.get(url)).text)
        ok = await client.post(
            f"{url}/update",
            data={
                "category": " interested ",
                "snoozed_until": "2030-01-02T03:04",
                "assignee": str(owner.user_id),
                "status": "active",
                "csrf_token": token,
            },
        )
        assert ok.status_code == 303
        bad = await client.post(f"{url}/update", data={"status": "gone", "csrf_token": token})
        assert bad.status_code == 422 and "status" in bad.text
        await client.post(f"{url}/tags", data={"name": "hot", "csrf_token": token})
        await client.post(f"{url}/tags", data={"name": "hot", "csrf_token": token})
        page = await client.get(url)
    assert "2030-01-02 03:04 UTC" in page.text
    rows = await fetch_rows(
        db,
        "SELECT category, assignee_user_id, snoozed_until IS NOT NULL AS snoozed FROM leads",
    )
    assert rows == [{"category": "interested", "assignee_user_id": owner.user_id, "snoozed": True}]
    tags = await fetch_rows(db, "SELECT t.name FROM lead_tags lt JOIN tags t ON t.id = lt.tag_id")
    assert tags == [{"name": "hot"}]
    events = await fetch_rows(db, "SELECT kind FROM lead_events ORDER BY id")
    assert {e["kind"] for e in events} == {"category_change", "assignee_change"}


async def test_workspace_switcher(app: FastAPI, db: Database) -> None:
    owner = await new_workspace_owner(db, "Acme", "sam@acme.example")
    other = await new_workspace_owner(db, "Beta", "sam@acme.example")
    stranger = await new_workspace_owner(db, "Gamma", "lee@gamma.example")
    async with https_client(app) as client:
        await _signed_in(client, owner.email)
        page = await client.get(f"/w/{owner.workspace_id}/inbox")
        assert 'id="ws-switch"' in page.text and ">Beta<" in page.text
        went = await client.get("/switch", params={"to": str(other.workspace_id)})
        assert went.headers["location"] == f"/w/{other.workspace_id}/inbox"
        refused = await client.get("/switch", params={"to": str(stranger.workspace_id)})
        assert refused.status_code == 404
