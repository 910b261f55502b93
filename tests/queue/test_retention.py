"""Retention of the queue engine's tables: bounded batches, dead items kept, and a re-delivery
of a pruned event that creates no second message."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import text

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.retention import Bounds
from replydesk.core.settings import Settings
from replydesk.queue.service import enqueue
from replydesk.queue.tasks import apply_retention
from tests.support.http import post
from tests.support.queue import fast_settings, fetch, fetchval, running_worker, wait_until
from tests.support.samples import sample
from tests.support.workspaces import new_workspace

WIDE = Bounds(batch_size=1000, max_batches=10, budget_s=10.0)


async def _events(url: str, ws: uuid.UUID, rows: list[tuple[str, int]]) -> list[int]:
    """One webhook_events row per (status, age in days)."""
    ids = []
    for n, (status, age) in enumerate(rows):
        ids.append(
            await fetchval(
                url,
                "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, "
                "status, payload, received_at) VALUES ($1, 'emailbison', 'EMAIL_SENT', $2, $3, "
                "'{\"a\": 1}', now() - make_interval(days => $4)) RETURNING id",
                ws,
                f"k{n}",
                status,
                age,
            )
        )
    return ids


async def _remaining(url: str) -> dict[int, str]:
    rows = await fetch(url, "SELECT id, payload::text AS p FROM webhook_events ORDER BY id")
    return {r["id"]: r["p"] for r in rows}


async def test_finished_events_lose_payload_then_row_and_dead_or_pending_stay(
    db: Database, database_url: str
) -> None:
    ws = (await new_workspace(db)).id
    settings = Settings(database_url=database_url)  # payload 7 days, rows 30, dead kept
    ids = await _events(
        database_url,
        ws,
        [
            ("succeeded", 2),  # young: untouched
            ("succeeded", 10),  # payload dropped
            ("ignored", 10),  # payload dropped
            ("succeeded", 40),  # deleted
            ("ignored", 40),  # deleted
            ("dead", 400),  # kept (no dead window)
            ("pending", 400),  # never touched
            ("running", 400),
        ],
    )
    done = await apply_retention(db, settings, WIDE)
    assert done["webhook_events.payload"] == 4  # the 10- and 40-day-old ones, before deletion
    assert done["webhook_events"] == 2
    left = await _remaining(database_url)
    assert sorted(left) == [ids[0], ids[1], ids[2], ids[5], ids[6], ids[7]]
    assert [left[i] for i in (ids[1], ids[2])] == ["{}", "{}"]
    assert all(left[i] == '{"a": 1}' for i in (ids[0], ids[5], ids[6], ids[7]))
    # A second run has nothing left to do.
    again = await apply_retention(db, settings, WIDE)
    assert set(again.values()) == {0}
    # With a dead window, old dead items go too.
    dead = await apply_retention(
        db, Settings(database_url=database_url, retention_dead_days=365), WIDE
    )
    assert dead["webhook_events.dead"] == 1
    assert ids[5] not in await _remaining(database_url)


async def test_each_run_is_bounded_and_a_backlog_drains_over_runs(
    db: Database, database_url: str
) -> None:
    ws = (await new_workspace(db)).id
    await _events(database_url, ws, [("succeeded", 40)] * 25)
    settings = Settings(database_url=database_url)
    narrow = Bounds(batch_size=4, max_batches=3, budget_s=10.0)
    first = await apply_retention(db, settings, narrow)
    assert first["webhook_events"] == 12  # 3 statements of 4 rows
    assert await fetchval(database_url, "SELECT count(*) FROM webhook_events") == 13
    await apply_retention(db, settings, narrow)
    await apply_retention(db, settings, narrow)
    assert await fetchval(database_url, "SELECT count(*) FROM webhook_events") == 0


async def test_jobs_alerts_attempts_and_slots(db: Database, database_url: str) -> None:
    ws = (await new_workspace(db)).id
    for n, (status, age) in enumerate([("succeeded", 40), ("dead", 40), ("pending", 40)]):
        await fetch(
            database_url,
            "INSERT INTO jobs (type, payload, dedupe_key, status, workspace_id, created_at) "
            "VALUES ('t', '{}', $1, $2, $3, now() - make_interval(days => $4))",
            f"j{n}",
            status,
            ws,
            age,
        )
    await fetch(
        database_url,
        "INSERT INTO alerts (dedupe_key, workspace_id, error_class, day, source, delivered_at) "
        "VALUES ('a1', $1, 'x', current_date, 'jobs', now() - interval '100 days'), "
        "('a2', $1, 'x', current_date - 1, 'jobs', now() - interval '1 day'), "
        "('a3', $1, 'x', current_date - 2, 'jobs', NULL)",
        ws,
    )
    await fetch(
        database_url,
        "INSERT INTO queue_attempts (source, item_id, attempt, outcome, finished_at) VALUES "
        "('jobs', 1, 1, 'succeeded', now() - interval '31 days'), "
        "('jobs', 2, 1, 'succeeded', now())",
    )
    await fetch(
        database_url,
        "INSERT INTO scheduler_runs (task, slot, worker) VALUES "
        "('t', now() - interval '2 days', 'w'), ('t', now(), 'w')",
    )
    done = await apply_retention(db, Settings(database_url=database_url), WIDE)
    assert {k: done[k] for k in ("jobs", "alerts", "queue_attempts", "scheduler_runs")} == {
        "jobs": 1,
        "alerts": 1,
        "queue_attempts": 1,
        "scheduler_runs": 1,
    }
    jobs = await fetch(database_url, "SELECT status FROM jobs ORDER BY id")
    assert [r["status"] for r in jobs] == ["dead", "pending"]
    alerts = await fetch(database_url, "SELECT dedupe_key FROM alerts ORDER BY id")
    assert [r["dedupe_key"] for r in alerts] == ["a2", "a3"]  # undelivered ones stay


async def test_redelivery_of_a_pruned_event_creates_no_second_message(
    db: Database, database_url: str, client: httpx.AsyncClient
) -> None:
    ws = await new_workspace(db)
    payload = sample("emailbison", "email_sent")
    settings = fast_settings(database_url)
    registry = build_registry(settings, db)

    async def drained() -> bool:
        n = await fetchval(
            database_url,
            "SELECT count(*) FROM (SELECT 1 FROM webhook_events WHERE status IN "
            "('pending', 'running') UNION ALL SELECT 1 FROM jobs WHERE status IN "
            "('pending', 'running')) AS open_items",
        )
        return bool(n == 0)

    first = await post(client, ws, "emailbison", payload)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    async with running_worker(db, registry, settings):
        await wait_until(drained)
    dup = await post(client, ws, "emailbison", payload)
    assert dup.json()["status"] == "duplicate"  # the row still holds its dedupe key

    # Age the event past every window and prune it: its dedupe key is gone with the row.
    await fetch(database_url, "UPDATE webhook_events SET received_at = now() - interval '60 days'")
    done = await apply_retention(db, Settings(database_url=database_url), WIDE)
    assert done["webhook_events"] == 1
    assert await fetchval(database_url, "SELECT count(*) FROM webhook_events") == 0

    again = await post(client, ws, "emailbison", payload)
    assert again.status_code == 202 and again.json()["status"] == "accepted"
    async with running_worker(db, registry, settings):
        await wait_until(drained)
    statuses = await fetch(database_url, "SELECT status FROM webhook_events")
    assert [r["status"] for r in statuses] == ["succeeded"]
    # One message (its provider key is unique per workspace) and one follow-up job (its
    # dedupe key is still held: jobs are kept at least as long as event rows).
    assert await fetchval(database_url, "SELECT count(*) FROM messages") == 1
    assert await fetchval(database_url, "SELECT count(*) FROM jobs") == 1


async def test_retention_skips_rows_another_transaction_holds(
    db: Database, database_url: str
) -> None:
    """SKIP LOCKED: a row under a replay's (or anyone's) lock is left for the next run."""
    async with db.session() as session:
        job_id = await enqueue(session, "t.any", {}, "k")
    await fetch(
        database_url,
        "UPDATE jobs SET status = 'succeeded', created_at = now() - interval '60 days'",
    )
    settings = Settings(database_url=database_url)
    async with db.session() as session:
        await session.execute(text("SELECT 1 FROM jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
        assert (await apply_retention(db, settings, WIDE))["jobs"] == 0
    assert (await apply_retention(db, settings, WIDE))["jobs"] == 1
