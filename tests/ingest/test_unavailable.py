"""The database goes away: every webhook gets a fast 503, nothing is acknowledged, one error
line per outage; when it comes back the same deliveries succeed. The ingest pool is separate,
so a saturated ingest path leaves the rest of the app answering."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from replydesk.app import create_app
from replydesk.core.db import Database, plain_url
from replydesk.core.settings import Settings
from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy
from tests.support.budgets import PRODUCTION
from tests.support.http import UvicornServer, until_stored
from tests.support.logs import LogCapture
from tests.support.rows import count_events
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace

BUDGET_S = 2.0


@dataclass
class Proxied:
    proxy: TcpProxy
    db: Database  # the app's database, through the proxy
    server: UvicornServer


@pytest.fixture
async def proxied(settings: Settings, database_url: str) -> AsyncIterator[Proxied]:
    async with TcpProxy(pg_target(database_url)) as proxy:
        # Without the outage spool (tests/ingest/test_spool.py has it on): the answer is 503.
        via = settings.model_copy(
            update={
                "database_url": url_via_proxy(database_url, "127.0.0.1", proxy.port),
                "spool_enabled": False,
                **PRODUCTION,  # the outage answer's timing is what is tested
            }
        )
        db = Database.from_settings(via)
        app = create_app(via, database=db)
        try:
            async with app.router.lifespan_context(app), UvicornServer(app) as server:
                yield Proxied(proxy, db, server)
        finally:
            await db.dispose()


def _event(n: int) -> bytes:
    payload = sample("emailbison", "email_sent")
    payload["data"]["scheduled_email"]["id"] = 10_000 + n
    return json.dumps(payload).encode()


async def _post(client: httpx.AsyncClient, ws: Ws, body: bytes) -> httpx.Response:
    return await client.post(
        ws.url("emailbison"),
        params={"token": ws.token},
        content=body,
        headers={"content-type": "application/json"},
    )


async def _timed_post(
    client: httpx.AsyncClient, ws: Ws, body: bytes
) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    resp = await _post(client, ws, body)
    return time.monotonic() - started, resp


async def _burst(base_url: str, ws: Ws, bodies: list[bytes]) -> list[tuple[float, httpx.Response]]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return await asyncio.gather(*(_timed_post(client, ws, b) for b in bodies))


def _assert_all_503_fast(results: list[tuple[float, httpx.Response]]) -> None:
    for elapsed, resp in results:
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "service_unavailable"
        assert "not stored" in resp.json()["error"]["message"]
        assert resp.headers["retry-after"].isdigit()
        assert elapsed < BUDGET_S, f"503 took {elapsed:.2f}s"


@pytest.mark.parametrize("failure", ["blackhole", "drop"])
async def test_outage_gives_fast_503_then_the_same_requests_succeed(
    proxied: Proxied, db: Database, log_capture: LogCapture, failure: str
) -> None:
    ws = await new_workspace(db)
    late = await new_workspace(db, "Not cached yet")
    bodies = [_event(n) for n in range(8)]  # twice the ingest pool size

    # Warm up: the auth cache and pooled connections exist before the outage. Its own
    # answers and log lines (a slow first connection can answer 503) are not the subject.
    async with httpx.AsyncClient(base_url=proxied.server.base_url, timeout=10) as client:
        await asyncio.gather(
            *(until_stored(partial(_post, client, ws, _event(n))) for n in (100, 101, 102))
        )
    logged_before = len(log_capture.records())

    getattr(proxied.proxy, failure)()
    down = await _burst(proxied.server.base_url, ws, bodies)
    _assert_all_503_fast(down)
    # A workspace whose auth info is not cached needs the database too: still a fast 503.
    _assert_all_503_fast(await _burst(proxied.server.base_url, late, [_event(200)]))
    # One after another too: a cached token must not count as "the database answered"
    # (that reset the outage and logged one error per request).
    for n in range(3):
        _assert_all_503_fast(await _burst(proxied.server.base_url, ws, [_event(300 + n)]))
    assert await count_events(db) == 3  # nothing acknowledged, nothing written

    proxied.proxy.resume()
    up = await _burst(proxied.server.base_url, ws, bodies)
    assert sorted(r.status_code for _, r in up) == [202] * 8, [r.text for _, r in up]
    assert await count_events(db) == 3 + 8

    records = log_capture.records()[logged_before:]
    errors = [r for r in records if r["level"] == "error"]
    assert [(r["event"], r["category"]) for r in errors] == [
        ("ingest_db_unavailable", "db_unavailable")
    ]
    recovered = [r for r in records if r["event"] == "ingest_db_recovered"]
    assert len(recovered) == 1 and recovered[0]["level"] == "info"
    assert recovered[0]["failed_requests"] == 12


@pytest.mark.production_budgets
async def test_saturated_ingest_pool_does_not_starve_the_app(
    app: FastAPI, db: Database, settings: Settings, ws: Ws
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        body = _event(1)
        first = await _timed_post(client, ws, body)
        assert first[1].status_code == 202

        # Hold every ingest connection, as a flood of slow inserts would.
        held = [await db.ingest_engine.connect() for _ in range(settings.ingest_pool_size)]
        try:
            results = await asyncio.gather(
                *(_timed_post(client, ws, _event(n)) for n in range(2, 6))
            )
            _assert_all_503_fast(results)
            # The read side uses the main pool: readiness and queries still answer at once.
            started = time.monotonic()
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            async with db.session() as session:
                assert (
                    await session.execute(text("SELECT count(*) FROM webhook_events"))
                ).scalar_one() == 1
            assert time.monotonic() - started < 0.5
        finally:
            for conn in held:
                await conn.close()
        again = await asyncio.gather(*(_timed_post(client, ws, _event(n)) for n in range(2, 6)))
        assert [r.status_code for _, r in again] == [202] * 4


@pytest.mark.production_budgets  # the flood as production answers it
async def test_flood_of_webhooks_leaves_readyz_answering(
    settings: Settings, db: Database, database_url: str, ws: Ws
) -> None:
    """300 concurrent webhooks over real HTTP while every insert hangs on a lock (slow inserts
    fill the ingest pool and answer 503) and /readyz (main pool) is probed every 20 ms: every
    probe answers 200 and the flood never takes a main-pool connection. Client, server and flood
    share one event loop here, so on a loaded machine a probe can wait on the loop itself; the
    readiness timeout is raised for that, and pool occupancy, not wall time, is what is checked
    (a readiness check on the ingest pool would wait past the ingest pool timeout: 503)."""
    app = create_app(settings.model_copy(update={"readiness_timeout_s": 15.0}), database=db)
    main_in_use: list[int] = []
    ingest_in_use: list[int] = []

    async def sample_pools() -> None:
        while True:
            main_in_use.append(db.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]
            ingest_in_use.append(db.ingest_engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]
            await asyncio.sleep(0.005)

    async with (
        _locked_events(database_url),
        app.router.lifespan_context(app),
        UvicornServer(app) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as client,
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as probe,
    ):
        sampler = asyncio.ensure_future(sample_pools())
        flood = asyncio.ensure_future(
            asyncio.gather(*(_timed_post(client, ws, _event(n)) for n in range(300)))
        )
        await asyncio.sleep(0.05)
        probes = []
        while not flood.done():
            probes.append((await probe.get("/readyz")).status_code)
            await asyncio.sleep(0.02)
        results = await flood
        sampler.cancel()
    statuses = {r.status_code for _, r in results}
    assert statuses == {503}  # every insert waited on the lock past the ingest budget
    assert probes and set(probes) == {200}, probes
    assert max(ingest_in_use) == settings.ingest_pool_size  # the flood filled its own pool
    assert max(main_in_use) <= 1  # and nothing but the probe used the main one


@asynccontextmanager
async def _locked_events(database_url: str) -> AsyncIterator[None]:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        async with conn.transaction():
            await conn.execute("LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


def _provider_event(provider: str, n: int) -> bytes:
    if provider == "ghl":
        payload = sample("ghl", "inbound_sms")
        payload["messageId"] = f"msg_outage_{n}"
    elif provider == "unipile":
        payload = sample("unipile", "message_received")
        payload["message_id"] = f"umsg_outage_{n}"
    else:
        payload = sample("emailbison", "email_sent")
        payload["data"]["scheduled_email"]["id"] = 20_000 + n
    return json.dumps(payload).encode()


async def test_outage_answer_follows_each_providers_retry_semantics(
    proxied: Proxied, db: Database
) -> None:
    """GHL retries only on 429, so while the database is away a GHL webhook gets 429 with
    Retry-After; EmailBison and Unipile get 503 with Retry-After (docs/ingestion.md)."""
    ws = await new_workspace(db)
    expected = {"ghl": 429, "emailbison": 503, "unipile": 503}
    async with httpx.AsyncClient(base_url=proxied.server.base_url, timeout=10) as client:

        async def post(provider: str, n: int) -> tuple[float, httpx.Response]:
            started = time.monotonic()
            resp = await client.post(
                ws.url(provider),
                params={"token": ws.token},
                content=_provider_event(provider, n),
                headers={"content-type": "application/json"},
            )
            return time.monotonic() - started, resp

        for provider in expected:  # warm: cached auth, pooled connections
            await until_stored(partial(_untimed, post, provider, 0))
        proxied.proxy.blackhole()
        for provider, status in expected.items():
            elapsed, resp = await post(provider, 1)
            assert resp.status_code == status, resp.text
            assert resp.headers["retry-after"].isdigit()
            assert "not stored" in resp.json()["error"]["message"]
            assert elapsed < BUDGET_S
        proxied.proxy.resume()
        for provider in expected:  # the provider's retry is stored
            assert (await post(provider, 1))[1].status_code == 202
    assert await count_events(db) == 6


async def _untimed(
    post: Callable[[str, int], Awaitable[tuple[float, httpx.Response]]], provider: str, n: int
) -> httpx.Response:
    return (await post(provider, n))[1]
