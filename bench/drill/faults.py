"""Fault injection for the drill: a TCP proxy in front of PostgreSQL, and worker kills."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg

from drill.services import Services
from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy


class Faults:
    """Every process reaches PostgreSQL through one proxy when a DB fault is asked for.

    ``--slow-db`` adds 25 ms each way (50 ms per round trip). ``--db-outage S`` makes the proxy
    close every connection and refuse new ones for S seconds: from the application's side that
    is PostgreSQL stopping and coming back (connections reset, connects refused).
    """

    def __init__(self, direct_url: str, latency_s: float = 0.0) -> None:
        self.direct_url = direct_url
        self.latency_s = latency_s
        self.proxy: TcpProxy | None = None
        self.restarts = 0
        self.outage_started_at: float | None = None

    async def start(self) -> str:
        self.proxy = await TcpProxy(
            pg_target(self.direct_url), latency_s=self.latency_s / 2
        ).start()
        return url_via_proxy(self.direct_url, "127.0.0.1", self.proxy.port)

    async def stop(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()

    def mode(self, args: argparse.Namespace) -> str:
        parts = []
        if args.kill_worker:
            parts.append("kill-worker")
        if args.db_outage:
            parts.append(f"db-outage {args.db_outage:g}s")
        if args.slow_db:
            parts.append("slow-db")
        if getattr(args, "rolling_restart", False):
            parts.append("rolling-restart")
        if getattr(args, "ai", "none") != "none":
            parts.append(f"ai-{args.ai}")
        return "+".join(parts) or "default"

    async def outage_later(self, after_s: float, duration_s: float) -> None:
        assert self.proxy is not None
        await asyncio.sleep(after_s)
        self.proxy.drop()
        await asyncio.sleep(duration_s)
        self.proxy.resume()

    async def rolling_restart_later(self, services: Services, after_s: float) -> None:
        """Restart every API process, then every worker, one at a time, under load."""
        await asyncio.sleep(after_s)
        for i in range(len(services.apis)):
            await asyncio.to_thread(services.restart_api, i)
            self.restarts += 1
        for i in range(len(services.workers)):
            await asyncio.to_thread(services.restart_worker, i)
            self.restarts += 1

    async def kill_worker_later(
        self, services: Services, index: int, after_s: float, restart_after_s: float
    ) -> None:
        await asyncio.sleep(after_s)
        await asyncio.to_thread(services.kill_worker, index)
        await asyncio.sleep(restart_after_s)
        services.workers[index] = services.start_worker(index)
        self.restarts += 1

    async def server_version(self) -> Any:
        conn = await asyncpg.connect(self.direct_url)
        try:
            return await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
