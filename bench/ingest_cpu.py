"""CPU per webhook, without sockets: the app's ASGI callable driven in-process.

``bench/ingest.py`` measures req/s through uvicorn and wrk; on a shared 2-core machine those
figures move with whatever else runs (the server waits for a CPU as long as it runs). This
script takes the network, uvicorn and the load generator out and reports the process's own CPU
time per request (``time.process_time``), for a plain FastAPI hello-world and for the webhook
(new events, duplicates) with the real database, group commit and all. It is the figure that
says whether a change to the request path made it cheaper.

    python bench/ingest_cpu.py [--requests 20000] [--concurrency 64]

Uses DATABASE_URL's server when set (a scratch database is created and dropped), else an
embedded PostgreSQL. Prints JSON and writes it to ``results/ingest_cpu-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from common import RESULTS, utc_stamp, write_result
from ingest import SAMPLE, _admin, prepare_database

REPLYDESK = [sys.executable, "-m", "replydesk"]
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def drive(
    app: App, method: str, path: str, query: bytes, body: bytes, n: int, concurrency: int
) -> dict[str, int]:
    """``n`` requests, ``concurrency`` at a time; ``__ID__`` in the body is the request's
    number (unique events), or the body is sent as is (duplicates)."""
    statuses: dict[str, int] = {}
    numbers = iter(range(n))

    async def one(i: int) -> None:
        payload = body.replace(b"__ID__", str(i).encode())
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the request runs
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                key = str(message["status"])
                statuses[key] = statuses.get(key, 0) + 1

        headers = [(b"host", b"bench")]
        if method == "POST":
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        await app(scope, receive, send)

    async def client() -> None:
        for i in numbers:
            await one(i)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return statuses


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from fastapi import FastAPI

    from replydesk.app import create_app
    from replydesk.core.settings import Settings

    hello = FastAPI()

    @hello.get("/hello")
    async def _hello() -> dict[str, str]:
        return {"hello": "world"}

    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env["DATABASE_URL"] = url
    created = subprocess.run(
        [*REPLYDESK, "workspace", "create", "Bench", "--owner-email", "b@example.com", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    ws = json.loads(created.stdout)
    app = create_app(Settings(database_url=url), worker=False)
    template = SAMPLE.read_text().replace('"id": 88001', '"id": __ID__').encode()
    path = f"/webhooks/emailbison/{ws['workspace_id']}"
    query = f"token={ws['webhook_token']}".encode()
    n, c = args.requests, args.concurrency
    scenarios: list[tuple[str, App, str, str, bytes, bytes]] = [
        ("hello", hello, "GET", "/hello", b"", b""),
        ("ingest_new", app, "POST", path, query, template.replace(b"__ID__", b"1__ID__")),
        ("ingest_duplicate", app, "POST", path, query, template.replace(b"__ID__", b"2")),
    ]
    results: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        # Warm-up: imports, pool connections, prepared statements, caches.
        warm = min(2000, n)
        await drive(hello, "GET", "/hello", b"", b"", warm, c)
        await drive(app, "POST", path, query, template.replace(b"__ID__", b"9__ID__"), warm, c)
        for name, target, method, p, q, body in scenarios:
            cpu, wall = time.process_time(), time.perf_counter()
            statuses = await drive(target, method, p, q, body, n, c)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            results[name] = {
                "cpu_us_per_request": round(cpu / n * 1e6, 1),
                "wall_req_per_s": round(n / wall),
                "statuses": statuses,
            }
    hello_cpu = results["hello"]["cpu_us_per_request"]
    for r in results.values():
        r["cpu_vs_hello"] = round(r["cpu_us_per_request"] / hello_cpu, 2)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="CPU per webhook request, in-process")
    parser.add_argument("--requests", type=int, default=20000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS, help="where the run's JSON file goes"
    )
    args = parser.parse_args()

    import uvloop

    from replydesk.core.logging import configure_logging

    configure_logging("warning", stream=sys.stderr)
    stamp = utc_stamp()
    load_before = round(os.getloadavg()[0], 2)
    with ExitStack() as scratch:
        db = prepare_database(scratch)
        try:
            results = uvloop.run(measure(db.url, args))
        finally:
            if db.admin_url:
                name = db.url.rsplit("/", 1)[1].split("?", 1)[0]
                _admin(db.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report = {
        "requests_per_scenario": args.requests,
        "concurrency": args.concurrency,
        "load_average_1m": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "results": results,
    }
    print(json.dumps(report, indent=2))
    print(
        f"ingest_cpu: results in {write_result(args.results_dir, 'ingest_cpu', report, stamp)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
