"""Operator page response times at the bench/counts.py scale.

    .venv/bin/python bench/pages.py                       # 100k leads / 1M messages
    .venv/bin/python bench/pages.py --leads 1000000       # 1M leads / 10M messages

Uses (or seeds) the same database as ``bench/counts.py`` (``rd_bench_counts_<leads>``), signs
the big workspace's owner in through ``POST /login`` (a password is set for the bench), then
measures sequentially, through the ASGI app in-process with the session cookie:

- ``GET /w/{ws}/inbox`` (the whole page: memberships, integration health, counts, unread
  count, tags, the first 50 leads requiring attention and their unread marks),
- ``GET /w/{ws}/inbox/counts`` (the polled sidebar fragment),
- ``GET /w/{ws}/leads/{id}`` of a lead requiring attention (timeline, identities, merge
  suggestions, tags, members).

The issue's target: p95 < 100 ms for the inbox and lead pages. Prints one JSON document and
writes ``results/pages-<UTC>.json`` (untracked); ``--record`` appends a section to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from common import DOC, add_output_args, sigterm_like_ctrl_c, utc_stamp, write_result  # noqa: E402
from counts import ensure_database, facts, seed, server_url, summary, timed  # noqa: E402
from replydesk.app import create_app  # noqa: E402
from replydesk.auth.service import save_user  # noqa: E402
from replydesk.core.db import Database, with_database  # noqa: E402
from replydesk.core.logging import configure_logging  # noqa: E402
from replydesk.core.settings import Settings  # noqa: E402

OWNER = "owner@bench.example"
PASSWORD = "bench password 0123"  # noqa: S105 (a throwaway bench database)
TARGET_P95_MS = 100.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--leads", type=int, default=100_000, help="leads in the big workspace")
    p.add_argument("--small-workspaces", type=int, default=50)
    p.add_argument("--requests", type=int, default=200, help="timed requests per page")
    p.add_argument("--database-url", default=None, help="server URL (default: embedded)")
    p.add_argument("--reseed", action="store_true")
    p.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    add_output_args(p)
    args = p.parse_args(argv)
    # What bench/counts.py's seed reads; the defaults of its own options.
    args.reply_rate, args.answered_rate = 0.05, 0.6
    return args


async def attention_lead(db_url: str, ws: Any) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        lead_id: int = await conn.fetchval(
            "SELECT id FROM leads WHERE workspace_id = $1 AND awaiting_reply "
            "ORDER BY last_message_at DESC LIMIT 1",
            ws,
        )
    finally:
        await conn.close()
    return lead_id


async def measure(db_url: str, args: argparse.Namespace, f: dict[str, Any]) -> dict[str, Any]:
    settings = Settings(database_url=db_url, log_level="warning")
    database = Database.from_settings(settings)
    async with database.session() as session:
        await save_user(session, OWNER, password=PASSWORD, display_name=None, reset_password=True)
    ws = f["big"]["id"]
    lead_id = await attention_lead(db_url, ws)
    app = create_app(settings, database=database)
    results: dict[str, Any] = {"lead_id": lead_id}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 50000))
            # https: the session cookie is Secure.
            async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
                login = await client.post("/login", data={"email": OWNER, "password": PASSWORD})
                assert login.status_code == 303, login.text
                for key, url in (
                    ("inbox_page", f"/w/{ws}/inbox"),
                    ("counts_fragment", f"/w/{ws}/inbox/counts"),
                    ("lead_page", f"/w/{ws}/leads/{lead_id}"),
                ):
                    results[key] = summary(await timed(client, url, {}, args.requests))
    finally:
        await database.dispose()
    results["target_p95_ms"] = TARGET_P95_MS
    results["meets_target"] = all(
        results[k]["p95_ms"] < TARGET_P95_MS for k in ("inbox_page", "lead_page")
    )
    return results


def record(report: dict[str, Any]) -> None:
    r, d = report["results"], report["data"]
    lines = [
        "",
        f"## Operator pages — {report['when']}",
        "",
        f"`bench/pages.py {report['argv']}`: the bench/counts.py data (big workspace "
        f"{d['big_leads']:,} leads / {d['big_messages']:,} messages, "
        f"{d['requires_attention_big']:,} requiring attention). In-process ASGI app, one "
        f"sequential client, session cookie; {report['machine']}.",
        "",
        "| page | n | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("inbox_page", "`GET /w/{ws}/inbox` (whole page)"),
        ("counts_fragment", "`GET /w/{ws}/inbox/counts` (polled fragment)"),
        ("lead_page", "`GET /w/{ws}/leads/{id}` (whole page)"),
    ):
        s = r[key]
        cells = [label, s["n"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [
        "",
        f"Target p95 < {TARGET_P95_MS:g} ms (inbox, lead): met = {r['meets_target']}.",
        "",
    ]
    with DOC.open("a") as out:
        out.write("\n".join(lines))


async def run(args: argparse.Namespace, argv: list[str] | None, url: str) -> dict[str, Any]:
    name = f"rd_bench_counts_{args.leads}"
    db_url, seeded = await ensure_database(url, name, args.reseed)
    if not seeded:
        print(f"seeding {name} …", file=sys.stderr)
        await seed(db_url, args)
    f = await facts(db_url)
    print("measuring …", file=sys.stderr)
    results = await measure(db_url, args, f)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared, "
        f"load avg {os.getloadavg()[0]:.2f} at the end",
        "data": {
            "big_leads": f["big"]["leads"],
            "big_messages": f["big_messages"],
            "requires_attention_big": f["requires_attention_big"],
        },
        "argv": " ".join(argv if argv is not None else sys.argv[1:]),
        "results": results,
    }
    if args.drop:
        admin = await asyncpg.connect(with_database(url, "postgres"))
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("warning", stream=sys.stderr)  # stdout is the JSON report
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    try:
        with ExitStack() as scratch:
            url = server_url(args.database_url, args.drop, scratch)
            report = asyncio.run(run(args, argv, url))
    except KeyboardInterrupt:
        print("pages: interrupted; embedded server stopped", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2, default=str))
    path = write_result(args.results_dir, "pages", report, stamp)
    print(f"pages: results in {path}", file=sys.stderr)
    if args.record:
        record(report)
        print(f"pages: section appended to {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
