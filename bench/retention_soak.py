"""Retention soak: simulated days of traffic with the retention tasks running; table sizes
level off once the windows are full instead of growing with every day.

    python bench/retention_soak.py [--days 24] [--events-per-day 200] [--window-days 6]
        [--payload-days 2] [--url postgresql://…/postgres] [--record]

Each simulated day: every timestamp in the database moves one day back (the clock moves
forward), the day's EMAIL_SENT events are inserted and drained by a real worker (leads,
messages, follow-up jobs, attempts), the day's sign-ins leave sessions and throttle windows,
the retention tasks of queue.tasks and auth.tasks run (as the scheduler would), and VACUUM
stands in for autovacuum. Rows and on-disk bytes of each pruned table are sampled at the end
of each day. Messages and leads are business data, never pruned: they grow by design.

Prints one JSON object and writes it to ``results/retention-soak-<UTC>.json``; ``--record``
appends a section to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import asyncpg

from common import DOC, add_output_args, sigterm_like_ctrl_c, utc_stamp, write_result
from queue_drain import drain_with_worker, drop, email_sent, scratch, server_url
from replydesk.app import build_registry
from replydesk.auth import tasks as auth_tasks
from replydesk.auth.service import create_workspace
from replydesk.core.logging import configure_logging
from replydesk.core.retention import Bounds
from replydesk.core.settings import Settings
from replydesk.queue import tasks as queue_tasks
from replydesk.queue.queues import JOBS, WEBHOOK_EVENTS
from replydesk.queue.worker import worker_database

# Timestamps that make up "age", per table: the soak moves them all back one day per day.
CLOCK_COLUMNS = {
    "webhook_events": ("received_at", "processed_at", "run_at", "locked_at"),
    "jobs": ("created_at", "processed_at", "run_at", "locked_at"),
    "queue_attempts": ("started_at", "finished_at"),
    "alerts": ("first_seen_at", "last_seen_at", "delivered_at"),
    "scheduler_runs": ("slot", "started_at"),
    "browser_sessions": ("created_at", "refreshed_at", "expires_at"),
    "login_throttles": ("window_start",),
}
WATCHED = (*CLOCK_COLUMNS, "messages", "leads")


async def one_day(
    conn: asyncpg.Connection, day: int, ws: Any, user: Any, n: int, lifetime_days: int
) -> None:
    for table, columns in CLOCK_COLUMNS.items():
        sets = ", ".join(f"{c} = {c} - interval '1 day'" for c in columns)
        await conn.execute(f"UPDATE {table} SET {sets}")
    base = day * n
    await conn.executemany(
        "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, payload) "
        "VALUES ($1, 'emailbison', 'EMAIL_SENT', $2, $3::jsonb)",
        [(ws, f"soak:{i}", json.dumps(email_sent(i, 10 * n))) for i in range(base, base + n)],
    )
    # The day's sign-ins: 20 sessions (lifetime: the window) and their throttle windows; one
    # delivered alert; the scheduler's slot rows.
    await conn.execute(
        "INSERT INTO browser_sessions (user_id, token_hash, csrf_token_hash, expires_at) "
        "SELECT $1, 'soak:' || $2 || ':' || i, 'c', now() + make_interval(days => $3) "
        "FROM generate_series(1, 20) i",
        user,
        str(day),
        lifetime_days,
    )
    await conn.execute(
        "INSERT INTO login_throttles (scope, key_hash, window_start, attempts) "
        "SELECT 'ip', 'soak:' || $1 || ':' || i, now(), 1 FROM generate_series(1, 20) i",
        str(day),
    )
    await conn.execute(
        "INSERT INTO alerts (dedupe_key, workspace_id, error_class, day, source, delivered_at) "
        "VALUES ('soak:' || $1, $2, 'soak', current_date, 'jobs', now())",
        str(day),
        ws,
    )
    await conn.execute(
        "INSERT INTO scheduler_runs (task, slot, worker) SELECT 'soak', "
        "now() - make_interval(mins => i * 10), 'soak' FROM generate_series(0, 143) i"
    )


async def sizes(conn: asyncpg.Connection) -> dict[str, dict[str, int]]:
    out = {}
    for table in WATCHED:
        rows = await conn.fetchval(f"SELECT count(*) FROM {table}")
        size = await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table)
        out[table] = {"rows": int(rows), "bytes": int(size)}
    return out


async def soak(server: str, args: argparse.Namespace) -> dict[str, Any]:
    url = await scratch(server)
    try:
        settings = Settings(
            database_url=url,
            retention_webhook_payload_days=args.payload_days,
            retention_webhook_events_days=args.window_days,
            retention_jobs_days=args.window_days,
            queue_attempts_retention_days=args.window_days,
            retention_alerts_days=args.window_days,
            retention_sessions_days=0,
            retention_login_throttles_days=1,
            retention_scheduler_slots_days=1,
        )
        db = worker_database(settings, url, 4)
        async with db.session() as session:
            created = await create_workspace(session, "soak", "soak@bench.example")
        user = await asyncpg.connect(url)
        owner = await user.fetchval("SELECT id FROM users LIMIT 1")
        registry = build_registry()
        bounds = Bounds.from_settings(settings, budget_s=30.0)
        series: list[dict[str, Any]] = []
        drain_s = retention_s = 0.0
        try:
            for day in range(args.days):
                await one_day(
                    user, day, created.workspace_id, owner, args.events_per_day, args.window_days
                )
                for table in (WEBHOOK_EVENTS, JOBS):
                    drain_s += await drain_with_worker(url, settings, registry, table, 4)
                t0 = time.perf_counter()
                pruned = await queue_tasks.apply_retention(db, settings, bounds)
                pruned |= await auth_tasks.apply_retention(db, settings, bounds)
                retention_s += time.perf_counter() - t0
                for table in CLOCK_COLUMNS:
                    await user.execute(f"VACUUM {table}")
                series.append({"day": day + 1, "tables": await sizes(user), "pruned": pruned})
                print(f"day {day + 1}: {series[-1]['tables']['webhook_events']}", file=sys.stderr)
        finally:
            await user.close()
            await db.dispose()
        return {
            "series": series,
            "drain_s": round(drain_s, 1),
            "retention_s": round(retention_s, 2),
        }
    finally:
        await drop(url)


def level_check(series: list[dict[str, Any]], window: int) -> dict[str, dict[str, Any]]:
    """Per table: rows on the last day vs. the day after the window filled; pruned tables
    must not have grown in rows over that stretch."""
    settled = min(window + 2, len(series)) - 1
    out = {}
    for table in WATCHED:
        first, last = series[settled]["tables"][table], series[-1]["tables"][table]
        out[table] = {
            "rows_settled": first["rows"],
            "rows_last": last["rows"],
            "bytes_settled": first["bytes"],
            "bytes_last": last["bytes"],
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    a = result["args"]
    lines = [
        "",
        f"## Retention soak ({result['measured_at']})",
        "",
        f"`python bench/retention_soak.py --days {a['days']} --events-per-day "
        f"{a['events_per_day']} --window-days {a['window_days']} --payload-days "
        f"{a['payload_days']}` on {result['machine']}, PostgreSQL {result['postgres']}. Each "
        "simulated day moves every timestamp one day back, drains the day's EMAIL_SENT events "
        "with a real worker, adds 20 sessions (expiring after the window), 20 throttle "
        "windows, one delivered alert and 144 scheduler slots, runs the retention tasks, then "
        "VACUUM (standing in for "
        f"autovacuum). Draining took {result['drain_s']} s in all, retention "
        f"{result['retention_s']} s.",
        "",
        "Rows (and kB on disk) at the end of a day:",
        "",
    ]
    days = [s for s in result["series"] if s["day"] in result["sample_days"]]
    lines.append("| table | " + " | ".join(f"day {s['day']}" for s in days) + " |")
    lines.append("|---|" + "---|" * len(days))
    for table in WATCHED:
        cells = [
            f"{s['tables'][table]['rows']} ({s['tables'][table]['bytes'] // 1024})" for s in days
        ]
        lines.append(f"| `{table}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The pruned tables stop growing once their window is full (about "
        f"{a['window_days']} x {a['events_per_day']} events and jobs, twice that many "
        "attempts); messages and leads, never pruned, grow with the traffic.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--days", type=int, default=24)
    parser.add_argument("--events-per-day", type=int, default=200)
    parser.add_argument("--window-days", type=int, default=6)
    parser.add_argument("--payload-days", type=int, default=2)
    parser.add_argument("--url")
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("warning", stream=sys.stderr)
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    try:
        with ExitStack() as stack:
            server = server_url(args.url, stack)
            result = asyncio.run(run(server, args))
    except KeyboardInterrupt:
        print("retention_soak: interrupted; scratch databases removed", file=sys.stderr)
        return 130
    checks = result["level"]
    grew = [t for t in CLOCK_COLUMNS if checks[t]["rows_last"] > checks[t]["rows_settled"] * 1.02]
    result["leveled_off"] = not grew
    print(json.dumps({k: v for k, v in result.items() if k != "series"}))
    path = write_result(args.results_dir, "retention-soak", result, stamp)
    print(f"retention_soak: results in {path}", file=sys.stderr)
    if args.record:
        with DOC.open("a", encoding="utf-8") as doc:
            doc.write(markdown(result))
        print(f"retention_soak: section appended to {DOC}", file=sys.stderr)
    if grew:
        print(f"retention_soak: still growing: {grew}", file=sys.stderr)
        return 1
    return 0


async def run(server: str, args: argparse.Namespace) -> dict[str, Any]:
    conn = await asyncpg.connect(server)
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    out = await soak(server, args)
    n = len(out["series"])
    picks = sorted({1, max(1, n // 4), max(1, n // 2), max(1, 3 * n // 4), n})
    return {
        "args": vars(args) | {"results_dir": str(args.results_dir)},
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "postgres": pg_version,
        "drain_s": out["drain_s"],
        "retention_s": out["retention_s"],
        "sample_days": picks,
        "level": level_check(out["series"], args.window_days),
        "series": out["series"],
    }


if __name__ == "__main__":
    raise SystemExit(main())
