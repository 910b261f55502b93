"""Inbox counts at scale: counter-row counts vs. the backlog count and the original CTE.

    .venv/bin/python bench/counts.py                       # quick: 100k leads / 1M messages
    .venv/bin/python bench/counts.py --leads 1000000       # full: 1M leads / 10M messages

Seeds one big workspace (``--leads`` leads, 10 messages each) and ``--small-workspaces``
small ones with set-based SQL (generate_series; rollups computed from the same formula as
the messages, then checked against them), then measures, through the ASGI app in-process
with a Bearer token, sequentially (one client):

- ``GET inbox/counts`` of the big workspace (and of a small one),
- ``GET leads?filter=requires_attention`` first page and a deep page (keyset cursor),
- the counts statement alone, interleaved with the backlog count it replaced (migration
  0014: an index-only scan of ix_leads_attention, the counts query before counter rows),
- the original-style CTE over messages computing the same numbers, on the same data.

Prints one JSON document and writes it to ``results/counts-<UTC>.json`` (untracked);
``--record`` also appends a section to docs/benchmarks.md.
The seeded database is kept (``rd_bench_counts_<leads>[_r<reply%>_a<answered%>]``) and reused;
``--reseed`` rebuilds it, ``--drop`` removes it at the end. Without a server URL the database
lives in an embedded PostgreSQL under .replydesk-bench/ (git-ignored, kept for reuse; the server
is stopped on exit), or with ``--drop`` in a /tmp/replydesk-bench-* folder deleted on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import (  # noqa: E402
    DOC,
    add_output_args,
    embedded_server,
    sigterm_like_ctrl_c,
    utc_stamp,
    write_result,
)
from replydesk.app import create_app  # noqa: E402
from replydesk.auth.service import create_workspace  # noqa: E402
from replydesk.core.db import Database, plain_url, with_database  # noqa: E402
from replydesk.core.embedded import start_embedded, stop_embedded  # noqa: E402
from replydesk.core.logging import configure_logging  # noqa: E402
from replydesk.core.migrate import upgrade  # noqa: E402
from replydesk.core.settings import Settings  # noqa: E402
from replydesk.inbox import cursor as cursor_codec  # noqa: E402
from replydesk.inbox.repository import BACKLOG_COUNTS_SQL, COUNTS_SQL  # noqa: E402

MESSAGES_PER_LEAD = 10
SMALL_LEADS = 200
CHUNK = 50_000  # leads per INSERT statement (500k messages)

# Deterministic per-lead "randomness" in [0, 1): PostgreSQL's own integer hash of (g, salt).
H = "((hashint8(g * 1000 + {salt})::float8 + 2147483648) / 4294967296)"

# Per-lead parameters, shared by the leads and the messages statements.
LEAD_PARAMS = f"""
    SELECT timestamptz '2025-07-01 00:00:00+00' + {H.format(salt=1)} * interval '180 days' AS base,
           timestamptz '2025-07-01 00:00:00+00' + {H.format(salt=1)} * interval '180 days'
             + interval '14 days' + {H.format(salt=5)} * interval '2 days' AS reply_at,
           {H.format(salt=2)} < %(reply_rate)s AS replied,
           {H.format(salt=3)} < %(answered_rate)s AS answered,
           {H.format(salt=7)} < 0.2 AS rereply,
           CASE WHEN {H.format(salt=4)} < 0.6 THEN 'email'
                WHEN {H.format(salt=4)} < 0.85 THEN 'sms' ELSE 'linkedin' END AS ch,
           {H.format(salt=6)} AS h6, {H.format(salt=11)} AS h11
"""
# Message k (0..9) of a lead: campaign e-mails every 3 days; k=5 the reply (if any), k=6 the
# team's answer (if answered), k=9 a second reply after the answer for some answered leads.
MESSAGE = """
    SELECT CASE WHEN (k = 5 AND p.replied) OR (k = 6 AND p.replied AND p.answered)
                  OR (k = 9 AND p.replied AND p.answered AND p.rereply) THEN p.ch
                ELSE 'email' END AS channel,
           CASE WHEN (k = 5 AND p.replied) OR (k = 9 AND p.replied AND p.answered AND p.rereply)
                THEN 'inbound' ELSE 'outbound' END AS direction,
           CASE WHEN (k = 5 AND p.replied) OR (k = 9 AND p.replied AND p.answered AND p.rereply)
                THEN 'lead'
                WHEN k = 6 AND p.replied AND p.answered THEN 'team'
                ELSE 'campaign' END AS sent_by,
           CASE WHEN k = 5 AND p.replied THEN p.reply_at
                WHEN k = 6 AND p.replied AND p.answered THEN p.reply_at + p.h6 * interval '1 day'
                WHEN k = 9 AND p.replied AND p.answered AND p.rereply
                  THEN p.reply_at + interval '3 days' + p.h11 * interval '1 day'
                ELSE p.base + k * interval '3 days' END AS occurred_at
