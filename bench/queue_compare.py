"""No-op job throughput of four queues on this machine, side by side (decision 0013):
ours (PostgreSQL, jobs table), pgqueuer and procrastinate (PostgreSQL), and Celery on
RabbitMQ.

    python bench/queue_compare.py [--jobs 5000] [--concurrency 8] [--only ours,pgqueuer,…]
        [--amqp amqp://guest:guest@127.0.0.1:5672//] [--url postgresql://…/postgres] [--record]

Every queue is filled first, then drained by one worker process; the time is from the
worker's start until the last job ran (Celery: from its first task to its last, as its
worker reports them; its boot is not counted). Each PostgreSQL queue gets a fresh scratch
database. pgqueuer, procrastinate and Celery are bench extras (``pip install -e '.[bench]'``),
not runtime dependencies; a queue whose library or broker is missing is reported as skipped.

Prints one JSON object, writes ``results/queue-compare-<UTC>.json``; ``--record`` appends a
section to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import asyncpg

from common import DOC, add_output_args, sigterm_like_ctrl_c, utc_stamp, write_result
from queue_drain import bench_jobs, bench_pgqueuer, drop, scratch, server_url
from replydesk.core.db import with_database
from replydesk.core.logging import configure_logging

HERE = Path(__file__).resolve().parent
QUEUES = (
    "ours",
    "pgqueuer",
    "procrastinate",
    "procrastinate_async_commit",
    "celery",
    "celery_acks_late",
)


async def bench_procrastinate(
    server: str, n: int, concurrency: int, async_commit: bool
) -> dict[str, Any]:
    """``async_commit``: its connections commit with ``synchronous_commit = off``, as our
    worker does by default (REPLYDESK_WORKER_SYNCHRONOUS_COMMIT)."""
    import procrastinate

    url = await scratch(server)
    try:
        kwargs: dict[str, Any] = {"conninfo": url}
        if async_commit:
            kwargs["kwargs"] = {"options": "-c synchronous_commit=off"}
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(**kwargs))
        done = 0

        @app.task(name="bench.noop")
        async def noop() -> None:
            nonlocal done
            done += 1

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for start in range(0, n, 1000):
                await noop.batch_defer_async(*([{}] * min(1000, n - start)))
            t0 = time.perf_counter()
            # wait=False: the worker stops once the queue is empty.
            await app.run_worker_async(
                concurrency=concurrency, wait=False, install_signal_handlers=False
            )
            seconds = time.perf_counter() - t0
        assert done == n, done
        return {
            "jobs": n,
            "concurrency": concurrency,
            "synchronous_commit": not async_commit,
            "seconds": round(seconds, 3),
            "jobs_per_s": round(n / seconds, 1),
        }
    finally:
        await drop(url)


def bench_celery(amqp: str, n: int, concurrency: int, acks_late: bool) -> dict[str, Any]:
    from kombu import Connection

    import celery_noop

    queue = f"bench_noop_{os.getpid()}_{int(acks_late)}"
    env = {
        **os.environ,
        "BENCH_AMQP_URL": amqp,
        "BENCH_TASKS": str(n),
        "BENCH_QUEUE": queue,
        "BENCH_ACKS_LATE": "1" if acks_late else "0",
        "PYTHONPATH": str(HERE),
    }
    celery_noop.app.conf.broker_url = amqp
    celery_noop.app.conf.task_default_queue = queue
    with Connection(amqp) as conn:
        producer = celery_noop.app.amqp.Producer(conn)
        t0 = time.perf_counter()
        for _ in range(n):
            celery_noop.noop.apply_async(producer=producer, queue=queue)
        publish_s = time.perf_counter() - t0
    cmd = [
        sys.executable, "-m", "celery", "-A", "celery_noop", "worker", "--pool", "threads",
        "--concurrency", str(concurrency), "--loglevel", "WARNING", "--without-gossip",
        "--without-mingle", "--without-heartbeat", "-Q", queue,
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, env=env, cwd=HERE, capture_output=True, text=True, timeout=600, check=False
    )
    found = re.search(r"CELERY_DONE (\d+) ([\d.]+) ([\d.]+)", proc.stdout + proc.stderr)
    with Connection(amqp) as conn:  # leave no queue behind
        conn.default_channel.queue_delete(queue)
    if found is None:
        raise RuntimeError(f"celery worker did not finish: {proc.stderr[-2000:]}")
    count, first, last = found.groups()
    seconds = float(last) - float(first)
    return {
        "jobs": int(count),
        "concurrency": concurrency,
        "pool": "threads",
        "acks_late": acks_late,
        "publish_s": round(publish_s, 3),
        "seconds": round(seconds, 3),
        "jobs_per_s": round((int(count) - 1) / seconds, 1),
    }


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


async def measure(args: argparse.Namespace, server: str) -> dict[str, Any]:
    conn = await asyncpg.connect(with_database(server, "postgres"))
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "postgres": pg_version,
        "versions": {
            "pgqueuer": _version("pgqueuer"),
            "procrastinate": _version("procrastinate"),
            "celery": _version("celery"),
        },
        "load_before": round(os.getloadavg()[0], 2),
        "queues": {},
        "skipped": {},
    }
    for name in args.only:
        try:
            if name == "ours":
                got = await bench_jobs(server, args.jobs, args.concurrency)
            elif name == "pgqueuer":
                got = await bench_pgqueuer(server, args.jobs, args.batch_size)
            elif name.startswith("procrastinate"):
                got = await bench_procrastinate(
                    server, args.jobs, args.concurrency, name.endswith("commit")
                )
            else:
                got = await asyncio.to_thread(
                    bench_celery, args.amqp, args.jobs, args.concurrency, name.endswith("late")
                )
        except (ImportError, OSError, RuntimeError) as exc:
            result["skipped"][name] = f"{type(exc).__name__}: {exc}"[:300]
            print(f"queue_compare: {name} skipped: {exc}", file=sys.stderr)
            continue
        result["queues"][name] = got
        print(f"queue_compare: {name}: {got}", file=sys.stderr)
    result["load_after"] = round(os.getloadavg()[0], 2)
    return result


DESCRIBE = {
    "ours": "ours: `jobs` table, rows kept (status, attempts history, permanent dedupe key)",
    "pgqueuer": "pgqueuer {v}: finished jobs deleted, status updates batched",
    "procrastinate": "procrastinate {v}: jobs kept (status), fetch and finish each commit",
    "procrastinate_async_commit": "procrastinate {v}, its connections at "
    "`synchronous_commit = off` (as our worker)",
    "celery": "Celery {v} on RabbitMQ, threads pool, acks on receipt (default)",
    "celery_acks_late": "Celery {v} on RabbitMQ, threads pool, `task_acks_late`",
}


def markdown(result: dict[str, Any]) -> str:
    v = result["versions"]
    lines = [
        "",
        f"## Queue comparison: no-op jobs ({result['measured_at']})",
        "",
        f"`python bench/queue_compare.py` on {result['machine']}, PostgreSQL "
        f"{result['postgres']}, RabbitMQ on the same machine; one worker process per queue, "
        "the queue filled before the worker starts. Load average "
        f"{result['load_before']} before and {result['load_after']} after: the cores are "
        "shared, treat the figures as lower bounds and compare them with each other.",
        "",
        "| queue | jobs | settings | seconds | jobs/s |",
        "|---|---|---|---|---|",
    ]
    for name, got in result["queues"].items():
        label = DESCRIBE[name].format(v=v.get(name.split("_")[0]) or "?")
        setting = (
            f"batch_size {got['batch_size']}"
            if "batch_size" in got
            else f"concurrency {got['concurrency']}"
        )
        lines.append(
            f"| {label} | {got['jobs']} | {setting} | {got['seconds']} | {got['jobs_per_s']} |"
        )
    for name, why in result["skipped"].items():
        lines.append(f"| {name} | not measured: {why} | | | |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=10, help="pgqueuer's batch size")
    parser.add_argument("--only", type=lambda s: s.split(","), default=list(QUEUES))
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--url")
    add_output_args(parser)
    args = parser.parse_args()
    unknown = set(args.only) - set(QUEUES)
    if unknown:
        parser.error(f"unknown queue(s) {sorted(unknown)}; one of {QUEUES}")
    configure_logging("warning", stream=sys.stderr)
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    try:
        with ExitStack() as stack:
            result = asyncio.run(measure(args, server_url(args.url, stack)))
    except KeyboardInterrupt:
        print("queue_compare: interrupted", file=sys.stderr)
        return 130
    print(json.dumps(result))
    path = write_result(args.results_dir, "queue-compare", result, stamp)
    print(f"queue_compare: results in {path}", file=sys.stderr)
    if args.record:
        with DOC.open("a", encoding="utf-8") as doc:
            doc.write(markdown(result))
        print(f"queue_compare: section appended to {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
