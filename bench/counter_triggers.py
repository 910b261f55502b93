"""What the inbox counter triggers (migration 0014) cost a writer of ``leads``.

    .venv/bin/python bench/counter_triggers.py [--leads 20000] [--rounds 10] [--block 200]

In a scratch database (migrated; the server of ``--url`` / TEST_DATABASE_URL, else an
embedded PostgreSQL in a /tmp folder; dropped at the end) with one workspace of ``--leads``
leads (a third awaiting a reply), times, each in autocommit (one statement = one
transaction, like a worker step):

- ``noop``: a one-row UPDATE that moves no lead in or out (``open_count + 1``),
- ``move``: a one-row UPDATE that moves a lead in or out (status closed <-> active),
- ``group``: a 100-row UPDATE moving leads in or out (a set-based group step),

with the statement-level counter triggers enabled and disabled (ALTER TABLE … DISABLE
TRIGGER), in alternating blocks so both see the same machine load. Prints JSON (per-statement
mean and p50/p95 in ms, and the added cost) and writes ``results/counter-triggers-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import add_output_args, embedded_server, utc_stamp, write_result  # noqa: E402
from replydesk.core.db import plain_url, with_database  # noqa: E402
from replydesk.core.migrate import upgrade  # noqa: E402

TRIGGERS = ("leads_inbox_counters_update",)
STATEMENTS = {
    "noop": "UPDATE leads SET open_count = open_count + 1 WHERE id = $1",
    "move": "UPDATE leads SET status = CASE status WHEN 'closed' THEN 'active' "
    "ELSE 'closed' END WHERE id = $1",
    "group": "UPDATE leads SET status = CASE status WHEN 'closed' THEN 'active' "
    "ELSE 'closed' END WHERE id >= $1 AND id < $1 + 100",
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--leads", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=10, help="alternations of on/off blocks")
    p.add_argument("--block", type=int, default=200, help="statements per block")
    p.add_argument("--url", default=None, help="server URL (default: TEST_DATABASE_URL)")
    add_output_args(p)
    return p.parse_args()


async def seed(conn: asyncpg.Connection, leads: int) -> uuid.UUID:
    ws = uuid.uuid4()
    await conn.execute(
        "INSERT INTO workspaces (id, name, webhook_token_hash) VALUES ($1, 'bench', 'x')", ws
    )
    await conn.execute(
        """
        INSERT INTO leads (workspace_id, email, category, last_inbound_channel,
                           last_inbound_at, last_team_outbound_at, last_message_at)
        SELECT $1, 'l' || g || '@bench.example', (ARRAY['interested', NULL])[1 + g % 2],
               (ARRAY['email', 'sms', 'linkedin'])[1 + g % 3], now() - g * interval '1 min',
               CASE WHEN g % 3 <> 0 THEN now() END, now()
          FROM generate_series(1, $2::int) AS g
        """,
        ws,
        leads,
    )
    await conn.execute("VACUUM ANALYZE leads")
    return ws


async def measure(conn: asyncpg.Connection, args: argparse.Namespace) -> dict[str, Any]:
    lo, hi = await conn.fetchrow("SELECT min(id), max(id) FROM leads")
    times: dict[str, dict[str, list[float]]] = {name: {"on": [], "off": []} for name in STATEMENTS}
    prepared = {name: await conn.prepare(sql) for name, sql in STATEMENTS.items()}
    k = 0
    for _ in range(args.rounds):
        for state in ("on", "off"):
            verb = "ENABLE" if state == "on" else "DISABLE"
            for trigger in TRIGGERS:
                await conn.execute(f"ALTER TABLE leads {verb} TRIGGER {trigger}")
            for name, stmt in prepared.items():
                for _ in range(args.block):
                    k += 1
                    lead = lo + (k * 7919) % (hi - lo - 100)
                    started = time.perf_counter()
                    await stmt.fetch(lead)
                    times[name][state].append(time.perf_counter() - started)
    for trigger in TRIGGERS:
        await conn.execute(f"ALTER TABLE leads ENABLE TRIGGER {trigger}")

    def ms(values: list[float], q: float | None = None) -> float:
        if q is None:
            return round(statistics.fmean(values) * 1000, 3)
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 3)

    out: dict[str, Any] = {}
    for name, by_state in times.items():
        row = {
            state: {"n": len(v), "mean_ms": ms(v), "p50_ms": ms(v, 0.5), "p95_ms": ms(v, 0.95)}
            for state, v in by_state.items()
        }
        row["added_mean_ms"] = round(row["on"]["mean_ms"] - row["off"]["mean_ms"], 3)
        row["added_p50_ms"] = round(row["on"]["p50_ms"] - row["off"]["p50_ms"], 3)
        out[name] = row
    return out


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    name = f"rd_bench_triggers_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(with_database(url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        db_url = with_database(url, name)
        await asyncio.to_thread(upgrade, db_url)
        conn = await asyncpg.connect(db_url)
        try:
            await seed(conn, args.leads)
            results = await measure(conn, args)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "leads": args.leads,
        "rounds": args.rounds,
        "block": args.block,
        "load_avg_end": round(os.getloadavg()[0], 2),
        "results": results,
    }


def main() -> int:
    args = parse_args()
    stamp = utc_stamp()
    with ExitStack() as scratch:
        url = args.url or os.environ.get("TEST_DATABASE_URL")
        url = plain_url(url) if url else scratch.enter_context(embedded_server("rd-trig-"))
        report = asyncio.run(run(args, url))
    print(json.dumps(report, indent=2))
    path = write_result(args.results_dir, "counter-triggers", report, stamp)
    print(f"counter_triggers: results in {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
