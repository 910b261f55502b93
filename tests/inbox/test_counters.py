"""Inbox counter rows (migration 0014): exact for multi-row statements, snoozes that end on
the clock, concurrent writers that never wait on a counter row, and the recount."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from sqlalchemy import text

from replydesk.app import periodic_tasks
from replydesk.core.db import Database, plain_url
from replydesk.core.retention import Bounds
from replydesk.core.settings import Settings
from replydesk.inbox.counters import recount_workspaces
from replydesk.leads.tasks import wake_ended_snoozes
from tests.support.cli import clean_env, run_replydesk
from tests.support.counters import assert_counters_exact
from tests.support.members import Member, new_workspace_owner
from tests.support.rows import at, fetch_rows

# 60 leads in one statement: channel, category, status and waiting vary with g.
SEED = """
INSERT INTO leads (workspace_id, email, status, category, last_inbound_channel,
                   last_inbound_at, last_team_outbound_at, last_message_at)
SELECT :ws, 'l' || g || '@x.example',
       (ARRAY['active', 'bounced', 'closed', 'unsubscribed'])[1 + g % 4],
       (ARRAY['interested', NULL, 'question'])[1 + g % 3],
       (ARRAY['email', 'sms', 'linkedin', NULL])[1 + g % 4],
       CAST(:t AS timestamptz) + g * interval '1 minute',
       CASE WHEN g % 5 = 0 THEN CAST(:t AS timestamptz) + interval '1 day' END,
       CAST(:t AS timestamptz) + g * interval '1 minute'
  FROM generate_series(1, 60) AS g
