"""The queue engine in-process: claim, outcomes, retries, dead + alerts, leases, scheduler."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings
from replydesk.queue import repository
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import JOBS, ClaimedItem
from replydesk.queue.registry import Registry
from replydesk.queue.scheduler import PeriodicTask, RunReport, Scheduler
from replydesk.queue.service import enqueue, replay
from replydesk.queue.tasks import rescue_expired
from replydesk.queue.worker import Listener, QueueRunner, worker_database
from tests.support.logs import LogCapture
from tests.support.queue import fast_settings, fetch, fetchval, running_worker, wait_until
from tests.support.workspaces import new_workspace


@pytest.fixture
async def effects(db: Database) -> None:
    """A test-only table handlers write to, inside the item's transaction."""
    async with db.session() as session:
        await session.execute(text("CREATE TABLE effects (item_id bigint, note text)"))


async def _effect(session: AsyncSession, item: ClaimedItem, note: str = "done") -> None:
    await session.execute(
        text("INSERT INTO effects (item_id, note) VALUES (:id, :note)"),
        {"id": item.id, "note": note},
    )


async def _jobs(db: Database, n: int, kind: str = "test.job", **kw: Any) -> list[int]:
    ids = []
    async with db.session() as session:
        for i in range(n):
            job_id = await enqueue(session, kind, {"i": i}, f"{kind}:{uuid.uuid4()}", **kw)
            assert job_id is not None
            ids.append(job_id)
    return ids


async def _job(url: str, job_id: int) -> dict[str, Any]:
    rows = await fetch(url, "SELECT * FROM jobs WHERE id = $1", job_id)
    return dict(rows[0])


async def _all_done(url: str) -> bool:
    open_ = await fetchval(url, "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')")
    return bool(open_ == 0)


async def test_enqueue_dedupes_and_commits_with_the_callers_transaction(
    db: Database, database_url: str
) -> None:
    async with db.session() as session:
        first = await enqueue(session, "t", {"a": 1}, "key-1")
        again = await enqueue(session, "t", {"a": 2}, "key-1")
    assert first is not None and again is None
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            assert await enqueue(session, "t", {}, "key-2") is not None
            raise RuntimeError("caller's work failed")
    rows = await fetch(database_url, "SELECT dedupe_key, payload::text FROM jobs")
    assert [tuple(r) for r in rows] == [("key-1", '{"a": 1}')]
    # Keys are permanent: a finished job still blocks its key.
    await fetch(database_url, "UPDATE jobs SET status = 'succeeded'")
    async with db.session() as session:
        assert await enqueue(session, "t", {}, "key-1") is None


async def test_claim_takes_due_rows_in_order_and_skips_locked_ones(
    db: Database, database_url: str
) -> None:
    async with db.session() as session:
        for key, offset in (("late", -1), ("early", -2), ("future", 60)):
            await session.execute(
                text(
                    "INSERT INTO jobs (type, payload, dedupe_key, run_at) "
                    "VALUES ('t', '{}', :k, now() + make_interval(secs => :s))"
                ),
                {"k": key, "s": offset},
            )
    async with db.connection() as holder:
        held = await repository.claim(holder, JOBS, "w1", 1, 30.0)
        assert [i.payload for i in held] == [{}]
        assert held[0].attempts == 1 and held[0].kind == "t"
        # w1's transaction is still open: w2 skips its row instead of waiting for it.
        async with db.connection() as other:
            got = await repository.claim(other, JOBS, "w2", 10, 30.0)
    keys = {r["id"]: r["dedupe_key"] for r in await fetch(database_url, "SELECT * FROM jobs")}
    assert keys[held[0].id] == "early"
    assert [keys[i.id] for i in got] == ["late"]  # "future" is not due
    rows = await fetch(database_url, "SELECT dedupe_key, locked_by FROM jobs ORDER BY id")
    assert {r["dedupe_key"]: r["locked_by"] for r in rows} == {
        "late": "w2",
        "early": "w1",
        "future": None,
    }