"""

INSERT_LEADS = f"""
INSERT INTO leads (id, workspace_id, email, first_name, last_name, company, status, category,
                   snoozed_until, last_inbound_at, last_outbound_at, last_team_outbound_at,
                   last_message_at, last_inbound_channel)
OVERRIDING SYSTEM VALUE
SELECT %(id0)s + g, %(ws)s, 'lead' || g || '@w' || %(tag)s || '.example',
       (ARRAY['Dana','Omar','Mia','Lee','Ana','Raj','Zoe','Ivan'])[1 + g % 8],
       (ARRAY['Reyes','Dane','Kim','Novak','Silva','Patel','Berg','Ito'])[1 + (g / 8) % 8],
       'Company ' || (g % 5000),
       CASE WHEN {H.format(salt=8)} < 0.02 THEN 'bounced'
            WHEN {H.format(salt=8)} < 0.03 THEN 'unsubscribed'
            WHEN {H.format(salt=8)} < 0.04 THEN 'closed' ELSE 'active' END,
       CASE WHEN NOT p.replied THEN NULL
            ELSE (ARRAY['interested','not_interested','meeting_request','out_of_office', NULL])
                 [1 + floor({H.format(salt=10)} * 5)::int] END,
       CASE WHEN {H.format(salt=9)} < 0.01 THEN now() + interval '7 days' END,
       r.last_in, r.last_out, r.last_team, r.last_at, r.last_in_channel
  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
 CROSS JOIN LATERAL ({LEAD_PARAMS}) AS p
 CROSS JOIN LATERAL (
    SELECT max(m.occurred_at) FILTER (WHERE m.direction = 'inbound') AS last_in,
           max(m.occurred_at) FILTER (WHERE m.direction = 'outbound') AS last_out,
           max(m.occurred_at) FILTER (WHERE m.sent_by IN ('team', 'ai')) AS last_team,
           max(m.occurred_at) AS last_at,
           (array_agg(m.channel ORDER BY m.occurred_at DESC, m.channel DESC)
              FILTER (WHERE m.direction = 'inbound'))[1] AS last_in_channel
      FROM generate_series(0, {MESSAGES_PER_LEAD - 1}) AS k CROSS JOIN LATERAL ({MESSAGE}) AS m
 ) AS r
"""

INSERT_MESSAGES = f"""
INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, body, occurred_at)
SELECT %(ws)s, %(id0)s + g, m.channel, m.direction, m.sent_by, 'bench message', m.occurred_at
  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
 CROSS JOIN LATERAL ({LEAD_PARAMS}) AS p
 CROSS JOIN generate_series(0, {MESSAGES_PER_LEAD - 1}) AS k
 CROSS JOIN LATERAL ({MESSAGE}) AS m
