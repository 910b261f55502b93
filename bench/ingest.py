"""Ingestion benchmark: ReplyDesk's webhook endpoint beside a plain FastAPI hello-world.

Both servers run the same stack (uvicorn with its defaults: uvloop + httptools, one process,
no access log) and are driven at a fixed concurrency for a fixed time per scenario:

- ``hello``            GET /hello on a bare FastAPI app (the ceiling of the stack here);
- ``ingest_new``       POST /webhooks/emailbison/{ws}: a new EMAIL_SENT event each request
                       (the original incident's event) → 202, one INSERT each;
- ``ingest_duplicate`` the same body every time → 200 duplicate (the INSERT hits ON CONFLICT);
- ``ingest_new_without_group_commit`` as ``ingest_new`` with REPLYDESK_INGEST_GROUP_COMMIT=false
                       (one INSERT per request), to show what group commit buys.

ReplyDesk runs ``serve --no-worker``: nothing drains the queue, so only ingestion is measured.
The load generator is ``wrk`` (a Lua script makes the POST bodies) when it is installed, else
a small asyncio HTTP/1.1 client (slower: on 2 cores it competes with the server for CPU). The
fallback is announced on stderr and recorded as ``"load_generator"`` in the JSON;
``--require-wrk`` fails instead (install wrk with ``apt-get install -y wrk``). Runs are timed,
not counted: wrk cannot stop early (``thread:stop()`` still waits out ``-d``, so a
count-limited run reports a wrong rate); the output has the counts.

    python bench/ingest.py [--seconds 10] [--concurrency 64] [--require-wrk] [--record]

Uses DATABASE_URL's server when set (a scratch database is created and dropped), else an
embedded PostgreSQL in a /tmp/replydesk-bench-* folder, deleted on exit. Prints JSON and
writes it to ``results/ingest-<UTC>.json`` (untracked); ``--record`` also appends a section
to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    DOC,
    ROOT,
    add_output_args,
    embedded_server,
    scratch_dir,
    sigterm_like_ctrl_c,
    utc_stamp,
    write_result,
)

SAMPLE = ROOT / "tests" / "samples" / "emailbison" / "email_sent.json"
INSTALL_WRK = "apt-get install -y wrk"

WRK_SCRIPT = r"""
-- Unique EMAIL_SENT bodies (scheduled_email.id = thread * 1e9 + n) or one fixed body.
-- Counts statuses per thread; done() writes one JSON summary line.
local threads = {}
local template, unique
local counter = 0
statuses = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  unique = mode == "unique"
  local f = io.open(args[2], "rb"); template = f:read("*a"); f:close()
  if mode ~= "get" then wrk.headers["Content-Type"] = "application/json" end
end