"""
WAKE = Bounds(batch_size=2, max_batches=100, budget_s=10.0)


async def _run(db: Database, sql: str, **params: object) -> None:
    async with db.session() as session:
        await session.execute(text(sql), params)


async def test_multi_row_statements_keep_the_counters_exact(db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    await _run(db, SEED, ws=ws, t=at(0))
    counted = await assert_counters_exact(db, ws)
    assert sum(counted.values()) > 10
    steps = [
        # Answers to a third of the backlog, in one statement.
        "UPDATE leads SET last_team_outbound_at = last_inbound_at + interval '1 minute' "
        "WHERE workspace_id = :ws AND id % 3 = 0",
        # Status and category moves, both directions.
        "UPDATE leads SET status = CASE status WHEN 'active' THEN 'closed' "
        "WHEN 'closed' THEN 'active' ELSE status END, "
        "category = CASE WHEN category IS NULL THEN 'referral' END WHERE workspace_id = :ws",
        # Out-of-office auto-replies as the newest inbound message for some.
        "UPDATE leads SET out_of_office_at = last_inbound_at WHERE workspace_id = :ws "
        "AND id % 4 = 1",
        # New replies after the answers, a channel change with them.
        "UPDATE leads SET last_inbound_at = last_inbound_at + interval '2 days', "
        "last_inbound_channel = 'linkedin' WHERE workspace_id = :ws AND id % 2 = 0",
        # An upsert: some rows inserted, some updated, in one statement.
        "INSERT INTO leads (id, workspace_id, email, last_inbound_at, last_inbound_channel) "
        "OVERRIDING SYSTEM VALUE "
        "SELECT id + (CASE WHEN id % 2 = 0 THEN 0 ELSE 1000000 END), workspace_id, "
        "'u' || id || '@x.example', now(), 'sms' FROM leads WHERE workspace_id = :ws "
        "ON CONFLICT (id, workspace_id) "
        "DO UPDATE SET status = 'active', last_team_outbound_at = NULL",
        "DELETE FROM leads WHERE workspace_id = :ws AND id % 7 = 0",
        # Snoozes set and lifted in bulk (into the future; already over).
        "UPDATE leads SET snoozed_until = now() + interval '1 day' WHERE workspace_id = :ws "
        "AND id % 5 = 2",
        "UPDATE leads SET snoozed_until = now() - interval '1 day' WHERE workspace_id = :ws "
        "AND id % 10 = 2",
    ]
    for sql in steps:
        await _run(db, sql, ws=ws)
        await assert_counters_exact(db, ws)
    # A statement that is rolled back leaves the counters as they were.
    before = await assert_counters_exact(db, ws)
    async with db.session() as session:
        await session.execute(
            text("UPDATE leads SET status = 'closed' WHERE workspace_id = :ws"), {"ws": ws}
        )
        await session.rollback()
    assert await assert_counters_exact(db, ws) == before


async def test_a_snooze_that_ends_on_the_clock_counts_again(db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    await _run(db, SEED, ws=ws, t=at(0))
    everyone = await assert_counters_exact(db, ws)
    await _run(
        db,
        "UPDATE leads SET snoozed_until = clock_timestamp() + interval '400 milliseconds' "
        "WHERE workspace_id = :ws",
        ws=ws,
    )
    assert await assert_counters_exact(db, ws) == {}
    await asyncio.sleep(0.5)
    # Ended but not woken: the counts read adds them (the counter rows do not have them yet).
    assert await assert_counters_exact(db, ws) == everyone
    rows = await fetch_rows(
        db, "SELECT coalesce(sum(n), 0) AS n FROM inbox_counters WHERE workspace_id = :ws", ws=ws
    )
    assert rows[0]["n"] == 0
    woken = await wake_ended_snoozes(db, WAKE)
    assert woken == 60
    assert await assert_counters_exact(db, ws) == everyone
    rows = await fetch_rows(
        db, "SELECT coalesce(sum(n), 0) AS n FROM inbox_counters WHERE workspace_id = :ws", ws=ws
    )
    assert rows[0]["n"] == sum(everyone.values())
    assert await wake_ended_snoozes(db, WAKE) == 0


async def test_the_wake_up_is_a_periodic_task_of_the_app(
    db: Database, owner: Member, settings: Settings
) -> None:
    ws = owner.workspace_id
    await _run(db, SEED, ws=ws, t=at(0))
    await _run(
        db,
        "UPDATE leads SET snoozed_until = clock_timestamp() + interval '100 milliseconds' "
        "WHERE workspace_id = :ws",
        ws=ws,
    )
    await asyncio.sleep(0.15)
    [task] = [t for t in periodic_tasks(settings) if t.name == "leads.snooze_wake"]
    assert task.interval_s == settings.snooze_wake_interval_s
    assert await task.run(db) == 60
    rows = await fetch_rows(
        db, "SELECT count(*) AS n FROM leads WHERE workspace_id = :ws AND snooze_active", ws=ws
    )
    assert rows[0]["n"] == 0
    await assert_counters_exact(db, ws)


async def test_concurrent_writers_never_wait_on_a_counter_row(
    db: Database, owner: Member, database_url: str
) -> None:
    """Two open transactions move leads in and out of the same (channel, category) groups,
    in several statements each, interleaved: neither ever waits for the other (each writes
    its own slot), and both commit exactly."""
    ws = owner.workspace_id
    await _run(db, SEED, ws=ws, t=at(0))
    url = plain_url(database_url)
    a, b = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        for conn in (a, b):
            await conn.execute("SET lock_timeout = '2s'")
            await conn.execute("BEGIN")
        moves = [
            "UPDATE leads SET status = 'closed' WHERE workspace_id = $1 AND id % 2 = $2",
            "UPDATE leads SET status = 'active' WHERE workspace_id = $1 AND id % 2 = $2",
            "UPDATE leads SET category = 'interested' WHERE workspace_id = $1 AND id % 2 = $2",
            "UPDATE leads SET last_team_outbound_at = now() WHERE workspace_id = $1 "
            "AND id % 2 = $2 AND id % 3 = 0",
        ]
        for sql in moves:
            await a.execute(sql, ws, 0)
            await b.execute(sql, ws, 1)
        slots = [
            await conn.fetchval("SELECT current_setting('replydesk.inbox_counter_slots', true)")
            for conn in (a, b)
        ]
        assert slots[0] != slots[1] and str(ws) in slots[0] and str(ws) in slots[1]
        await a.execute("COMMIT")
        await b.execute("COMMIT")
    finally:
        await a.close()
        await b.close()
    await assert_counters_exact(db, ws)


async def test_many_concurrent_transactions_stay_exact(db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    await _run(db, SEED, ws=ws, t=at(0))

    async def writer(k: int) -> None:
        for step in range(5):
            await _run(
                db,
                "UPDATE leads SET status = CASE WHEN status = 'closed' THEN 'active' "
                "ELSE 'closed' END, category = CASE WHEN :s % 2 = 0 THEN 'question' END "
                "WHERE workspace_id = :ws AND id % 6 = :k",
                ws=ws,
                k=k,
                s=step,
            )

    await asyncio.gather(*(writer(k) for k in range(6)))
    await assert_counters_exact(db, ws)


async def test_recount_fixes_and_reports_drift(db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    other = await new_workspace_owner(db, "Other", "lee@other.example")
    await _run(db, SEED, ws=ws, t=at(0))
    await _run(db, SEED.replace("'l' ||", "'o' ||"), ws=other.workspace_id, t=at(0))
    truth = await assert_counters_exact(db, ws)
    assert await recount_workspaces(db, ws) == (1, [])
    # Drift as a bypassed trigger would leave it: one group off, one row lost.
    await _run(
        db,
        "UPDATE inbox_counters SET n = n + 5 WHERE workspace_id = :ws "
        "AND (channel, category) = ('email', 'interested')",
        ws=ws,
    )
    await _run(
        db,
        "DELETE FROM inbox_counters WHERE workspace_id = :ws AND channel = 'sms'",
        ws=other.workspace_id,
    )
    checked, drift = await recount_workspaces(db)
    assert checked >= 2
    fixed = {(d.workspace_id, d.channel, d.category): (d.counted, d.actual) for d in drift}
    key = (ws, "email", "interested")
    assert fixed[key] == (truth[("email", "interested")] + 5, truth[("email", "interested")])
    assert all(d.channel == "sms" for d in drift if d.workspace_id == other.workspace_id)
    assert any(d.workspace_id == other.workspace_id for d in drift)
    assert await assert_counters_exact(db, ws) == truth
    await assert_counters_exact(db, other.workspace_id)
    assert await recount_workspaces(db) == (checked, [])


async def test_deleting_a_workspace_deletes_its_counters(db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    await _run(db, SEED, ws=ws, t=at(0))
    await _run(db, "DELETE FROM workspaces WHERE id = :ws", ws=ws)
    assert (
        await fetch_rows(db, "SELECT 1 FROM inbox_counters WHERE workspace_id = :ws", ws=ws) == []
    )


def test_recount_command(database_url: str) -> None:
    env = clean_env(DATABASE_URL=database_url)
    done = run_replydesk("inbox", "recount", env=env)
    assert done.returncode == 0, done.stderr
    assert "no drift" in done.stdout
    missing = run_replydesk("inbox", "recount", "--workspace", str(uuid.uuid4()), env=env)
    assert missing.returncode == 1
    assert "no workspace" in missing.stderr