"""

# The original system's shape: a CTE + aggregation over Lead and Message per request.
ORIGINAL_CTE = """
WITH last_msgs AS (
    SELECT lead_id,
           max(occurred_at) FILTER (WHERE direction = 'inbound') AS last_in,
           max(occurred_at) FILTER (WHERE direction = 'outbound'
                                      AND sent_by IN ('team', 'ai')) AS last_team
      FROM messages WHERE workspace_id = $1 GROUP BY lead_id
), last_channel AS (
    SELECT DISTINCT ON (lead_id) lead_id, channel
      FROM messages WHERE workspace_id = $1 AND direction = 'inbound'
     ORDER BY lead_id, occurred_at DESC, channel DESC
), attention AS (
    SELECT l.id, c.channel, l.category
      FROM leads l
      JOIN last_msgs m ON m.lead_id = l.id
      LEFT JOIN last_channel c ON c.lead_id = l.id
     WHERE l.workspace_id = $1
       AND m.last_in IS NOT NULL AND (m.last_team IS NULL OR m.last_in > m.last_team)
       AND l.status NOT IN ('unsubscribed', 'closed')
       AND (l.snoozed_until IS NULL OR l.snoozed_until <= now())
)
SELECT (SELECT count(*) FROM attention) AS requires_attention,
       (SELECT coalesce(jsonb_object_agg(channel, n), '{}') FROM
          (SELECT channel, count(*) AS n FROM attention GROUP BY channel) x) AS by_channel,
       (SELECT coalesce(jsonb_object_agg(coalesce(category, 'uncategorized'), n), '{}') FROM
          (SELECT category, count(*) AS n FROM attention GROUP BY category) y) AS by_category,
       (SELECT count(*) FROM leads WHERE workspace_id = $1) AS total_leads
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--leads", type=int, default=100_000, help="leads in the big workspace")
    p.add_argument("--small-workspaces", type=int, default=50)
    p.add_argument("--reply-rate", type=float, default=0.05, help="share of leads that replied")
    p.add_argument("--answered-rate", type=float, default=0.6, help="share of replies answered")
    p.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    p.add_argument("--cte-runs", type=int, default=5, help="timed runs of the original CTE")
    p.add_argument("--deep-offset", type=int, default=10_000, help="rows before the deep page")
    p.add_argument(
        "--database-url",
        default=None,
        help="server URL (default: TEST_DATABASE_URL, else embedded)",
    )
    p.add_argument("--reseed", action="store_true")
    p.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    add_output_args(p, noop_flags=["--no-record"])
    return p.parse_args(argv)


def server_url(arg: str | None, drop: bool, scratch: ExitStack) -> str:
    url = arg or os.environ.get("TEST_DATABASE_URL")
    if url:
        return plain_url(url)
    if drop:  # nothing to keep: a throwaway server
        return scratch.enter_context(embedded_server("replydesk-bench-"))
    kept = ROOT / ".replydesk-bench"
    scratch.callback(stop_embedded, kept)
    return start_embedded(kept)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 2)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 0.50),
        "p95_ms": pct(values, 0.95),
        "p99_ms": pct(values, 0.99),
        "max_ms": round(max(values) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
    }


async def ensure_database(url: str, name: str, reseed: bool) -> tuple[str, bool]:
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and reseed:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    db_url = with_database(url, name)
    await asyncio.to_thread(upgrade, db_url)
    conn = await asyncpg.connect(db_url)
    try:
        seeded = await conn.fetchval("SELECT count(*) FROM workspaces WHERE name LIKE 'bench-%'")
    finally:
        await conn.close()
    return db_url, bool(seeded)


async def seed(db_url: str, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(database_url=db_url)
    database = Database.from_settings(settings)
    workspaces: list[dict[str, Any]] = []
    try:
        async with database.session() as session:
            big = await create_workspace(session, "bench-big", "owner@bench.example")
            smalls = [
                await create_workspace(session, f"bench-small-{i}", "owner@bench.example")
                for i in range(args.small_workspaces)
            ]
        workspaces.append({"id": big.workspace_id, "token": big.api_token, "leads": args.leads})
        workspaces += [
            {"id": s.workspace_id, "token": s.api_token, "leads": SMALL_LEADS} for s in smalls
        ]
    finally:
        await database.dispose()

    conn = await asyncpg.connect(db_url)
    started = time.monotonic()
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET statement_timeout = 0")
        await conn.execute("SET work_mem = '64MB'")
        await conn.execute("SET maintenance_work_mem = '256MB'")
        id0 = 0
        for tag, ws in enumerate(workspaces):
            for lo in range(1, ws["leads"] + 1, CHUNK):
                hi = min(ws["leads"], lo + CHUNK - 1)
                params = {
                    "ws": ws["id"],
                    "id0": id0,
                    "lo": lo,
                    "hi": hi,
                    "tag": tag,
                    "reply_rate": args.reply_rate,
                    "answered_rate": args.answered_rate,
                }
                await conn.execute(_literal(INSERT_LEADS, params))
                await conn.execute(_literal(INSERT_MESSAGES, params))
                if ws["leads"] > SMALL_LEADS:
                    done = hi / ws["leads"]
                    print(
                        f"  seeded {hi:,} leads ({done:.0%}) in {time.monotonic() - started:.0f} s",
                        file=sys.stderr,
                    )
            id0 += ws["leads"]
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('leads', 'id'), (SELECT max(id) FROM leads))"
        )
        seeded_s = time.monotonic() - started
        print("  vacuum analyze …", file=sys.stderr)
        await conn.execute("VACUUM ANALYZE leads")
        await conn.execute("VACUUM ANALYZE messages")
        await conn.execute("VACUUM ANALYZE workspace_lead_totals")
        await conn.execute("VACUUM ANALYZE inbox_counters")
        # Tokens are shown once: keep the bench ones in a side table of this bench database.
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_tokens (workspace_id uuid PRIMARY KEY, token text)"
        )
        await conn.executemany(
            "INSERT INTO bench_tokens VALUES ($1, $2)",
            [(w["id"], w["token"]) for w in workspaces],
        )
    finally:
        await conn.close()
    return {
        "seed_s": round(seeded_s, 1),
        "vacuum_s": round(time.monotonic() - started - seeded_s, 1),
    }


