"""Concurrent identical deliveries over real HTTP connections: one row, one 202, nine 200s."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
import pytest

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import UvicornServer
from tests.support.rows import count_events, events
from tests.support.samples import all_samples
from tests.support.workspaces import Ws

SAMPLES = all_samples()
SENDERS = 10


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # What is tested is exactly-once under a race, not the request budget: a CI machine stalled
    # for ~3 s once and eight racers got the (correct) outage answer instead of "duplicate".
    return settings.model_copy(update={"ingest_budget_s": 15.0})


async def _send_concurrently(
    server: UvicornServer, ws: Ws, provider: str, payload: Any
) -> list[httpx.Response]:
    body = json.dumps(payload).encode()
    clients = [httpx.AsyncClient(base_url=server.base_url, timeout=10) for _ in range(SENDERS)]
    try:
        # Open every connection first so the ten POSTs really race each other.
        await asyncio.gather(*(c.get("/healthz") for c in clients))
        gate = asyncio.Event()

        async def send(c: httpx.AsyncClient) -> httpx.Response:
            await gate.wait()
            return await c.post(
                ws.url(provider),
                content=body,
                headers={"content-type": "application/json", "x-webhook-token": ws.token},
            )

        tasks = [asyncio.create_task(send(c)) for c in clients]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


@pytest.mark.parametrize(
    ("provider", "name", "payload"), SAMPLES, ids=[f"{p}-{n}" for p, n, _ in SAMPLES]
)
async def test_ten_concurrent_identical_sends_store_one_row(
    server: UvicornServer, db: Database, ws: Ws, provider: str, name: str, payload: Any
) -> None:
    responses = await _send_concurrently(server, ws, provider, payload)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: 1, 200: 9}, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert sum(b["status"] == "accepted" for b in bodies) == 1
    assert sum(b == {"status": "duplicate"} for b in bodies) == 9
    assert await count_events(db) == 1
    (row,) = await events(db)
    accepted = next(b for b in bodies if b["status"] == "accepted")
    assert row["id"] == accepted["event_id"]
