"""Several API processes (hosts) on one database: each has its own auth cache, and a token
rotated through one of them must work on the others at once, not a cache TTL later.

(Counts across processes: ``tests/inbox/test_counts.py`` — a second app with an empty memory
cache serves the persisted copy, marked stale.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.workspaces.service import rotate_webhook_token
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace


@asynccontextmanager
async def _host(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """One more API process: its own app, Ingestor and auth cache, the same database."""
    app: FastAPI = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            yield client


async def _post(client: httpx.AsyncClient, ws: Ws, token: str, n: int) -> int:
    payload = sample("emailbison", "email_sent")
    payload["data"]["scheduled_email"]["id"] = 50_000 + n
    resp = await client.post(
        ws.url("emailbison"),
        params={"token": token},
        content=json.dumps(payload),
        headers={"content-type": "application/json"},
    )
    return resp.status_code


async def test_a_token_rotated_elsewhere_works_at_once_on_every_host(
    settings: Settings, db: Database
) -> None:
    # A long TTL: without the reload on mismatch, host B would refuse the new token for 30 s.
    settings = settings.model_copy(update={"ingest_auth_cache_ttl_s": 30.0})
    ws = await new_workspace(db)
    async with _host(settings, db) as host_a, _host(settings, db) as host_b:
        assert await _post(host_a, ws, ws.token, 1) == 202
        assert await _post(host_b, ws, ws.token, 2) == 202  # both caches hold the old token

        async with db.session() as session:  # the rotation, through "another process"
            rotated = await rotate_webhook_token(session, ws.id, grace_s=3600)
        new = rotated.webhook_token
        assert await _post(host_b, ws, new, 3) == 202
        assert await _post(host_a, ws, new, 4) == 202
        # Within the grace period the old token still works everywhere.
        assert await _post(host_a, ws, ws.token, 5) == 202
        assert await _post(host_b, ws, ws.token, 6) == 202


async def test_an_old_token_stops_within_the_cache_ttl_on_hosts_that_never_reloaded(
    settings: Settings, db: Database
) -> None:
    ttl = 1.0
    settings = settings.model_copy(update={"ingest_auth_cache_ttl_s": ttl})
    ws = await new_workspace(db)
    async with _host(settings, db) as host_a, _host(settings, db) as host_b:
        assert await _post(host_a, ws, ws.token, 1) == 202
        assert await _post(host_b, ws, ws.token, 2) == 202
        async with db.session() as session:
            rotated = await rotate_webhook_token(session, ws.id, grace_s=0)
        # Host B sees the new token (reload on mismatch), so it refuses the old one at once.
        assert await _post(host_b, ws, rotated.webhook_token, 3) == 202
        assert await _post(host_b, ws, ws.token, 4) == 401
        # Host A may still accept the old token from its cache, but not beyond the TTL.
        await asyncio.sleep(ttl + 0.2)
        assert await _post(host_a, ws, ws.token, 5) == 401
        assert await _post(host_a, ws, rotated.webhook_token, 6) == 202


async def test_wrong_tokens_do_not_turn_into_database_loads(
    settings: Settings, db: Database
) -> None:
    settings = settings.model_copy(update={"ingest_auth_cache_ttl_s": 30.0})
    ws = await new_workspace(db)
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        ingestor = app.state.ingestor
        loads = 0
        real_load = ingestor._load

        async def counting_load(workspace_id: object) -> object:
            nonlocal loads
            loads += 1
            return await real_load(workspace_id)

        ingestor._load = counting_load
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            assert await _post(client, ws, ws.token, 1) == 202
            statuses = [await _post(client, ws, "rdw_wrong", 10 + n) for n in range(30)]
        assert set(statuses) == {401}
        assert loads <= 2  # the first load, and at most one reload within the interval
