"""Incident drill: replay the 18:13 EmailBison burst against ReplyDesk in production shape.

    make drill                                  # default: 10,000 deliveries, no faults
    make drill DRILL_ARGS="--kill-worker"
    make drill DRILL_ARGS="--db-outage 10"
    make drill DRILL_ARGS="--slow-db"
    make drill DRILL_ARGS="--rolling-restart --events 3000 --rate 150"
    make drill DRILL_ARGS="--hosts 2"             # processes over two network namespaces (root)
    make drill DRILL_ARGS="--one-process --events 18000 --rate 300"   # `make run`, 60 s stream
    make drill DRILL_ARGS="--ai ok"; make drill DRILL_ARGS="--ai hang"  # a hanging AI, side by side
    make drill DRILL_ARGS="--pooler-url postgresql://postgres@127.0.0.1:6432/postgres"

Prints one JSON summary and writes it to ``results/drill-<UTC>.json`` (untracked);
``--record`` also appends a row to docs/benchmarks.md. Uses DATABASE_URL's server when set,
else an embedded PostgreSQL in a /tmp/replydesk-drill-* folder; that folder and the processes'
log folder are deleted on exit (``--keep-logs`` keeps the logs under results/).
Exit status 0 only when every consistency check passed.
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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg

from common import (
    DOC,
    add_output_args,
    embedded_server,
    proc_cpu_s,
    scratch_database,
    scratch_dir,
    sigterm_like_ctrl_c,
    utc_stamp,
    write_result,
)
from drill.ai import AiEndpoint
from drill.checks import (
    api_counts,
    api_requires_attention_listed,
    busy_items,
    consistency,
    db_figures,
    events_busy,
)
from drill.faults import Faults
from drill.hosts import HostNetwork
from drill.load import ms, percentile, poll_inbox, send_burst, windows
from drill.metrics import scrape
from drill.report import append_row
from drill.services import Services, child_pids, free_port, stop_leftovers
from drill.traffic import build_plan
from replydesk.core.db import with_database
from replydesk.core.logging import configure_logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--events", type=int, default=10_000, help="deliveries in the burst")
    p.add_argument("--leads", type=int, default=2_000, help="distinct people")
    p.add_argument("--duplicates", type=float, default=0.2, help="share of re-deliveries")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent senders")
    p.add_argument("--apis", type=int, default=2, help="API processes")
    p.add_argument("--workers", type=int, default=2, help="worker processes")
    p.add_argument("--worker-concurrency", type=int, default=4)
    p.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="CPU niceness of worker processes: on one box, answering providers comes first",
    )
    p.add_argument(
        "--one-process",
        action="store_true",
        help="the default `replydesk serve` (`make run`): one API process with its worker "
        "(REPLYDESK_SERVE_WORKER: a child process, or inline), no separate worker processes "
        "(--apis/--workers ignored); with --rate for a sustained load",
    )
    p.add_argument(
        "--ai",
        choices=("none", "ok", "hang"),
        default="none",
        help="ok: every process uses the simulator's OpenAI API (categorising and drafting the "
        "burst's replies); hang: its Responses calls hang until the events are processed",
    )
    p.add_argument("--kill-worker", action="store_true", help="SIGKILL a worker mid-drain")
    p.add_argument("--db-outage", type=float, default=0.0, metavar="S", help="DB away S seconds")
    p.add_argument("--slow-db", action="store_true", help="+50 ms on every database round trip")
    p.add_argument(
        "--rolling-restart",
        action="store_true",
        help="SIGTERM and restart each API, then each worker process, in turn, under load "
        "(the sender models a load balancer with health checks: docs/runbook.md)",
    )
    p.add_argument("--rate", type=float, default=0.0, help="deliveries per second (0: all at once)")
    p.add_argument("--no-spool", action="store_true", help="API processes without the outage spool")
    p.add_argument(
        "--hosts",
        type=int,
        default=1,
        metavar="N",
        help="spread API and worker processes over N network namespaces (needs root)",
    )
    p.add_argument(
        "--pooler-url",
        metavar="URL",
        help="API and worker processes reach the database through this transaction-mode "
        "pooler (e.g. PgBouncer on :6432 in front of DATABASE_URL's server)",
    )
    p.add_argument("--drain-timeout", type=float, default=600.0)
    p.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs under results/"
    )
    add_output_args(p, noop_flags=["--no-record"])
    return p.parse_args(argv)


async def wait_drained(services: Services, timeout: float) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    direct = services.direct_url or services.database_url
    while True:
        # A cheap poll first (one query, in this process) until nothing is pending or running;
        # then the full `queue stats` (spool included) confirms it.
        try:
            if await busy_items(direct) and time.monotonic() - started <= timeout:
                await asyncio.sleep(0.25)
                continue
        except (OSError, asyncpg.PostgresError):  # the --db-outage proxy is not in this path
            pass
        stats = await asyncio.to_thread(services.queue_stats)
        events = stats.get("webhook_events", {})
        jobs = stats.get("jobs", {})
        spooled = stats.get("spool", {}).get("pending_records", 0)
        if (
            not events.get("pending")
            and not events.get("running")
            and not jobs.get("running")
            and not spooled
        ):
            return time.monotonic() - started, stats
        if time.monotonic() - started > timeout:
            return time.monotonic() - started, stats
        await asyncio.sleep(0.25)


async def supervise(services: Services, stop: asyncio.Event) -> None:
    while not stop.is_set():
        services.revive_workers()
        services.sample_rss()
        await asyncio.sleep(0.5)
    services.sample_rss()


async def scrape_safely(port: int) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(scrape, port)
    except OSError as exc:  # the scrape must not end the drill
        return {"error": type(exc).__name__}


async def scrape_later(port: int, delay_s: float, into: dict[str, Any]) -> None:
    await asyncio.sleep(delay_s)
    into["outage"] = await scrape_safely(port)


async def drill(
    args: argparse.Namespace, direct_url: str, log_dir: Path, logs_kept: bool
) -> dict[str, Any]:
    faults = Faults(direct_url, latency_s=0.05 if args.slow_db else 0.0)
    process_url = await faults.start() if (args.slow_db or args.db_outage) else direct_url
    if args.pooler_url:
        process_url = with_database(args.pooler_url, urlsplit(direct_url).path.lstrip("/"))
    services = Services(
        process_url,
        log_dir,
        direct_url=direct_url,
        pooled=bool(args.pooler_url),
        data_dir=log_dir / "data",
        spool=not args.no_spool,
    )
    ai = AiEndpoint(log_dir) if args.ai != "none" else None
    if ai is not None:
        await asyncio.to_thread(ai.start)
        services.extra_env.update(ai.env())
    network = HostNetwork(args.hosts) if args.hosts > 1 else None
    if network is not None:
        network.create()
        services.network = network
        services.planned_api_ports = [free_port() for _ in range(args.apis)]
        await network.start_forwarders(process_url, services.planned_api_ports)
    try:
        # In a thread: the proxies run on this event loop and must keep forwarding.
        await asyncio.to_thread(
            services.start,
            1 if args.one_process else args.apis,
            0 if args.one_process else args.workers,
            args.worker_concurrency,
            args.worker_nice,
            in_process_worker=args.one_process,
        )
    except BaseException:
        await _stop_network(network)
        if ai is not None:
            ai.stop()
        raise
    try:
        created = json.loads(
            services.cli(
                "workspace", "create", "Drill", "--owner-email", "ops@drill.example", "--json"
            )
        )
        ws, hook_token, api_token = (
            created["workspace_id"],
            created["webhook_token"],
            created["api_token"],
        )
        plan = build_plan(args.events, args.leads, args.duplicates)
        stop_polling = asyncio.Event()
        poller = asyncio.create_task(poll_inbox(services.api_ports[0], ws, api_token, stop_polling))
        stop_supervising = asyncio.Event()
        supervisor = asyncio.create_task(supervise(services, stop_supervising))
        fault_tasks = []
        if args.kill_worker:
            fault_tasks.append(asyncio.create_task(faults.kill_worker_later(services, 0, 2.0, 5.0)))
        if args.db_outage:
            fault_tasks.append(asyncio.create_task(faults.outage_later(1.0, args.db_outage)))
        if args.rolling_restart:
            fault_tasks.append(asyncio.create_task(faults.rolling_restart_later(services, 2.0)))
        burst_over = asyncio.Event()
        events_done = asyncio.create_task(_events_processed_at(direct_url, burst_over))
        if ai is not None and args.ai == "hang":
            await asyncio.to_thread(ai.hang)
            fault_tasks.append(asyncio.create_task(_release_after(events_done, ai)))
        port = services.api_ports[-1]
        scrapes: dict[str, Any] = {"start": await scrape_safely(port)}
        if args.db_outage:
            # Halfway through the outage (it starts 1 s into the burst).
            fault_tasks.append(
                asyncio.create_task(scrape_later(port, 1.0 + args.db_outage / 2, scrapes))
            )
        burst = await send_burst(
            plan.deliveries,
            services.api_ports,
            ws,
            hook_token,
            args.concurrency,
            rate=args.rate,
        )
        burst_over.set()
        burst_s = burst.finished - burst.started
        scrapes["burst"] = await scrape_safely(port)
        if ai is not None and args.ai == "hang":  # the hung jobs hold worker slots till then
            await fault_tasks[-1]
        _, stats = await wait_drained(services, args.drain_timeout)
        drained_at = time.monotonic()
        events_done_at = await events_done
        stop_polling.set()
        polled = await poller
        for task in fault_tasks:
            await task
        stop_supervising.set()
        await supervisor
        scrapes["drained"] = await scrape_safely(port)
        figures = await db_figures(direct_url, ws)
        # CPU the worker processes used (events and their jobs), while they still run; in
        # --one-process mode serve's worker child (or the API itself, with an inline worker).
        if args.one_process:
            worker_pids = child_pids(services.apis[0].pid) or [services.apis[0].pid]
        else:
            worker_pids = [p.pid for p in services.workers if p is not None]
        worker_cpu_s = sum(proc_cpu_s(pid) for pid in worker_pids)
        # First receipt to last processed, from the rows' own timestamps: exact, unlike the
        # polling loop (each `queue stats` call is a new process).
        drain_s = float(figures["drain_seconds"] or 0.0)
        counts = await api_counts(services.api_ports[0], ws, api_token)
        listed = await api_requires_attention_listed(services.api_ports[0], ws, api_token)
        check = consistency(plan, counts, listed, figures, stats)
        non_2xx = sum(n for status, n in burst.statuses.items() if not 200 <= status < 300)
        return {
            "mode": faults.mode(args),
            "events_sent": len(plan.deliveries),
            "distinct_events": plan.distinct_events,
            "non_2xx_final": non_2xx,
            "attempts_by_status": {str(k): v for k, v in sorted(burst.attempt_statuses.items())},
            "transport_errors": burst.transport_errors,
            "failovers": burst.failovers,
            "spool": stats.get("spool"),
            "answers_503": len(burst.unavailable_latencies),
            "answer_503_max_ms": ms(max(burst.unavailable_latencies, default=None)),
            "answer_max_ms": ms(max(burst.latencies, default=None)),
            "ingest_p50_ms": ms(percentile(burst.latencies, 0.50)),
            "ingest_p99_ms": ms(percentile(burst.latencies, 0.99)),
            "ingest_by_10s": windows(burst),
            "burst_seconds": round(burst_s, 2),
            "ingest_rps": round(len(burst.latencies) / burst_s, 1) if burst_s else None,
            "drain_seconds": round(drain_s, 2),
            "database_mb": float(figures["database_mb"]),
            "drain_events_per_s": round(plan.distinct_events / drain_s, 1) if drain_s else None,
            "worker_cpu_s": round(worker_cpu_s, 2),
            "worker_cpu_ms_per_event": round(worker_cpu_s * 1000 / plan.distinct_events, 3),
            "counts_p50_ms": ms(percentile(polled.counts_latencies, 0.50)),
            "counts_p95_ms": ms(percentile(polled.counts_latencies, 0.95)),
            # The same p95 per phase: the burst; then until every event is processed (with
            # --ai hang the AI is released then); then until the jobs are drained too.
            "counts_p95_by_phase_ms": {
                "burst": ms(polled.counts_p95_between(burst.started, burst.finished)),
                "events": ms(polled.counts_p95_between(burst.finished, events_done_at)),
                "jobs": ms(polled.counts_p95_between(events_done_at, drained_at)),
            },
            "list_p95_ms": ms(percentile(polled.list_latencies, 0.95)),
            "poll_errors": polled.errors,
            "queue_stats": stats,
            # GET /metrics of one API process (every process's series): start, end of the
            # burst, halfway through an outage, drained.
            "metrics": scrapes,
            "consistency": check,
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "postgres": await faults.server_version(),
            },
            # Peak RSS of one API process and one worker process (the highest of each role);
            # targets (issue 14): API < 150 MB, worker < 200 MB.
            "peak_rss_mb": {
                role: round(kb / 1024, 1) for role, kb in sorted(services.peak_rss_kb.items())
            },
            "ai_responses_calls": await asyncio.to_thread(ai.calls) if ai is not None else None,
            "worker_restarts": faults.restarts,
            "workers_revived": services.revived,
            "pooler": "transaction" if args.pooler_url else None,
            "hosts": args.hosts,
            "shape": {
                "one_process": args.one_process,
                "apis": 1 if args.one_process else args.apis,
                "workers": 0 if args.one_process else args.workers,
                "worker_concurrency": args.worker_concurrency,
                "worker_nice": args.worker_nice,
                "concurrency": args.concurrency,
            },
            "logs": str(log_dir) if logs_kept else None,
        }
    finally:
        await asyncio.to_thread(services.stop)
        await faults.stop()
        await _stop_network(network)
        if ai is not None:
            ai.stop()


async def _events_processed_at(database_url: str, burst_over: asyncio.Event) -> float:
    """When every webhook event was processed after the burst (monotonic; every 0.25 s)."""
    await burst_over.wait()
    while await events_busy(database_url):
        await asyncio.sleep(0.25)
    return time.monotonic()


async def _release_after(events_done: asyncio.Task[float], ai: AiEndpoint) -> None:
    """``--ai hang``: the AI answers nothing until every webhook event is processed."""
    await events_done
    await asyncio.to_thread(ai.release)


async def _stop_network(network: HostNetwork | None) -> None:
    if network is not None:
        await network.stop_forwarders()
        network.destroy()


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        print("drill: interrupted; servers stopped, scratch folders deleted", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    if args.pooler_url and (args.slow_db or args.db_outage):
        print("drill: --pooler-url cannot be combined with --slow-db/--db-outage", file=sys.stderr)
        return 2
    # Our own log lines (the embedded server starting) must not mix with the JSON summary.
    configure_logging("warning", stream=sys.stderr)
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    with ExitStack() as scratch:  # stops the embedded server, deletes folders, on any exit
        server_url = os.environ.get("DATABASE_URL")
        direct_url = (
            scratch.enter_context(scratch_database(server_url, "rd_drill_"))
            if server_url
            else scratch.enter_context(embedded_server("replydesk-drill-"))
        )
        # Registered after the database: on any exit the processes stop before it is dropped.
        scratch.callback(stop_leftovers)
        if args.keep_logs:
            log_dir = args.results_dir / f"drill-{stamp}-logs"
            log_dir.mkdir(parents=True)
        else:
            log_dir = scratch.enter_context(scratch_dir("replydesk-drill-logs-"))
        summary = asyncio.run(drill(args, direct_url, log_dir, args.keep_logs))
    print(json.dumps(summary, indent=2))
    path = write_result(args.results_dir, "drill", summary, stamp)
    print(f"drill: results in {path}", file=sys.stderr)
    if args.record:
        append_row(DOC, summary)
        print(f"drill: row appended to {DOC}", file=sys.stderr)
    ok = summary["consistency"]["ok"]
    if not ok and not args.keep_logs:
        print("drill: consistency check failed; --keep-logs keeps the logs", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
