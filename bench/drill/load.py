"""The burst sender (retries 503 like a provider) and the inbox poller."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from drill.http import Connection
from drill.traffic import Delivery


@dataclass
class SendStats:
    latencies: list[float] = field(default_factory=list)  # every answered attempt, seconds
    statuses: dict[int, int] = field(default_factory=dict)  # final status per delivery
    attempt_statuses: dict[int, int] = field(default_factory=dict)
    unavailable_latencies: list[float] = field(default_factory=list)  # 503 answers
    transport_errors: int = 0
    gave_up: int = 0
    started: float = 0.0
    finished: float = 0.0


async def send_burst(
    deliveries: list[Delivery],
    ports: list[int],
    workspace_id: str,
    token: str,
    concurrency: int,
    max_retry_s: float = 120.0,
) -> SendStats:
    stats = SendStats()
    queue: asyncio.Queue[Delivery] = asyncio.Queue()
    for d in deliveries:
        queue.put_nowait(d)
    headers = {"Content-Type": "application/json", "X-Webhook-Token": token}

    async def one(worker: int) -> None:
        conn = Connection("127.0.0.1", ports[worker % len(ports)], timeout=10)
        rng = random.Random(worker)
        try:
            while True:
                try:
                    delivery = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                path = f"/webhooks/{delivery.provider}/{workspace_id}"
                backoff, deadline = 0.2, time.monotonic() + max_retry_s
                while True:
                    t0 = time.perf_counter()
                    try:
                        resp = await conn.request("POST", path, delivery.body, headers)
                    except (TimeoutError, OSError, asyncio.IncompleteReadError):
                        stats.transport_errors += 1
                        status = -1
                    else:
                        status = resp.status
                        elapsed = time.perf_counter() - t0
                        stats.latencies.append(elapsed)
                        stats.attempt_statuses[status] = stats.attempt_statuses.get(status, 0) + 1
                        if status == 503:
                            stats.unavailable_latencies.append(elapsed)
                    if 200 <= status < 300:
                        break
                    if status not in (-1, 429, 503) or time.monotonic() > deadline:
                        stats.gave_up += 1
                        break
                    # A provider retries with backoff; jitter spreads the herd.
                    await asyncio.sleep(backoff * (0.5 + rng.random()))
                    backoff = min(backoff * 2, 5.0)
                stats.statuses[status] = stats.statuses.get(status, 0) + 1
        finally:
            await conn.close()

    stats.started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(concurrency)))
    stats.finished = time.monotonic()
    return stats


@dataclass
class PollStats:
    counts_latencies: list[float] = field(default_factory=list)
    list_latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


async def poll_inbox(
    port: int, workspace_id: str, api_token: str, stop: asyncio.Event, every_s: float = 0.1
) -> PollStats:
    stats = PollStats()
    conn = Connection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {api_token}"}
    base = f"/api/v1/workspaces/{workspace_id}"
    targets = [
        (f"{base}/inbox/counts", stats.counts_latencies),
        (f"{base}/leads?filter=requires_attention&limit=50", stats.list_latencies),
    ]
    try:
        while not stop.is_set():
            tick = time.monotonic()
            for path, sink in targets:
                t0 = time.perf_counter()
                try:
                    resp = await conn.request("GET", path, None, headers)
                    key = None if resp.status == 200 else str(resp.status)
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    key = type(exc).__name__
                else:
                    sink.append(time.perf_counter() - t0)
                if key:
                    stats.errors[key] = stats.errors.get(key, 0) + 1
            await asyncio.sleep(max(0.0, every_s - (time.monotonic() - tick)))
    finally:
        await conn.close()
    return stats


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
