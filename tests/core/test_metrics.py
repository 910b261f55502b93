"""``GET /metrics``: the token, the series, and a drill-like run seen through scrapes — the
burst (ingest counter, queue depth), the drain (processed counter, depth back to 0) and the
database outage (503 answers counted, the scrape-time query reported down).

The pytest process keeps its metrics in memory (``configure_metrics`` is for ``serve`` and
``worker`` processes; the multiprocess mode is exercised by the drill test, 2 API and 2 worker
processes): counters are process-wide, so the assertions compare scrapes, before and after.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from replydesk.app import build_worker, create_app
from replydesk.core.db import Database
from replydesk.core.metrics import metric_names
from replydesk.core.settings import Settings
from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy
from replydesk.queue.worker import worker_database
from tests.support.http import UvicornServer
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace

TOKEN = "metrics-token-for-tests-0123456789"
WEBHOOK_ROUTE = "/webhooks/{provider}/{workspace_id}"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return parse(resp.text)


def _event(n: int) -> bytes:
    payload = sample("emailbison", "email_sent")
    payload["data"]["scheduled_email"]["id"] = 50_000 + n
    return json.dumps(payload).encode()


async def _post(client: httpx.AsyncClient, ws: Ws, body: bytes) -> int:
    resp = await client.post(
        ws.url("emailbison"),
        params={"token": ws.token},
        content=body,
        headers={"content-type": "application/json"},
    )
    return resp.status_code


def _busy(samples: Samples) -> float:
    """Items pending or running in any queue, as the scrape-time depth says."""
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "replydesk_queue_depth" and dict(labels)["status"] in ("pending", "running")
    )


@dataclass
class Stack:
    proxy: TcpProxy
    settings: Settings
    db: Database
    client: httpx.AsyncClient


@pytest.fixture
async def stack(settings: Settings, database_url: str) -> AsyncIterator[Stack]:
    async with TcpProxy(pg_target(database_url)) as proxy:
        via = settings.model_copy(
            update={
                "database_url": url_via_proxy(database_url, "127.0.0.1", proxy.port),
                "metrics_token": SecretStr(TOKEN),
                "worker_poll_interval_s": 0.2,
            }
        )
        db = Database.from_settings(via)
        app = create_app(via, database=db)
        try:
            async with (
                app.router.lifespan_context(app),
                UvicornServer(app) as server,
                httpx.AsyncClient(base_url=server.base_url, timeout=10) as client,
            ):
                yield Stack(proxy, via, db, client)
        finally:
            await db.dispose()


async def test_metrics_need_the_token_and_are_off_without_one(
    settings: Settings, client: httpx.AsyncClient, app: object
) -> None:
    # No token configured: the route does not exist for anyone.
    off = await client.get("/metrics")
    assert off.status_code == 404 and "REPLYDESK_METRICS_TOKEN" in off.json()["error"]["message"]
    app.state.settings = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})  # type: ignore[attr-defined]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused.text
    ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    names = {name for name, _ in parse(ok.text)}
    assert "replydesk_queue_stats_up" in names
    # Not in the OpenAPI schema (an operator's endpoint, not the product's API).
    schema = (await client.get("/openapi.json")).json()
    assert "/metrics" not in schema["paths"]


async def test_scrapes_show_the_burst_the_drain_and_the_outage(stack: Stack) -> None:
    ws = await new_workspace(stack.db)
    client = stack.client
    before = await scrape(client)
    assert value(before, "replydesk_queue_stats_up") == 1

    # The burst: every delivery counted by outcome, the events waiting in the queue.
    statuses = await asyncio.gather(*(_post(client, ws, _event(n)) for n in range(30)))
    assert statuses == [202] * 30
    assert await _post(client, ws, _event(0)) == 200  # a re-delivery
    burst = await scrape(client)
    labels = {"provider": "emailbison"}
    accepted = "replydesk_ingest_requests_total"
    assert (
        value(burst, accepted, **labels, outcome="accepted")
        - value(before, accepted, **labels, outcome="accepted")
        == 30
    )
    assert (
        value(burst, accepted, **labels, outcome="duplicate")
        - value(before, accepted, **labels, outcome="duplicate")
        == 1
    )
    count = "replydesk_ingest_duration_seconds_count"
    assert (
        value(burst, count, **labels, outcome="accepted")
        - value(before, count, **labels, outcome="accepted")
        == 30
    )
    queued = {"table": "webhook_events", "kind": "emailbison:EMAIL_SENT", "status": "pending"}
    assert value(burst, "replydesk_queue_depth", **queued) == 30
    assert value(burst, "replydesk_queue_oldest_age_seconds", **queued) >= 0
    assert ("replydesk_queue_oldest_age_seconds", frozenset(queued.items())) in burst

    # The drain: a worker processes them; the processed counter moves, the depth falls.
    worker_db = worker_database(stack.settings, stack.db.url)
    stopping = asyncio.Event()
    worker = asyncio.create_task(build_worker(worker_db, stack.settings).run(stopping))
    try:
        deadline = time.monotonic() + 60
        while True:
            drained = await scrape(client)
            if value(drained, "replydesk_queue_stats_up") == 1 and not _busy(drained):
                break
            assert time.monotonic() < deadline, "the queue did not drain"
            await asyncio.sleep(0.2)
    finally:
        stopping.set()
        await worker
        await worker_db.dispose()
    done = {"table": "webhook_events", "kind": "emailbison:EMAIL_SENT", "outcome": "succeeded"}
    items = "replydesk_queue_items_total"
    assert value(drained, items, **done) - value(before, items, **done) == 30
    jobs_done = {"table": "jobs", "kind": "followup.start", "outcome": "succeeded"}
    assert value(drained, items, **jobs_done) - value(before, items, **jobs_done) == 30
    assert ("replydesk_queue_depth", frozenset(queued.items())) not in drained
    pool = "replydesk_db_pool_wait_seconds_count"
    assert value(drained, pool, pool="replydesk-ingest") > value(
        before, pool, pool="replydesk-ingest"
    )

    # The outage: webhooks answered 503 fast and counted; the scrape still answers, with the
    # database-backed figures reported down.
    stack.proxy.drop()
    try:
        down = await asyncio.gather(*(_post(client, ws, _event(100 + n)) for n in range(5)))
        assert down == [503] * 5
        during = await scrape(client)
    finally:
        stack.proxy.resume()
    unavailable = "replydesk_http_unavailable_answers_total"
    route = {"route": WEBHOOK_ROUTE, "status": "503"}
    assert value(during, unavailable, **route) - value(drained, unavailable, **route) == 5
    refused = {**labels, "outcome": "service_unavailable"}
    assert value(during, accepted, **refused) - value(drained, accepted, **refused) == 5
    assert value(during, "replydesk_queue_stats_up") == 0
    after = await scrape(client)
    assert value(after, "replydesk_queue_stats_up") == 1


def test_every_metric_family_is_exported_with_its_help() -> None:
    names = metric_names()
    assert "replydesk_ingest_requests_total" in names
    assert "replydesk_ingest_duration_seconds_bucket" in names
    assert "replydesk_followup_ticks_total" in names
    assert "replydesk_ai_tokens_total" in names


WRITER = """
import sys
from replydesk.core.metrics import configure_metrics, metrics, render
from replydesk.core.settings import Settings

