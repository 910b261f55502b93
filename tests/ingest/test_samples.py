"""Every provider event type is accepted, stored once, with its payload and dedupe key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from replydesk.core.db import Database
from tests.support.http import post
from tests.support.rows import events
from tests.support.samples import all_samples
from tests.support.workspaces import Ws

SAMPLES = all_samples()


@pytest.mark.parametrize(
    ("provider", "name", "payload"), SAMPLES, ids=[f"{p}-{n}" for p, n, _ in SAMPLES]
)
async def test_sample_is_stored_once(
    client: httpx.AsyncClient, db: Database, ws: Ws, provider: str, name: str, payload: Any
) -> None:
    first = await post(client, ws, provider, payload)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "accepted"
    assert isinstance(body["event_id"], int)

    again = await post(client, ws, provider, payload)
    assert again.status_code == 200, again.text
    assert again.json() == {"status": "duplicate"}

    rows = await events(db)
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == body["event_id"]
    assert row["workspace_id"] == ws.id
    assert row["provider"] == provider
    assert row["status"] == "pending"
    assert row["payload"] == payload
    assert row["dedupe_key"].startswith(f"{provider}:{ws.id}:")


async def test_openapi_documents_the_webhook_contract(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/webhooks/{provider}/{workspace_id}"]["post"]
    assert "application/json" in op["requestBody"]["content"]
    assert {"200", "202", "401", "413", "415", "400", "422", "503"} <= set(op["responses"])
    assert {p["name"] for p in op["parameters"]} >= {"provider", "workspace_id", "token"}