function request()
  if mode == "get" then return wrk.format("GET") end
  counter = counter + 1
  local id = unique and (thread_no * 1000000000 + counter) or 1
  return wrk.format("POST", nil, nil, (template:gsub("__ID__", tostring(id))))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      merged[tostring(code)] = (merged[tostring(code)] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(merged) do table.insert(parts, string.format('"%s": %d', code, n)) end
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 (loopback)
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


# --- the hello-world server (same uvicorn call as ``replydesk serve``) ----------------------


def serve_hello(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


# --- database -----------------------------------------------------------------------------


@dataclass
class Db:
    url: str
    admin_url: str | None  # set when we created a scratch database to drop afterwards


def prepare_database(scratch: ExitStack) -> Db:
    """A scratch database; an embedded server (stopped and deleted with ``scratch``) if need be."""
    from replydesk.core.db import plain_url, with_database

    base = os.environ.get("DATABASE_URL") or os.environ.get("REPLYDESK_DATABASE_URL")
    if not base:
        base = scratch.enter_context(embedded_server("replydesk-bench-"))
    base = plain_url(base)
    name = f"rd_bench_{uuid.uuid4().hex[:10]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    return Db(with_database(base, name), base)


def _admin(url: str, sql: str) -> None:
    import asyncpg

    from replydesk.core.db import with_database

    async def run() -> None:
        conn = await asyncpg.connect(with_database(url, "postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def count_events(url: str) -> int:
    import asyncpg

    async def run() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM webhook_events"))
        finally:
            await conn.close()

    return asyncio.run(run())


def settled_count(url: str) -> int:
    """The row count once requests still in flight have landed (unchanged for 0.3 s)."""
    last = count_events(url)
    while True:
        time.sleep(0.3)
        now = count_events(url)
        if now == last:
            return now
        last = now


def start_replydesk(procs: list[subprocess.Popen[bytes]], env: dict[str, str], log: Path) -> int:
    port = free_port()
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "replydesk", "serve", "--no-worker", "--port", str(port)],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return port


# --- load generators ----------------------------------------------------------------------


def run_wrk(
    url: str, method: str, seconds: float, concurrency: int, body: str, unique: bool
) -> dict[str, Any]:
    threads = 2
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(WRK_SCRIPT)
        template = Path(tmp) / "body.json"
        template.write_text(body)
        cmd = [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            "get" if method == "GET" else ("unique" if unique else "same"),
            str(template),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return {
        "requests": raw["requests"],
        "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "socket_errors": raw["errors"],
        "statuses": raw["statuses"],
    }


async def _asyncio_load(
    host: str,
    port: int,
    path: str,
    method: str,
    seconds: float,
    concurrency: int,
    body: str,
    unique: bool,
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = itertools.count(1)
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for n in counter:
                if time.perf_counter() >= stop_at:
                    break
                payload = body.replace("__ID__", str(n if unique else 1)).encode()
                head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
                if method == "POST":
                    head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                started = time.perf_counter()
                writer.write(head.encode() + b"\r\n" + (payload if method == "POST" else b""))
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                code = status_line.split()[1].decode()
                statuses[code] = statuses.get(code, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)

    return {
        "requests": len(latencies),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2),
        "socket_errors": 0,
        "statuses": statuses,
    }


def drive(
    tool: str,
    port: int,
    path: str,
    method: str,
    seconds: float,
    concurrency: int,
    body: str = "",
    unique: bool = False,
) -> dict[str, Any]:
    if tool == "wrk":
        return run_wrk(f"http://127.0.0.1:{port}{path}", method, seconds, concurrency, body, unique)
    return asyncio.run(
        _asyncio_load("127.0.0.1", port, path, method, seconds, concurrency, body, unique)
    )


# --- main ---------------------------------------------------------------------------------


FALLBACK_WARNING = (
    "WARNING: wrk is not installed: falling back to the asyncio HTTP/1.1 load generator, which "
    "shares the CPUs with the servers and measures lower req/s than wrk would. Install wrk "
    f"({INSTALL_WRK}) for comparable figures, or pass --require-wrk to fail instead."
)


def load_generator(tool: str, require_wrk: bool) -> str:
    """``wrk`` or ``asyncio``; says so loudly when falling back, exits if wrk is required."""
    have_wrk = shutil.which("wrk") is not None
    if require_wrk and tool == "asyncio":
        raise SystemExit("ingest: --require-wrk contradicts --tool asyncio")
    if (require_wrk or tool == "wrk") and not have_wrk:
        raise SystemExit(f"ingest: wrk is required but not installed (install: {INSTALL_WRK})")
    if tool != "auto":
        return tool
    if have_wrk:
        return "wrk"
    print(FALLBACK_WARNING, file=sys.stderr)
    return "asyncio"


def main() -> int:
    parser = argparse.ArgumentParser(description="ReplyDesk ingestion vs FastAPI hello-world")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each server")
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "asyncio"],
        default="auto",
        help="load generator (auto: wrk if installed, else asyncio, with a warning)",
    )
    parser.add_argument(
        "--require-wrk", action="store_true", help="fail instead of falling back to asyncio"
    )
    add_output_args(parser, noop_flags=["--no-append"])
    parser.add_argument("--serve-hello", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_hello:
        serve_hello(args.serve_hello)
        return 0

    from replydesk.core.logging import configure_logging

    # Log lines (the embedded server starting) go to stderr: stdout is the JSON report.
    configure_logging("warning", stream=sys.stderr)
    tool = load_generator(args.tool, args.require_wrk)
    sigterm_like_ctrl_c()
    stamp = utc_stamp()
    try:
        with ExitStack() as scratch:  # stops the embedded server, deletes folders, on any exit
            report = measure(args, tool, scratch, stamp)
    except KeyboardInterrupt:
        print("ingest: interrupted; servers stopped, scratch folders deleted", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2))
    path = write_result(args.results_dir, "ingest", report, stamp)
    print(f"ingest: results in {path}", file=sys.stderr)
    if args.record:
        append_doc(report)
        print(f"ingest: section appended to {DOC}", file=sys.stderr)
    if tool == "asyncio" and args.tool == "auto":
        print(FALLBACK_WARNING, file=sys.stderr)  # again: the start has scrolled away
    return 0


def measure(args: argparse.Namespace, tool: str, scratch: ExitStack, stamp: str) -> dict[str, Any]:
    load_before = round(os.getloadavg()[0], 2)
    db = prepare_database(scratch)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env.update({"DATABASE_URL": db.url, "REPLYDESK_LOG_LEVEL": "warning"})
    procs: list[subprocess.Popen[bytes]] = []
    logs = scratch.enter_context(scratch_dir("replydesk-bench-logs-"))
    try:
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "replydesk",
                "workspace",
                "create",
                "Bench",
                "--owner-email",
                "bench@example.com",
                "--json",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        ws = json.loads(created.stdout)
        hello_port = free_port()
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--serve-hello", str(hello_port)],
                env=env,
                stdout=(logs / "hello.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        rd_port = start_replydesk(procs, env, logs / "replydesk.log")
        wait_http(f"http://127.0.0.1:{hello_port}/hello")

        template = SAMPLE.read_text().replace('"id": 88001', '"id": __ID__')
        assert "__ID__" in template
        webhook = f"/webhooks/emailbison/{ws['workspace_id']}?token={ws['webhook_token']}"
        n, c = args.seconds, args.concurrency

        def ids(prefix: str) -> str:
            # Each run's scheduled_email ids start with their own digit: runs never collide.
            return template.replace("__ID__", prefix + "__ID__")

        def ingest(port: int, body: str, unique: bool) -> dict[str, Any]:
            before = settled_count(db.url)
            result = drive(tool, port, webhook, "POST", n, c, body, unique)
            # Includes requests still in flight when wrk stopped counting.
            result["rows_stored"] = settled_count(db.url) - before
            return result

        results: dict[str, Any] = {}
        drive(tool, hello_port, "/hello", "GET", args.warmup, c)
        results["hello"] = drive(tool, hello_port, "/hello", "GET", n, c)
        drive(tool, rd_port, webhook, "POST", args.warmup, c, ids("9"), True)
        results["ingest_new"] = ingest(rd_port, ids("1"), True)
        results["ingest_duplicate"] = ingest(rd_port, ids("2"), False)
        # The same, one INSERT per request (group commit off), on a second server.
        single = start_replydesk(
            procs, {**env, "REPLYDESK_INGEST_GROUP_COMMIT": "false"}, logs / "single.log"
        )
        drive(tool, single, webhook, "POST", args.warmup, c, ids("8"), True)
        results["ingest_new_without_group_commit"] = ingest(single, ids("3"), True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if db.admin_url:
            name = db.url.rsplit("/", 1)[1].split("?", 1)[0]
            try:
                _admin(db.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # a leftover scratch database is not worth a traceback
                print(f"note: could not drop {name}: {exc}", file=sys.stderr)
        if isinstance(sys.exc_info()[1], Exception):  # a failed run: keep the servers' logs
            kept = args.results_dir / f"ingest-{stamp}-logs"
            shutil.copytree(logs, kept)
            print(f"server logs kept in {kept}", file=sys.stderr)

    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_generator": tool,
        "tool": "wrk 4.1 (2 threads; Lua script for POST bodies)"
        if tool == "wrk"
        else "asyncio HTTP/1.1 client (one process; may be the bottleneck on 2 cores)",
        "concurrency": c,
        "seconds_per_scenario": n,
        "database": "DATABASE_URL server"
        if os.environ.get("DATABASE_URL")
        else "embedded pgserver",
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "results": results,
    }


def append_doc(report: dict[str, Any]) -> None:
    rows = []
    for name, r in report["results"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        stored = r.get("rows_stored", "")
        rows.append(
            f"| {name} | {r['req_per_s']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['max_ms']:.0f} | {statuses} | {stored} |"
        )
    section = "\n".join(
        [
            f"\n## Ingestion vs. FastAPI hello-world — {report['when']}\n",
            f"`make bench` (bench/ingest.py): {report['tool']}; concurrency "
            f"{report['concurrency']}, {report['seconds_per_scenario']:g} s per scenario; "
            f"{report['database']}; {report['machine']['cpus']} CPUs shared by load generator, "
            f"server and PostgreSQL (and other work: load average "
            f"{report['load_average_1m']['before']} before, {report['load_average_1m']['after']} "
            f"after). ReplyDesk runs `serve --no-worker`; `rows_stored` counts rows that landed, "
            f"including requests still in flight when the run's clock stopped.\n",
            "| scenario | req/s | p50 ms | p99 ms | max ms | statuses | rows_stored |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\nMeasured on the development machine; each run appends.\n")
    with DOC.open("a") as fh:
        fh.write(section)


if __name__ == "__main__":
    raise SystemExit(main())