def test_backoff_is_exponential_jittered_and_capped() -> None:
    for attempts in range(1, 12):
        ceiling = min(600.0, 2.0 * 2 ** (attempts - 1))
        delays = [repository.backoff_s(attempts, 2.0, 600.0) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert max(repository.backoff_s(30, 2.0, 600.0) for _ in range(100)) <= 600.0


async def test_retries_with_backoff_then_succeeds(
    db: Database, database_url: str, effects: None, log_capture: LogCapture
) -> None:
    calls: list[float] = []

    async def flaky(session: AsyncSession, item: ClaimedItem) -> str | None:
        calls.append(time.monotonic())
        await _effect(session, item, f"try {len(calls)}")
        if len(calls) <= 3:
            raise ConnectionError("smtp down for ann@acme.example token=rdw_abcdefgh12345")
        return None

    registry = Registry()
    registry.add("jobs", "test.job", flaky)
    [job_id] = await _jobs(db, 1)
    settings = fast_settings(database_url, worker_backoff_base_s=0.2, worker_backoff_cap_s=0.4)
    async with running_worker(db, registry, settings):
        await wait_until(lambda: _all_done(database_url))
    job = await _job(database_url, job_id)
    assert (job["status"], job["attempts"]) == ("succeeded", 4)
    assert job["processed_at"] is not None and job["lease_expires_at"] is None
    # Only the successful attempt's writes were committed.
    assert [r["note"] for r in await fetch(database_url, "SELECT note FROM effects")] == ["try 4"]
    # The stored error is redacted.
    assert "ann@acme.example" not in job["last_error"] and "rdw_abcdefgh" not in job["last_error"]
    assert job["last_error"].startswith("ConnectionError: smtp down for a***@acme.example")
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    # base 0.2 s: attempt n waits in [ceiling/2, ceiling], ceiling = min(0.4, 0.2 * 2^(n-1)).
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.2
    retries = [r for r in log_capture.records() if r["event"] == "queue_item_retry"]
    assert [r["attempt"] for r in retries] == [1, 2, 3]
    assert {r["level"] for r in retries} == {"warning"} and retries[0]["error_class"] == "bug"
    assert retries[0]["category"] == "other"  # the triage taxonomy; the class stays finer
    assert "ann@acme.example" not in log_capture.text


async def test_dead_after_max_attempts_alert_per_class_per_day_then_replay(
    db: Database, database_url: str, effects: None, log_capture: LogCapture
) -> None:
    broken = True

    async def handler(session: AsyncSession, item: ClaimedItem) -> str | None:
        await _effect(session, item)
        if broken:
            raise KeyError("missing field")
        return None

    registry = Registry()
    registry.add("jobs", "test.job", handler)
    ws = (await new_workspace(db)).id
    ids = await _jobs(db, 2, workspace_id=ws, max_attempts=3)
    async with running_worker(db, registry, fast_settings(database_url)):
        await wait_until(lambda: _all_done(database_url))
        for job_id in ids:
            job = await _job(database_url, job_id)
            assert (job["status"], job["attempts"]) == ("dead", 3)
            assert job["last_error"] == "KeyError: 'missing field'"
        assert await fetchval(database_url, "SELECT count(*) FROM effects") == 0
        alerts = await fetch(database_url, "SELECT * FROM alerts")
        assert len(alerts) == 1  # one per workspace, error class and day
        alert = alerts[0]
        assert (alert["workspace_id"], alert["error_class"], alert["count"]) == (ws, "bug", 2)
        assert alert["source"] == "jobs" and alert["last_item_id"] in ids
        assert alert["dedupe_key"] == f"{ws}:bug:{alert['day'].isoformat()}"
        dead_logs = [r for r in log_capture.records() if r["event"] == "queue_item_dead"]
        assert sorted(r["level"] for r in dead_logs) == ["error", "warning"]
        assert all((r["category"], r["error_class"]) == ("other", "bug") for r in dead_logs)
        # The handler is fixed: replay brings both back and they succeed.
        broken = False
        async with db.session() as session:
            results = [await replay(session, i, table="jobs") for i in ids]
        assert all(r is not None and r.replayed and r.previous_status == "dead" for r in results)
        await wait_until(lambda: _all_done(database_url))
    for job_id in ids:
        job = await _job(database_url, job_id)
        assert (job["status"], job["attempts"]) == ("succeeded", 1)
    assert await fetchval(database_url, "SELECT count(*) FROM effects") == 2


async def test_replay_scoping_and_states(db: Database) -> None:
    ws, other = (await new_workspace(db)).id, (await new_workspace(db)).id
    [job_id] = await _jobs(db, 1, workspace_id=ws)
    async with db.session() as session:
        assert await replay(session, job_id, table="jobs", workspace_id=other) is None
        assert await replay(session, 10**12, table="jobs") is None
        pending = await replay(session, job_id, table="jobs", workspace_id=ws)
    assert pending is not None and not pending.replayed and pending.status == "pending"
    with pytest.raises(ValueError, match="unknown queue table"):
        async with db.session() as session:
            await replay(session, job_id, table="leads")


async def test_permanent_error_is_dead_at_once_and_batch_mates_succeed(
    db: Database, database_url: str, effects: None
) -> None:
    async def handler(session: AsyncSession, item: ClaimedItem) -> str | None:
        await _effect(session, item)
        if item.payload["i"] == 4:
            raise PermanentError("lead e-mail missing")
        return None

    registry = Registry()
    registry.add("jobs", "test.job", handler)
    ids = await _jobs(db, 10)
    async with running_worker(db, registry, fast_settings(database_url, worker_batch_size=10)):
        await wait_until(lambda: _all_done(database_url))
    rows = await fetch(database_url, "SELECT id, status, attempts FROM jobs ORDER BY id")
    assert [(r["status"], r["attempts"]) for r in rows] == [("succeeded", 1)] * 4 + [
        ("dead", 1)
    ] + [("succeeded", 1)] * 5
    done = {r["item_id"] for r in await fetch(database_url, "SELECT item_id FROM effects")}
    assert done == set(ids) - {ids[4]}
    alert = (await fetch(database_url, "SELECT error_class, workspace_id FROM alerts"))[0]
    assert (alert["error_class"], alert["workspace_id"]) == ("invalid_payload", None)


async def test_a_failing_group_handler_falls_back_to_each_item_alone(
    db: Database, database_url: str, effects: None
) -> None:
    """``Handler.apply_group`` gets the group's items at once; when it fails, its writes roll
    back and every item runs alone through ``apply`` (only the bad one fails)."""
    groups: list[int] = []

    async def alone(session: AsyncSession, item: ClaimedItem) -> str | None:
        await _effect(session, item, "alone")
        if item.payload["i"] == 4:
            raise PermanentError("lead e-mail missing")
        return None

    async def together(session: AsyncSession, items: list[ClaimedItem]) -> list[str | None]:
        groups.append(len(items))
        for item in items:
            await _effect(session, item, "together")
        if any(item.payload["i"] == 4 for item in items):
            raise PermanentError("lead e-mail missing")
        return [None] * len(items)

    registry = Registry()
    registry.add("jobs", "test.job", alone, apply_group=together)
    ids = await _jobs(db, 10)
    settings = fast_settings(database_url, worker_batch_size=10, worker_group_size=5)
    async with running_worker(db, registry, settings):
        await wait_until(lambda: _all_done(database_url))
    rows = await fetch(database_url, "SELECT id, status FROM jobs ORDER BY id")
    assert [r["status"] for r in rows] == ["succeeded"] * 4 + ["dead"] + ["succeeded"] * 5
    assert groups and max(groups) > 1  # items did go to the group handler together
    effects_rows = await fetch(database_url, "SELECT item_id, note FROM effects")
    done = {r["item_id"]: r["note"] for r in effects_rows}
    assert len(effects_rows) == len(done) == 9  # the failed group's writes rolled back
    bad_group = {i for i in ids if abs(ids.index(i) - 4) < 5} - {ids[4]}
    assert {i for i, note in done.items() if note == "alone"} <= bad_group
    assert ids[4] not in done


async def test_item_budget_cancels_and_rolls_back(
    db: Database, database_url: str, effects: None
) -> None:
    async def slow(session: AsyncSession, item: ClaimedItem) -> str | None:
        await _effect(session, item)
        await asyncio.sleep(5)
        return None

    registry = Registry()
    registry.add("jobs", "test.job", slow)
    [job_id] = await _jobs(db, 1, max_attempts=2)
    start = time.monotonic()
    async with running_worker(db, registry, fast_settings(database_url, worker_item_budget_s=0.3)):
        await wait_until(lambda: _all_done(database_url))
    assert time.monotonic() - start < 4
    job = await _job(database_url, job_id)
    assert (job["status"], job["attempts"]) == ("dead", 2)
    assert job["last_error"].startswith("TimeoutError")
    assert await fetchval(database_url, "SELECT error_class FROM alerts") == "timeout"
    assert await fetchval(database_url, "SELECT count(*) FROM effects") == 0


async def test_lost_lease_rolls_back_the_items_work(
    db: Database, database_url: str, effects: None, log_capture: LogCapture
) -> None:
    async def handler(session: AsyncSession, item: ClaimedItem) -> str | None:
        # Meanwhile the rescuer hands the item to someone else (simulated).
        await fetch(
            database_url,
            "UPDATE jobs SET status = 'pending', locked_by = NULL, run_at = now() + '1 hour' "
            "WHERE id = $1",
            item.id,
        )
        await _effect(session, item)
        return None

    registry = Registry()
    registry.add("jobs", "test.job", handler)
    [job_id] = await _jobs(db, 1)
    async with running_worker(db, registry, fast_settings(database_url)):
        await wait_until(
            lambda: _has_log(log_capture, "queue_lease_lost"),
        )
    assert (await _job(database_url, job_id))["status"] == "pending"
    assert await fetchval(database_url, "SELECT count(*) FROM effects") == 0


async def _has_log(capture: LogCapture, event: str) -> bool:
    return any(r["event"] == event for r in capture.records())


async def test_long_item_keeps_its_lease_while_the_rescuer_runs(
    db: Database, database_url: str, effects: None
) -> None:
    leases: list[Any] = []

    async def long(session: AsyncSession, item: ClaimedItem) -> str | None:
        for _ in range(8):
            await asyncio.sleep(0.25)
            leases.append(
                await fetchval(
                    database_url, "SELECT lease_expires_at FROM jobs WHERE id = $1", item.id
                )
            )
        await _effect(session, item)
        return None

    registry = Registry()
    registry.add("jobs", "test.job", long)
    settings = fast_settings(database_url, worker_lease_s=0.6)

    async def rescue(d: Database) -> None:
        await rescue_expired(d, 100)

    [job_id] = await _jobs(db, 1)
    async with running_worker(
        db, registry, settings, tasks=[PeriodicTask("queue.rescue", 0.2, rescue)]
    ):
        await wait_until(lambda: _all_done(database_url))
    job = await _job(database_url, job_id)
    assert (job["status"], job["attempts"]) == ("succeeded", 1)  # never rescued
    assert len(set(leases)) >= 3 and leases == sorted(leases)  # renewed while running
    assert await fetchval(database_url, "SELECT count(*) FROM effects") == 1


async def test_rescuer_returns_expired_items_and_kills_last_attempts(
    db: Database, database_url: str
) -> None:
    ws = (await new_workspace(db)).id
    ids = await _jobs(db, 3, workspace_id=ws)
    await fetch(
        database_url,
        "UPDATE jobs SET status = 'running', locked_by = 'gone', attempts = 1, "
        "lease_expires_at = now() - interval '1 second' WHERE id = $1",
        ids[0],
    )
    await fetch(
        database_url,
        "UPDATE jobs SET status = 'running', locked_by = 'gone', attempts = 8, max_attempts = 8, "
        "lease_expires_at = now() - interval '1 second' WHERE id = $1",
        ids[1],
    )
    await fetch(
        database_url,
        "UPDATE jobs SET status = 'running', locked_by = 'alive', attempts = 1, "
        "lease_expires_at = now() + interval '1 minute' WHERE id = $1",
        ids[2],
    )
    assert await rescue_expired(db, 100) == {"webhook_events": 0, "jobs": 2}
    rows = {r["id"]: r for r in await fetch(database_url, "SELECT * FROM jobs")}
    assert (rows[ids[0]]["status"], rows[ids[0]]["locked_by"]) == ("pending", None)
    assert rows[ids[0]]["last_error"] == "lease expired: worker gone stopped during attempt 1"
    assert rows[ids[1]]["status"] == "dead"
    assert rows[ids[2]]["status"] == "running"
    alert = (await fetch(database_url, "SELECT * FROM alerts"))[0]
    assert (alert["error_class"], alert["workspace_id"], alert["count"]) == ("lease_expired", ws, 1)


async def test_scheduler_runs_each_slot_once_across_workers(
    db: Database, database_url: str
) -> None:
    runs: list[str] = []

    def task(interval: float) -> PeriodicTask:
        async def run(_: Database) -> None:
            runs.append("ran")

        return PeriodicTask("test.tick", interval, run)

    one, two = Scheduler(db, [task(3600)], "w1"), Scheduler(db, [task(3600)], "w2")
    results = await asyncio.gather(*(s.run_due(s.tasks[0]) for s in (one, two, one, two)))
    assert sorted(results) == [False, False, False, True] and runs == ["ran"]
    # Many short slots, two schedulers ticking: runs == slots claimed, no slot twice.
    runs.clear()
    stopping = asyncio.Event()
    fast = [Scheduler(db, [task(0.2)], f"w{i}") for i in range(2)]
    loops = [asyncio.create_task(s.run(stopping)) for s in fast]
    await asyncio.sleep(1.5)
    stopping.set()
    await asyncio.gather(*loops)
    slots = await fetch(database_url, "SELECT slot FROM scheduler_runs WHERE task = 'test.tick'")
    assert len(runs) == len(slots) - 1  # minus the 3600 s slot above
    assert len(runs) >= 4


async def test_graceful_stop_releases_unfinished_items(
    db: Database, database_url: str, effects: None
) -> None:
    started = asyncio.Event()

    async def handler(session: AsyncSession, item: ClaimedItem) -> str | None:
        await _effect(session, item)
        started.set()
        await asyncio.sleep(0.5 if item.payload["i"] == 0 else 30)
        return None

    registry = Registry()
    registry.add("jobs", "test.job", handler)
    quick, stuck = await _jobs(db, 2)
    # Items that share a transaction (a group) finish or are released together; this test
    # is about items running alone (handlers with slow work do: it goes in ``prepare``).
    settings = fast_settings(database_url, worker_shutdown_grace_s=1.0, worker_group_size=1)
    async with running_worker(db, registry, settings):
        await asyncio.wait_for(started.wait(), 10)
    # The quick one finished within the grace period; the other was released untouched.
    assert (await _job(database_url, quick))["status"] == "succeeded"
    job = await _job(database_url, stuck)
    assert (job["status"], job["attempts"], job["locked_by"]) == ("pending", 0, None)
    assert [r["item_id"] for r in await fetch(database_url, "SELECT item_id FROM effects")] == [
        quick
    ]


async def test_listener_is_woken_by_the_insert_trigger(db: Database, database_url: str) -> None:
    wake = asyncio.Event()
    stopping = asyncio.Event()
    task = asyncio.create_task(Listener(database_url, {"replydesk_jobs": wake}, 2.0).run(stopping))
    try:
        await asyncio.wait_for(wake.wait(), 10)  # set once on connect (catch-up)
        wake.clear()
        await asyncio.sleep(0.2)
        assert not wake.is_set()
        await _jobs(db, 1)
        await asyncio.wait_for(wake.wait(), 5)
    finally:
        stopping.set()
        await task


async def test_prepare_runs_without_an_open_transaction(database_url: str, effects: None) -> None:
    settings = fast_settings(database_url)
    wdb = worker_database(settings, database_url, 2)
    seen: list[int] = []

    async def prepare(item: ClaimedItem) -> str:
        await asyncio.sleep(0.3)  # a slow call
        seen.append(
            await fetchval(
                database_url,
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                "'replydesk-worker' AND state LIKE 'idle in transaction%' "
                "AND datname = current_database()",
            )
        )
        return f"prepared {item.id}"

    async def apply(session: AsyncSession, item: ClaimedItem) -> str | None:
        await _effect(session, item, str(item.prepared))
        return None

    registry = Registry()
    registry.add("jobs", "test.job", apply, prepare=prepare)
    try:
        [job_id] = await _jobs(wdb, 1)
        async with running_worker(wdb, registry, settings):
            await wait_until(lambda: _all_done(database_url))
    finally:
        await wdb.dispose()
    assert seen == [0]
    note = await fetchval(database_url, "SELECT note FROM effects")
    assert note == f"prepared {job_id}"


async def test_claim_failures_log_once_per_outage(
    db: Database, database_url: str, log_capture: LogCapture
) -> None:
    unreachable = Database.from_settings(
        Settings(database_url="postgresql://postgres@127.0.0.1:1/none", db_connect_timeout_s=0.5)
    )
    runner = QueueRunner(unreachable, JOBS, Registry(), fast_settings(database_url), "w", 2)
    try:
        for _ in range(3):
            assert await runner._claim(1) == []
    finally:
        await unreachable.dispose()
    runner.db = db  # the database is back
    assert await runner._claim(1) == []
    logged = [(r["event"], r["level"]) for r in log_capture.records() if "_db_" in r["event"]]
    assert logged == [
        ("worker_db_unavailable", "error"),  # one line per outage, category db_unavailable
        ("worker_db_still_unavailable", "debug"),
        ("worker_db_still_unavailable", "debug"),
        ("worker_db_recovered", "info"),
    ]


async def test_each_periodic_run_logs_and_counts_what_it_did(
    db: Database, log_capture: LogCapture
) -> None:
    async def sweep(_: Database) -> RunReport:
        return RunReport(processed=5, failed=1, retried=2, skipped=3, health_gated=4)

    async def broken(_: Database) -> None:
        raise ValueError("nope")

    m = metrics()
    ok_before = m.periodic_runs.labels("test.sweep", "ok")._value.get()
    gated_before = m.periodic_items.labels("test.sweep", "health_gated")._value.get()
    failed_before = m.periodic_runs.labels("test.broken", "failed")._value.get()
    scheduler = Scheduler(
        db,
        [PeriodicTask("test.sweep", 3600, sweep), PeriodicTask("test.broken", 3600, broken)],
        "w1",
        log_steps=True,
    )
    assert await scheduler.run_due(scheduler.tasks[0]) is True
    assert await scheduler.run_due(scheduler.tasks[1]) is False
    (line,) = [r for r in log_capture.records() if r["event"] == "periodic_run"]
    assert line["level"] == "info" and line["task"] == "test.sweep"
    assert [line[k] for k in ("processed", "failed", "retried", "skipped", "health_gated")] == [
        5, 1, 2, 3, 4,
    ]  # fmt: skip
    assert set(line["steps_ms"]) == {"claim_slot", "run"}
    (failed,) = [r for r in log_capture.records() if r["event"] == "scheduled_task_failed"]
    assert (failed["level"], failed["category"], failed["error_class"]) == (
        "error",
        "other",
        "scheduler",
    )
    assert m.periodic_runs.labels("test.sweep", "ok")._value.get() - ok_before == 1
    assert m.periodic_items.labels("test.sweep", "health_gated")._value.get() - gated_before == 4
    assert m.periodic_runs.labels("test.broken", "failed")._value.get() - failed_before == 1