configure_metrics(Settings(metrics_dir=sys.argv[1]), "worker")
metrics().ingest_requests.labels("emailbison", "accepted").inc(int(sys.argv[2]))
metrics().ingest_duration.labels("emailbison", "accepted").observe(0.01)
if sys.argv[3] == "render":
    sys.stdout.write(render().decode())
"""


def _run(folder: Path, n: int, then: str = "exit") -> str:
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), str(n), then],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout


def test_processes_share_one_folder_and_ended_ones_keep_counting(tmp_path: Path) -> None:
    """Counters of processes that ended stay in the sums (folded into the archive file), their
    own files are gone, and a scrape sums every process."""
    folder = tmp_path / "metrics"
    _run(folder, 3)
    _run(folder, 4)
    assert len(list(folder.glob("counter_*.db"))) == 2
    text = _run(folder, 5, "render")
    samples = parse(text)
    labels = {"provider": "emailbison", "outcome": "accepted"}
    assert value(samples, "replydesk_ingest_requests_total", **labels) == 12
    assert value(samples, "replydesk_ingest_duration_seconds_count", **labels) == 3
    # The two ended processes were folded into the archives; the renderer's own files remain.
    names = sorted(p.name for p in folder.glob("*.db"))
    assert "counter_archive.db" in names and "histogram_archive.db" in names
    assert len([n for n in names if n.startswith("counter_")]) == 2  # archive + the renderer
    # Its start gauge is live only: one process (the renderer) in the answer.
    started = [k for k in samples if k[0] == "replydesk_process_start_time_seconds"]
    assert len(started) == 1
    # The next start folds the renderer in too: nothing lost, nothing counted twice.
    again = parse(_run(folder, 0, "render"))
    assert value(again, "replydesk_ingest_requests_total", **labels) == 12
    assert folder.stat().st_mode & 0o077 == 0
