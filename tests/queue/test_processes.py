"""Real worker processes: SIGKILL mid-batch + rescue, two workers draining 5,000 events, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from replydesk.core.db import Database, plain_url
from tests.support.cli import clean_env
from tests.support.queue import fetch, fetchval, wait_until
from tests.support.samples import email_sent
from tests.support.workspaces import new_workspace

ROOT = Path(__file__).resolve().parents[2]


def spawn(database_url: str, *args: str, **settings: str) -> subprocess.Popen[bytes]:
    env = clean_env(
        REPLYDESK_DATABASE_URL=database_url,
        REPLYDESK_WORKER_LEASE_S="1",
        REPLYDESK_WORKER_RESCUE_INTERVAL_S="0.5",
        REPLYDESK_WORKER_POLL_INTERVAL_S="0.2",
        PYTHONPATH=str(ROOT),
    )
    env.update({f"REPLYDESK_{k.upper()}": v for k, v in settings.items()})
    return subprocess.Popen(
        [sys.executable, "-m", "tests.queue.worker_main", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode


async def prepare(database_url: str, db: Database, n: int, leads: int) -> uuid.UUID:
    ws = (await new_workspace(db)).id
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        await conn.execute("CREATE TABLE processing_log (tbl text, item_id bigint, worker text)")
        await conn.executemany(
            "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, payload) "
            "VALUES ($1, 'emailbison', 'EMAIL_SENT', $2, $3::jsonb)",
            [(ws, f"t:{i}", json.dumps(email_sent(i, leads))) for i in range(1, n + 1)],
        )
    finally:
        await conn.close()
    return ws


async def _drained(url: str) -> bool:
    left = await fetchval(
        url,
        "SELECT (SELECT count(*) FROM webhook_events WHERE status IN ('pending', 'running'))"
        " + (SELECT count(*) FROM jobs WHERE status IN ('pending', 'running'))",
    )
    return bool(left == 0)


async def _assert_exactly_once(url: str, n: int) -> dict[str, int]:
    """Every event and every job it enqueued was committed as processed exactly once."""
    for table in ("webhook_events", "jobs"):
        total, distinct = (
            await fetch(
                url,
                "SELECT count(*), count(DISTINCT item_id) FROM processing_log WHERE tbl = $1",
                table,
            )
        )[0]
        assert (total, distinct) == (n, n), table
        statuses = await fetch(url, f"SELECT status, count(*) FROM {table} GROUP BY status")
        assert {r[0]: r[1] for r in statuses} == {"succeeded": n}, table
    assert await fetchval(url, "SELECT count(*) FROM messages") == n
    rows = await fetch(url, "SELECT worker, count(*) FROM processing_log GROUP BY worker")
    return {r[0]: r[1] for r in rows}


async def test_sigkill_mid_batch_then_rescue_processes_every_event_once(
    db: Database, database_url: str
) -> None:
    n = 400
    await prepare(database_url, db, n, leads=40)
    first = spawn(database_url, "--delay-ms", "30", "--concurrency", "4")
    try:

        async def progressed() -> bool:
            done = await fetchval(
                database_url, "SELECT count(*) FROM webhook_events WHERE status = 'succeeded'"
            )
            return bool(done >= 40)

        await wait_until(progressed, timeout_s=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    stuck = {
        table: [
            r[0]
            for r in await fetch(database_url, f"SELECT id FROM {table} WHERE status = 'running'")
        ]
        for table in ("webhook_events", "jobs")
    }
    assert any(stuck.values()), "the worker was killed with nothing in flight"
    killed_at = time.monotonic()
    second = spawn(database_url, "--concurrency", "4")
    try:

        async def rescued() -> bool:
            for table, ids in stuck.items():
                left = await fetchval(
                    database_url,
                    f"SELECT count(*) FROM {table} WHERE status = 'running' AND id = ANY($1)",
                    ids,
                )
                if left:
                    return False
            return True

        await wait_until(rescued, timeout_s=60)
        rescue_s = time.monotonic() - killed_at
        await wait_until(lambda: _drained(database_url), timeout_s=120)
    finally:
        assert stop(second) == 0
    assert rescue_s < 60
    by_worker = await _assert_exactly_once(database_url, n)
    assert len(by_worker) == 2
    for table, ids in stuck.items():
        rows = await fetch(
            database_url, f"SELECT attempts, last_error FROM {table} WHERE id = ANY($1)", ids
        )
        # The interrupted attempt counted; its uncommitted work vanished with the process.
        for attempts, last_error in rows:
            assert attempts == 2 and last_error.startswith("lease expired: worker ")
    count = sum(len(v) for v in stuck.values())
    print(f"\nrescued {count} in-flight items {rescue_s:.2f} s after SIGKILL")


async def test_two_worker_processes_drain_5000_events_without_duplicates_or_losses(
    db: Database, database_url: str
) -> None:
    n = 5000
    await prepare(database_url, db, n, leads=500)
    started = time.monotonic()
    workers = [spawn(database_url, "--concurrency", "4") for _ in range(2)]
    try:
        await wait_until(lambda: _drained(database_url), timeout_s=300, every_s=0.25)
        elapsed = time.monotonic() - started
    finally:
        codes = [stop(w) for w in workers]
    assert codes == [0, 0]
    by_worker = await _assert_exactly_once(database_url, n)
    assert len(by_worker) == 2 and all(c > 0 for c in by_worker.values()), by_worker
    assert await fetchval(database_url, "SELECT count(*) FROM leads") == 500
    assert await fetchval(database_url, "SELECT count(*) FROM jobs") == n
    print(f"\n{n} events + {n} jobs drained by 2 processes in {elapsed:.1f} s: {by_worker}")


@pytest.mark.parametrize(("grace", "finished"), [("10", True), ("0.2", False)])
async def test_sigterm_finishes_or_releases_in_flight_items(
    db: Database, database_url: str, grace: str, finished: bool
) -> None:
    await prepare(database_url, db, 1, leads=1)
    proc = spawn(database_url, "--delay-ms", "1500", worker_shutdown_grace_s=grace)
    try:

        async def running() -> bool:
            status = await fetchval(database_url, "SELECT status FROM webhook_events")
            return bool(status == "running")

        await wait_until(running, timeout_s=60)
    finally:
        assert stop(proc) == 0
    row = (await fetch(database_url, "SELECT status, attempts, locked_by FROM webhook_events"))[0]
    if finished:
        assert row["status"] == "succeeded"
        assert await fetchval(database_url, "SELECT count(*) FROM processing_log") == 1
    else:
        assert (row["status"], row["attempts"], row["locked_by"]) == ("pending", 0, None)
        assert await fetchval(database_url, "SELECT count(*) FROM processing_log") == 0
