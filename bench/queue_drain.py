"""Queue throughput on this machine: drain EMAIL_SENT events, no-op jobs, and pgqueuer no-op jobs.

    python bench/queue_drain.py [--mode drain|jobs|pgqueuer|all] [--events N] [--jobs N]
        [--concurrency C] [--url postgresql://…/postgres] [--record] [--append-doc FILE.md]

Each mode runs in a fresh scratch database (migrated), on the server of ``--url`` /
TEST_DATABASE_URL / REPLYDESK_DATABASE_URL, or an embedded PostgreSQL (in a
/tmp/replydesk-bench-* folder, deleted on exit) when none is given.
One worker process (this one), timings from the first claim until the table is drained.
Prints one JSON object and writes it to ``results/queue-drain-<UTC>.json`` (untracked);
``--record`` also appends a section to docs/benchmarks.md, ``--append-doc`` to the given file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from common import (
    DOC,
    add_output_args,
    embedded_server,
    proc_cpu_s,
    sigterm_like_ctrl_c,
    utc_stamp,
    write_result,
)
from replydesk.app import build_registry
from replydesk.auth.service import create_workspace
from replydesk.core.db import plain_url, with_database
from replydesk.core.logging import configure_logging
from replydesk.core.migrate import upgrade
from replydesk.core.settings import Settings
from replydesk.queue.queues import JOBS, WEBHOOK_EVENTS, ClaimedItem, QueueTable
from replydesk.queue.registry import Registry
from replydesk.queue.worker import Worker, worker_database


def server_url(explicit: str | None, scratch: ExitStack) -> str:
    url = (
        explicit or os.environ.get("TEST_DATABASE_URL") or os.environ.get("REPLYDESK_DATABASE_URL")
    )
    if url:
        return plain_url(url)
    return scratch.enter_context(embedded_server("replydesk-bench-"))


async def scratch(server: str) -> str:
    name = f"rd_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(with_database(server, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(server, name)
    await asyncio.to_thread(upgrade, url)
    return url


async def drop(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def email_sent(i: int, leads: int) -> dict[str, Any]:
    n = i % leads
    return {
        "event": {"type": "EMAIL_SENT", "instance_url": "https://bison.bench", "workspace_id": 1},
        "data": {
            "scheduled_email": {
                "id": i,
                "email_subject": f"Hi {n}",
                "sent_at": "2026-01-23T18:13:05Z",
            },
            "campaign_event": {"id": 10_000_000 + i, "type": "sent"},
            "lead": {"id": n, "email": f"lead{n}@bench.example", "first_name": f"L{n}"},
        },
    }


async def drain_with_worker(
    url: str,
    settings: Settings,
    registry: Registry,
    table: QueueTable,
    concurrency: int,
    cpu: dict[str, float] | None = None,
) -> float:
    """Seconds from the worker's start until ``table`` has nothing pending or running.

    With ``cpu``, also the CPU seconds spent meanwhile by this process (``worker_s``) and by
    the worker's database backends (``db_s``, from /proc: only for a server on this host):
    figures that depend less on what else the shared cores run than the wall time does."""
    db = worker_database(settings, url, concurrency)
    worker = Worker(db, registry, settings, concurrency=concurrency, tables=(table,), tasks=[])
    monitor = await asyncpg.connect(url)  # one connection: polling must not fork backends
    stopping = asyncio.Event()
    start, cpu_start = time.perf_counter(), time.process_time()
    task = asyncio.create_task(worker.run(stopping))
    try:
        sql = f"SELECT count(*) FROM {table.name} WHERE status IN ('pending', 'running')"
        while await monitor.fetchval(sql):
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - start
        if cpu is not None:
            cpu["worker_s"] = time.process_time() - cpu_start
            pids = await monitor.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'replydesk-worker'"
            )
            cpu["db_s"] = sum(proc_cpu_s(r["pid"]) for r in pids)
        return seconds
    finally:
        stopping.set()
        await task
        await monitor.close()
        await db.dispose()


async def bench_drain(server: str, n: int, leads: int, concurrency: int) -> dict[str, Any]:
    url = await scratch(server)
    try:
        settings = Settings(database_url=url)
        db = worker_database(settings, url, 1)
        async with db.session() as session:
            ws = (await create_workspace(session, "bench", "bench@bench.example")).workspace_id
        await db.dispose()
        conn = await asyncpg.connect(url)
        try:
            await conn.executemany(
                "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, "
                "payload) VALUES ($1, 'emailbison', 'EMAIL_SENT', $2, $3::jsonb)",
                [(ws, f"b:{i}", json.dumps(email_sent(i, leads))) for i in range(1, n + 1)],
            )
        finally:
            await conn.close()
        cpu: dict[str, float] = {}
        seconds = await drain_with_worker(
            url, settings, build_registry(), WEBHOOK_EVENTS, concurrency, cpu
        )
        conn = await asyncpg.connect(url)
        try:
            messages = await conn.fetchval("SELECT count(*) FROM messages")
            jobs = await conn.fetchval("SELECT count(*) FROM jobs")
        finally:
            await conn.close()
        assert messages == n and jobs == n, (messages, jobs)
        return {
            "events": n,
            "leads": leads,
            "concurrency": concurrency,
            "seconds": round(seconds, 3),
            "events_per_s": round(n / seconds, 1),
            "group_size": settings.worker_event_group_size,
            # CPU per event: this process (the worker) and its database backends.
            "worker_cpu_ms_per_event": round(cpu["worker_s"] * 1000 / n, 3),
            "db_cpu_ms_per_event": round(cpu["db_s"] * 1000 / n, 3),
        }
    finally:
        await drop(url)


async def bench_jobs(server: str, n: int, concurrency: int) -> dict[str, Any]:
    url = await scratch(server)
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO jobs (type, payload, dedupe_key) "
                "SELECT 'bench.noop', '{}'::jsonb, 'noop:' || i FROM generate_series(1, $1) i",
                n,
            )
        finally:
            await conn.close()

        async def noop(session: AsyncSession, item: ClaimedItem) -> str | None:
            return None

        registry = Registry()
        registry.add("jobs", "bench.noop", noop)
        settings = Settings(database_url=url)
        seconds = await drain_with_worker(url, settings, registry, JOBS, concurrency)
        return {
            "jobs": n,
            "concurrency": concurrency,
            "seconds": round(seconds, 3),
            "jobs_per_s": round(n / seconds, 1),
        }
    finally:
        await drop(url)


async def bench_pgqueuer(server: str, n: int, batch_size: int) -> dict[str, Any]:
    from pgqueuer import AsyncpgDriver, PgQueuer, Queries
    from pgqueuer.models import Job
    from pgqueuer.types import QueueExecutionMode

    url = await scratch(server)
    try:
        conn = await asyncpg.connect(url)
        try:
            driver = AsyncpgDriver(conn)
            queries = Queries(driver)
            await queries.install()
            for start in range(0, n, 1000):
                size = min(1000, n - start)
                await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
            pgq = PgQueuer(driver)
            done = 0

            @pgq.entrypoint("noop")
            async def noop(job: Job) -> None:
                nonlocal done
                done += 1

            t0 = time.perf_counter()
            await pgq.run(batch_size=batch_size, mode=QueueExecutionMode.drain)
            seconds = time.perf_counter() - t0
        finally:
            await conn.close()
        assert done == n, done
        return {
            "jobs": n,
            "batch_size": batch_size,
            "seconds": round(seconds, 3),
            "jobs_per_s": round(n / seconds, 1),
        }
    finally:
        await drop(url)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "",
        f"## Queue throughput ({result['measured_at']})",
        "",
        f"`python bench/queue_drain.py --mode {result['mode']}` on {result['machine']}, "
        f"PostgreSQL {result['postgres']}; one worker process, fresh database per mode. "
        f"Load average {result['load_before']} before and {result['load_after']} after the "
        "run: the cores are shared with other work, so treat these as lower bounds.",
        "",
        "| what | items | settings | seconds | items/s |",
        "|---|---|---|---|---|",
    ]
    if "drain" in result:
        d = result["drain"]
        lines.append(
            f"| EMAIL_SENT events → leads/messages/rollups/follow-up job (ours) | {d['events']} "
            f"| concurrency {d['concurrency']}, {d['leads']} leads | {d['seconds']} "
            f"| {d['events_per_s']} |"
        )
    if "jobs" in result:
        j = result["jobs"]
        lines.append(
            f"| no-op jobs (ours) | {j['jobs']} | concurrency {j['concurrency']} "
            f"| {j['seconds']} | {j['jobs_per_s']} |"
        )
    if "pgqueuer" in result:
        q = result["pgqueuer"]
        lines.append(
            f"| no-op jobs (pgqueuer {result.get('pgqueuer_version', '?')}) | {q['jobs']} "
            f"| batch_size {q['batch_size']} | {q['seconds']} | {q['jobs_per_s']} |"
        )
    lines += [
        "",
        "Ours keeps every row (permanent dedupe keys, status history) and commits each item "
        "in its own transaction with its domain writes; pgqueuer deletes finished jobs and "
        "batches status updates.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=["drain", "jobs", "pgqueuer", "all"], default="all")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--leads", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--url")
    parser.add_argument("--append-doc", metavar="FILE.md", help="also append a section to FILE.md")
    add_output_args(parser)
    args = parser.parse_args()
    configure_logging("warning", stream=sys.stderr)  # stdout is the JSON result
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    try:
        with ExitStack() as scratch:  # stops the embedded server, deletes its folder, on any exit
            result = asyncio.run(measure(args, server_url(args.url, scratch)))
    except KeyboardInterrupt:
        print("queue_drain: interrupted; scratch databases and folders removed", file=sys.stderr)
        return 130
    print(json.dumps(result))
    path = write_result(args.results_dir, "queue-drain", result, stamp)
    print(f"queue_drain: results in {path}", file=sys.stderr)
    docs = [DOC] if args.record else []
    if args.append_doc and Path(args.append_doc).resolve() not in docs:
        docs.append(Path(args.append_doc).resolve())
    for doc_path in docs:
        header = "" if doc_path.exists() and doc_path.stat().st_size else "# Benchmarks\n"
        with doc_path.open("a", encoding="utf-8") as doc:
            doc.write(header + markdown(result))
        print(f"queue_drain: section appended to {doc_path}", file=sys.stderr)
    return 0


async def measure(args: argparse.Namespace, server: str) -> dict[str, Any]:
    conn = await asyncpg.connect(with_database(server, "postgres"))
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    result: dict[str, Any] = {
        "mode": args.mode,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "postgres": pg_version,
        "load_before": round(os.getloadavg()[0], 2),
    }
    if args.mode in ("drain", "all"):
        result["drain"] = await bench_drain(server, args.events, args.leads, args.concurrency)
    if args.mode in ("jobs", "all"):
        result["jobs"] = await bench_jobs(server, args.jobs, args.concurrency)
    if args.mode in ("pgqueuer", "all"):
        from importlib.metadata import version

        result["pgqueuer_version"] = version("pgqueuer")
        result["pgqueuer"] = await bench_pgqueuer(server, args.jobs, args.batch_size)
    result["load_after"] = round(os.getloadavg()[0], 2)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
