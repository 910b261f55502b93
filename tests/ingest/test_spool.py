"""The outage spool end to end: the database blackholed behind the TCP proxy, webhooks still
get 202 (on disk, fsync-ed), and when it answers again every spooled event becomes exactly one
row — also when replayed twice, re-delivered meanwhile, or left by a dead process."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy
from replydesk.ingest.service import Ingestor
from replydesk.ingest.spool import SpooledEvent, spool_stats
from replydesk.ingest.spooling import spool_root
from tests.support.budgets import PRODUCTION
from tests.support.http import UvicornServer
from tests.support.logs import LogCapture
from tests.support.rows import count_events
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace


@dataclass
class Spooled:
    proxy: TcpProxy
    server: UvicornServer
    ingestor: Ingestor
    root: Path


@pytest.fixture
async def spooled(settings: Settings, database_url: str) -> AsyncIterator[Spooled]:
    async with TcpProxy(pg_target(database_url)) as proxy:
        via = settings.model_copy(
            update={
                "database_url": url_via_proxy(database_url, "127.0.0.1", proxy.port),
                "spool_enabled": True,
                "spool_replay_interval_s": 0.5,
                **PRODUCTION,  # the outage answer's timing is what is tested
            }
        )
        db = Database.from_settings(via)
        app = create_app(via, database=db)
        try:
            async with app.router.lifespan_context(app), UvicornServer(app) as server:
                yield Spooled(proxy, server, app.state.ingestor, spool_root(via.data_dir))
        finally:
            await db.dispose()


def _body(n: int) -> bytes:
    payload = sample("emailbison", "email_sent")
    payload["data"]["scheduled_email"]["id"] = 50_000 + n
    return json.dumps(payload).encode()


async def _post(base_url: str, ws: Ws, bodies: list[bytes]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        return await asyncio.gather(
            *(
                client.post(
                    ws.url("emailbison"),
                    params={"token": ws.token},
                    content=body,
                    headers={"content-type": "application/json"},
                )
                for body in bodies
            )
        )


async def _wait_for(db: Database, rows: int, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while await count_events(db) < rows and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # and nothing more arrives
    return await count_events(db)


def _orphan(root: Path, ws: Ws, numbers: list[int], torn: bool) -> None:
    """The folder a crashed API process left: no live lock holder, maybe a torn tail."""
    folder = root / "4242-0badc0de"
    folder.mkdir(parents=True)
    (folder / "lock").touch()
    records = [
        SpooledEvent(
            workspace_id=str(ws.id),
            provider="emailbison",
            event_type="EMAIL_SENT",
            dedupe_key=f"emailbison:{ws.id}:orphan:{n}",
            status="pending",
            payload=_body(n).decode(),
            received_at="2026-12-02T00:59:00+00:00",
        ).encode()
        for n in numbers
    ]
    if torn:
        records[-1] = records[-1][:-7]  # the crash hit mid-write
    (folder / "00000001.seg").write_bytes(b"".join(records))


async def test_blackholed_database_webhooks_spool_then_replay_exactly_once(
    spooled: Spooled, db: Database, log_capture: LogCapture
) -> None:
    ws = await new_workspace(db)
    late = await new_workspace(db, "Not cached yet")
    base = spooled.server.base_url
    warm = await _post(base, ws, [_body(0), _body(1)])
    assert [r.status_code for r in warm] == [202, 202]

    spooled.proxy.blackhole()
    started = time.monotonic()
    # 8 new events, one re-delivery of an event already stored, one of an event only spooled.
    bodies = [_body(n) for n in range(10, 18)] + [_body(0), _body(10)]
    down = await _post(base, ws, bodies)
    assert [r.status_code for r in down] == [202] * 10, [r.text for r in down]
    assert all(r.json() == {"status": "accepted", "spooled": True} for r in down)
    assert time.monotonic() - started < 3.0  # the first ones waited for the budget, no more
    # Now the outage is known: further webhooks go to the spool at once (one request per
    # second still tries the database).
    started = time.monotonic()
    again = await _post(base, ws, [_body(18)])
    assert again[0].status_code == 202 and time.monotonic() - started < 0.5
    # Never spooled: a workspace whose auth is not cached, and a token that does not match.
    # The mismatch may be a token rotated through another host, which only the database can
    # tell: while it is away the answer is the outage answer (retried), not a final 401.
    assert (await _post(base, late, [_body(19)]))[0].status_code == 503
    bad = Ws(ws.id, "wrong-token")
    assert (await _post(base, bad, [_body(20)]))[0].status_code == 503
    stats = spool_stats(spooled.root)
    assert stats["pending_records"] == 11 and stats["spooled"] == 11
    _orphan(spooled.root, ws, [1, 2, 3], torn=True)
    assert await count_events(db) == 2  # nothing reached the database

    spooled.proxy.resume()
    # 9 distinct new events (10 to 18) + 2 intact orphan records; the torn one is skipped.
    assert await _wait_for(db, 2 + 9 + 2) == 2 + 9 + 2
    stats = spool_stats(spooled.root)
    assert stats["pending_records"] == 0 and stats["pending_segments"] == 0
    assert (stats["replayed"], stats["replayed_new"], stats["skipped"]) == (11 + 2, 9 + 2, 1)
    assert [p.name for p in spooled.root.iterdir() if p.is_dir()] == [
        spooled.ingestor.spooler.dir.folder.name  # type: ignore[union-attr]
    ]
    # The providers' retries after recovery are duplicates.
    after = await _post(base, ws, [_body(10), _body(18)])
    assert [r.json()["status"] for r in after] == ["duplicate", "duplicate"]

    records = log_capture.records()
    assert [r["event"] for r in records if r["level"] == "error"] == ["ingest_db_unavailable"]
    assert len([r for r in records if r["event"] == "spool_record_skipped"]) == 1
    assert "sounds good" not in json.dumps(records) and ws.token not in json.dumps(records)


async def test_replaying_the_same_records_twice_changes_nothing(
    spooled: Spooled, db: Database
) -> None:
    ws = await new_workspace(db)
    assert (await _post(spooled.server.base_url, ws, [_body(0)]))[0].status_code == 202
    spooler = spooled.ingestor.spooler
    assert spooler is not None
    from replydesk.ingest.repository import NewEvent

    events = [
        NewEvent(ws.id, "emailbison", "EMAIL_SENT", f"emailbison:{ws.id}:x:{n}", "pending", "{}")
        for n in range(5)
    ]
    for event in events:
        assert await spooler.append(event)
    assert await spooler.replay() == 5
    assert await count_events(db) == 6
    # As if the process died after the commit but before deleting the segment.
    for event in events:
        assert await spooler.append(event)
    assert await spooler.replay() == 5
    assert await count_events(db) == 6
    assert await spooler.replay() == 0
    stats = spool_stats(spooled.root)
    assert (stats["replayed"], stats["replayed_new"]) == (10, 5)


def _record_size() -> int:
    """About what one spooled event of _body() takes on disk."""
    return len(
        SpooledEvent(
            str(uuid.uuid4()),
            "emailbison",
            "EMAIL_SENT",
            "k" * 110,
            "pending",
            _body(1).decode(),
            "2026-12-02T01:00:00.000000+00:00",
        ).encode()
    )


async def test_beyond_the_cap_the_outage_answer_as_without_a_spool(
    settings: Settings, database_url: str, db: Database
) -> None:
    ws = await new_workspace(db)
    async with TcpProxy(pg_target(database_url)) as proxy:
        via = settings.model_copy(
            update={
                "database_url": url_via_proxy(database_url, "127.0.0.1", proxy.port),
                "spool_max_bytes": int(3.5 * _record_size()),
                "spool_enabled": True,
                **PRODUCTION,
            }
        )
        app_db = Database.from_settings(via)
        app = create_app(via, database=app_db)
        try:
            async with app.router.lifespan_context(app), UvicornServer(app) as server:
                await _post(server.base_url, ws, [_body(0)])
                proxy.drop()
                answers = []
                for n in range(1, 7):
                    answers += await _post(server.base_url, ws, [_body(n)])
                codes = [r.status_code for r in answers]
                assert codes[:3] == [202, 202, 202] and codes[-1] == 503, codes
                assert answers[-1].headers["retry-after"].isdigit()
                assert spool_stats(spool_root(via.data_dir))["refused_full"] >= 1
                proxy.resume()
                assert await _wait_for(db, 1 + codes.count(202)) == 1 + codes.count(202)
        finally:
            await app_db.dispose()


async def test_queue_stats_shows_the_spool(database_url: str, tmp_path: Path) -> None:
    from replydesk.ingest.spool import SpoolDir, add_totals
    from tests.support.cli import clean_env, run_replydesk

    root = spool_root(tmp_path / "data")
    spool = SpoolDir(root, max_bytes=1 << 20)
    record = SpooledEvent(
        str(uuid.uuid4()),
        "ghl",
        "InboundMessage",
        "k1",
        "pending",
        "{}",
        "2026-12-02T01:00:00+00:00",
    )
    spool.append([record.encode(), record.encode()])
    add_totals(root, spooled=2, replayed=5, replayed_new=4)
    env = clean_env(DATABASE_URL=database_url, REPLYDESK_DATA_DIR=str(tmp_path / "data"))
    proc = run_replydesk("queue", "stats", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["spool"] == {
        "spooled": 2,
        "replayed": 5,
        "replayed_new": 4,
        "skipped": 0,
        "refused_full": 0,
        "pending_records": 2,
        "pending_bytes": 2 * len(record.encode()),
        "pending_segments": 1,
    }
    table = run_replydesk("queue", "stats", env=env)
    assert table.returncode == 0 and "outage spool" in table.stdout
    spool.close()
