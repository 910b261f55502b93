"""Ops commands (``replydesk queue stats|replay``) and the in-process worker of ``serve``."""

from __future__ import annotations

import json
import subprocess

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.cli import clean_env, run_replydesk
from tests.support.queue import fetch, insert_events, status_counts, wait_until
from tests.support.samples import event_type_of, sample
from tests.support.workspaces import new_workspace


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_replydesk(*args, env=clean_env(DATABASE_URL=database_url))


async def _seed(db: Database, database_url: str) -> list[int]:
    ws = (await new_workspace(db)).id
    names = [("emailbison", "email_sent"), ("emailbison", "lead_replied"), ("ghl", "inbound_sms")]
    events = [(p, event_type_of(p, sample(p, n)), sample(p, n)) for p, n in names]
    ids = await insert_events(database_url, ws, events)
    await fetch(
        database_url,
        "UPDATE webhook_events SET status = 'dead', attempts = 8, last_error = 'x' "
        "WHERE id = ANY($1)",
        ids,
    )
    await fetch(
        database_url, "UPDATE webhook_events SET received_at = '2020-01-01' WHERE id = $1", ids[1]
    )
    await fetch(
        database_url,
        "INSERT INTO jobs (type, payload, dedupe_key, status) VALUES "
        "('followup.start', '{}', 'a', 'succeeded'), ('followup.start', '{}', 'b', 'dead')",
    )
    return ids


async def test_stats_json_counts_by_status(db: Database, database_url: str) -> None:
    await _seed(db, database_url)
    proc = _cli(database_url, "queue", "stats", "--json")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["webhook_events"] == {
        "pending": 0,
        "running": 0,
        "succeeded": 0,
        "dead": 3,
        "ignored": 0,
        "oldest_due_pending_s": None,
    }
    assert {k: stats["jobs"][k] for k in ("succeeded", "dead", "pending")} == {
        "succeeded": 1,
        "dead": 1,
        "pending": 0,
    }
    table = _cli(database_url, "queue", "stats")
    assert table.returncode == 0 and "webhook_events" in table.stdout


async def test_replay_filters_and_reports_progress(db: Database, database_url: str) -> None:
    ids = await _seed(db, database_url)
    proc = _cli(
        database_url, "queue", "replay", "--status", "dead", "--provider", "emailbison",
        "--since", "2025-01-01",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"replayed": {"webhook_events": 1}}
    assert "replay webhook_events" in proc.stderr  # the progress bar
    rows = await fetch(database_url, "SELECT id, status, attempts FROM webhook_events ORDER BY id")
    assert [(r["status"], r["attempts"]) for r in rows] == [
        ("pending", 0),  # emailbison, recent
        ("dead", 8),  # emailbison, before --since
        ("dead", 8),  # ghl
    ]
    assert rows[0]["id"] == ids[0]
    everything = _cli(database_url, "queue", "replay")
    assert json.loads(everything.stdout) == {"replayed": {"webhook_events": 2, "jobs": 1}}
    assert await status_counts(database_url, "jobs") == {"succeeded": 1, "pending": 1}
    bad = _cli(database_url, "queue", "replay", "--table", "jobs", "--provider", "ghl")
    assert bad.returncode != 0 and "webhook_events only" in bad.stderr + bad.stdout


async def test_serve_runs_the_worker_in_process(
    db: Database, database_url: str, settings: Settings
) -> None:
    ws = (await new_workspace(db)).id
    settings = settings.model_copy(update={"worker_poll_interval_s": 0.1})
    app = create_app(settings, database=db, worker=True)
    async with app.router.lifespan_context(app):
        payload = sample("emailbison", "email_sent")
        await insert_events(database_url, ws, [("emailbison", "EMAIL_SENT", payload)])

        async def done() -> bool:
            counts = await status_counts(database_url, "webhook_events")
            jobs = await status_counts(database_url, "jobs")
            return counts == {"succeeded": 1} and jobs == {"succeeded": 1}

        await wait_until(done, timeout_s=30)
    # Lifespan shutdown stopped the worker: nothing left running, its pool closed.
    assert await status_counts(database_url, "webhook_events") == {"succeeded": 1}
    workers = await fetch(
        database_url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'replydesk-worker' "
        "AND datname = current_database()",
    )
    assert workers[0][0] == 0


async def test_discard_deletes_matching_dead_items_only(db: Database, database_url: str) -> None:
    ids = await _seed(db, database_url)
    await fetch(
        database_url, "UPDATE webhook_events SET status = 'succeeded' WHERE id = $1", ids[2]
    )
    proc = _cli(database_url, "queue", "discard", "--table", "webhook_events",
                "--provider", "emailbison", "--since", "2025-01-01")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"discarded": {"webhook_events": 1}}
    rows = await fetch(database_url, "SELECT id, status FROM webhook_events ORDER BY id")
    assert [(r["id"], r["status"]) for r in rows] == [(ids[1], "dead"), (ids[2], "succeeded")]
    # Every table: the dead job goes, the succeeded one and the non-dead event stay.
    proc = _cli(database_url, "queue", "discard")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"discarded": {"webhook_events": 1, "jobs": 1}}
    assert await status_counts(database_url, "webhook_events") == {"succeeded": 1}
    assert await status_counts(database_url, "jobs") == {"succeeded": 1}
    wrong = _cli(database_url, "queue", "discard", "--table", "jobs", "--provider", "ghl")
    assert wrong.returncode != 0 and "webhook_events only" in wrong.stderr