def _literal(sql: str, params: dict[str, Any]) -> str:
    """Inline the (trusted, numeric/uuid) parameters: one-off set-based statements."""
    for key, value in params.items():
        literal = f"'{value}'::uuid" if isinstance(value, uuid.UUID) else repr(value)
        sql = sql.replace(f"%({key})s", literal)
    return sql


async def facts(db_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT w.id, w.name, t.token, (SELECT count(*) FROM leads l "
            "WHERE l.workspace_id = w.id) AS leads FROM workspaces w "
            "JOIN bench_tokens t ON t.workspace_id = w.id ORDER BY leads DESC, w.name"
        )
        big, small = rows[0], rows[-1]
        messages = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE workspace_id = $1", big["id"]
        )
        all_messages = await conn.fetchval("SELECT count(*) FROM messages")
        attention = await conn.fetchval(
            "SELECT count(*) FROM leads WHERE workspace_id = $1 AND awaiting_reply "
            "AND status NOT IN ('unsubscribed', 'closed') "
            "AND (snoozed_until IS NULL OR snoozed_until <= now())",
            big["id"],
        )
        sizes = await conn.fetchrow(
            "SELECT pg_size_pretty(pg_database_size(current_database())) AS db, "
            "pg_size_pretty(pg_relation_size('ix_leads_attention')) AS attention_index, "
            "pg_size_pretty(pg_total_relation_size('messages')) AS messages, "
            "pg_size_pretty(pg_total_relation_size('leads')) AS leads"
        )
        plan_rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + COUNTS_SQL.text.replace(":ws", "$1"), big["id"]
        )
        return {
            "big": {"id": big["id"], "token": big["token"], "leads": big["leads"]},
            "small": {"id": small["id"], "token": small["token"], "leads": small["leads"]},
            "big_messages": messages,
            "all_messages": all_messages,
            "workspaces": len(rows),
            "requires_attention_big": attention,
            "sizes": dict(sizes),
            "counts_plan": [r[0] for r in plan_rows],
        }
    finally:
        await conn.close()


async def timed(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int
) -> list[float]:
    for _ in range(min(20, n)):
        resp = await client.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
    out = []
    for _ in range(n):
        started = time.perf_counter()
        resp = await client.get(url, headers=headers)
        out.append(time.perf_counter() - started)
        assert resp.status_code == 200, resp.text
    return out


async def deep_cursor(db_url: str, ws: uuid.UUID, offset: int) -> tuple[str | None, int]:
    conn = await asyncpg.connect(db_url)
    try:
        row = await conn.fetchrow(
            "SELECT last_message_at, id FROM leads WHERE workspace_id = $1 AND awaiting_reply "
            "AND status NOT IN ('unsubscribed', 'closed') "
            "AND (snoozed_until IS NULL OR snoozed_until <= now()) "
            "ORDER BY last_message_at DESC NULLS LAST, id DESC OFFSET $2 LIMIT 1",
            ws,
            offset,
        )
    finally:
        await conn.close()
    if row is None:
        return None, 0
    return cursor_codec.encode("leads", row["last_message_at"], row["id"]), offset


async def run_counts_sql(db_url: str, ws: uuid.UUID, runs: int) -> dict[str, list[float]]:
    """The endpoint's counts statement alone (asyncpg, prepared), without HTTP and auth, and
    the backlog count it replaced (migration 0014: the same numbers from ix_leads_attention),
    interleaved run by run so both see the same machine load."""
    conn = await asyncpg.connect(db_url)
    try:
        statements = {
            "counts_sql_only": COUNTS_SQL.text.replace(":ws", "$1"),
            "backlog_sql_only": BACKLOG_COUNTS_SQL.text.replace(":ws", "$1"),
        }
        for sql in statements.values():
            for _ in range(20):
                await conn.fetch(sql, ws)
        times: dict[str, list[float]] = {name: [] for name in statements}
        for _ in range(runs):
            for name, sql in statements.items():
                started = time.perf_counter()
                await conn.fetch(sql, ws)
                times[name].append(time.perf_counter() - started)
        return times
    finally:
        await conn.close()


async def run_original_cte(
    db_url: str, ws: uuid.UUID, runs: int
) -> tuple[list[float], dict[str, Any]]:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("SET statement_timeout = 0")
        await conn.fetchrow(ORIGINAL_CTE, ws)  # warm the cache, like the counts warm-up
        times = []
        row = None
        for _ in range(runs):
            started = time.perf_counter()
            row = await conn.fetchrow(ORIGINAL_CTE, ws)
            times.append(time.perf_counter() - started)
        assert row is not None
        result = {
            "requires_attention": row["requires_attention"],
            "by_channel": json.loads(row["by_channel"]),
            "by_category": json.loads(row["by_category"]),
            "total_leads": row["total_leads"],
        }
        return times, result
    finally:
        await conn.close()


async def measure(db_url: str, args: argparse.Namespace, f: dict[str, Any]) -> dict[str, Any]:
    settings = Settings(database_url=db_url, log_level="warning")
    database = Database.from_settings(settings)
    app = create_app(settings, database=database)
    big, small = f["big"], f["small"]
    base = "/api/v1/workspaces"
    big_h = {"Authorization": f"Bearer {big['token']}"}
    small_h = {"Authorization": f"Bearer {small['token']}"}
    cursor, offset = await deep_cursor(db_url, big["id"], args.deep_offset)
    results: dict[str, Any] = {}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                counts_url = f"{base}/{big['id']}/inbox/counts"
                api_counts = (await client.get(counts_url, headers=big_h)).json()
                results["counts_big"] = summary(
                    await timed(client, counts_url, big_h, args.requests)
                )
                results["counts_small"] = summary(
                    await timed(
                        client, f"{base}/{small['id']}/inbox/counts", small_h, args.requests
                    )
                )
                first = f"{base}/{big['id']}/leads?filter=requires_attention&limit=50"
                results["leads_first_page"] = summary(
                    await timed(client, first, big_h, args.requests)
                )
                if cursor is not None:
                    results["leads_deep_page"] = summary(
                        await timed(client, f"{first}&cursor={cursor}", big_h, args.requests)
                    )
                    results["leads_deep_page"]["offset"] = offset
    finally:
        await database.dispose()
    for name, times in (await run_counts_sql(db_url, big["id"], args.requests)).items():
        results[name] = summary(times)
    cte_times, cte_result = await run_original_cte(db_url, big["id"], args.cte_runs)
    results["original_cte"] = summary(cte_times)
    api_view = {k: api_counts[k] for k in cte_result}
    api_view["by_channel"] = {k: v for k, v in api_view["by_channel"].items() if v}
    results["counts_agree_with_cte"] = api_view == cte_result
    if not results["counts_agree_with_cte"]:
        results["mismatch"] = {"api": api_view, "cte": cte_result}
    results["api_counts"] = {k: api_counts[k] for k in ("requires_attention", "total_leads")}
    results["ratio_cte_to_counts_p50"] = round(
        results["original_cte"]["p50_ms"] / results["counts_big"]["p50_ms"], 1
    )
    results["ratio_cte_to_counts_sql_p50"] = round(
        results["original_cte"]["p50_ms"] / results["counts_sql_only"]["p50_ms"], 1
    )
    results["ratio_cte_to_counts_p95"] = round(
        results["original_cte"]["p95_ms"] / results["counts_big"]["p95_ms"], 1
    )
    return results


def record(report: dict[str, Any]) -> None:
    r, d = report["results"], report["data"]
    lines = [
        "",
        f"## Inbox counts at scale — {report['when']}",
        "",
        f"`bench/counts.py {report['argv']}`: one workspace with "
        f"{d['big_leads']:,} leads / "
        f"{d['big_messages']:,} messages, plus {d['workspaces'] - 1} workspaces of "
        f"{SMALL_LEADS} leads ({d['all_messages']:,} messages in all); "
        f"{d['requires_attention_big']:,} leads of the big workspace require attention "
        f"(reply rate {report['params']['reply_rate']}, answered "
        f"{report['params']['answered_rate']}). "
        f"In-process ASGI app, one sequential client, Bearer token; {report['machine']}.",
        "",
        "| measurement | n | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("counts_big", "`GET inbox/counts` (big workspace)"),
        ("counts_small", "`GET inbox/counts` (small workspace)"),
        ("leads_first_page", "`GET leads?filter=requires_attention` first page (50)"),
        ("leads_deep_page", "same, deep page (keyset cursor)"),
        ("counts_sql_only", "the counts statement alone (SQL only, big workspace)"),
        ("backlog_sql_only", "the backlog count it replaced (SQL only, interleaved)"),
        ("original_cte", "original-style CTE over messages (SQL only, big workspace)"),
    ):
        if key in r:
            s = r[key]
            cells = [label, s["n"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        f"Original CTE / counts endpoint: **{r['ratio_cte_to_counts_p50']}x** at p50, "
        f"**{r['ratio_cte_to_counts_p95']}x** at p95; SQL to SQL at p50: "
        f"**{r['ratio_cte_to_counts_sql_p50']}x**. Counts agree with the CTE: "
        f"{r['counts_agree_with_cte']}. Deep page offset: "
        f"{r.get('leads_deep_page', {}).get('offset', 'n/a')} rows. "
        f"Sizes: {d['sizes']}.",
        "",
    ]
    with DOC.open("a") as out:
        if out.tell() == 0:
            out.write("# Benchmarks\n")
        out.write("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("warning", stream=sys.stderr)  # stdout is the JSON report
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    try:
        with ExitStack() as scratch:  # stops the embedded server (deletes a throwaway one)
            url = server_url(args.database_url, args.drop, scratch)
            report = asyncio.run(run(args, argv, url))
    except KeyboardInterrupt:
        print("counts: interrupted; embedded server stopped", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2, default=str))
    path = write_result(args.results_dir, "counts", report, stamp)
    print(f"counts: results in {path}", file=sys.stderr)
    if args.record:
        record(report)
        print(f"counts: section appended to {DOC}", file=sys.stderr)
    return 0 if report["results"]["counts_agree_with_cte"] else 1


async def run(args: argparse.Namespace, argv: list[str] | None, url: str) -> dict[str, Any]:
    name = f"rd_bench_counts_{args.leads}"
    if (args.reply_rate, args.answered_rate) != (0.05, 0.6):
        name += f"_r{round(args.reply_rate * 100)}_a{round(args.answered_rate * 100)}"
    db_url, seeded = await ensure_database(url, name, args.reseed)
    seed_info: dict[str, Any] = {"reused": seeded}
    if not seeded:
        print(f"seeding {name} …", file=sys.stderr)
        seed_info.update(await seed(db_url, args))
    f = await facts(db_url)
    print("measuring …", file=sys.stderr)
    results = await measure(db_url, args, f)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared, "
        f"load avg {os.getloadavg()[0]:.2f} at the end, PostgreSQL server "
        + (
            "embedded"
            if not (args.database_url or os.environ.get("TEST_DATABASE_URL"))
            else "external"
        ),
        "data": {
            "big_leads": f["big"]["leads"],
            "big_messages": f["big_messages"],
            "all_messages": f["all_messages"],
            "workspaces": f["workspaces"],
            "requires_attention_big": f["requires_attention_big"],
            "sizes": f["sizes"],
            **seed_info,
        },
        "argv": " ".join(argv if argv is not None else sys.argv[1:]),
        "params": {"reply_rate": args.reply_rate, "answered_rate": args.answered_rate},
        "results": results,
        "counts_plan": f["counts_plan"],
    }
    if args.drop:
        admin = await asyncpg.connect(with_database(url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
    return report


if __name__ == "__main__":
    sys.exit(main())
