"""The burst sender (retries 503 like a provider, through a modelled load balancer) and the
inbox poller.

The sender reaches the API processes the way a load balancer with health checks would: a
port whose ``/readyz`` answers anything but 200 (a process draining after SIGTERM, or down)
gets no new requests until it answers 200 again (checked every 0.2 s), and a request that
meets a refused or reset connection is sent again at once to another port (passive health
check + retry; safe, webhooks are idempotent by their dedupe keys)."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

from drill.http import Connection
from drill.traffic import Delivery


class Balancer:
    """Which API port to use: round robin over the ports whose last health check passed."""

    def __init__(self, ports: list[int], every_s: float = 0.2) -> None:
        self.ports = ports
        self.every_s = every_s
        self.healthy = dict.fromkeys(ports, True)
        self.failovers = 0

    def pick(self, hint: int) -> int:
        ports = [p for p in self.ports if self.healthy[p]] or self.ports
        return ports[hint % len(ports)]

    def failed(self, port: int) -> None:
        self.healthy[port] = False
        self.failovers += 1

    async def check(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for port in self.ports:
                conn = Connection("127.0.0.1", port, timeout=0.5)
                try:
                    resp = await conn.request("GET", "/readyz")
                    self.healthy[port] = resp.status == 200
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    self.healthy[port] = False
                finally:
                    await conn.close()
            await asyncio.sleep(self.every_s)


@dataclass
class SendStats:
    latencies: list[float] = field(default_factory=list)  # every answered attempt, seconds
    answered_at: list[float] = field(default_factory=list)  # its answer, s after `started`
    statuses: dict[int, int] = field(default_factory=dict)  # final status per delivery
    attempt_statuses: dict[int, int] = field(default_factory=dict)
    unavailable_latencies: list[float] = field(default_factory=list)  # 503 answers
    transport_errors: int = 0
    failovers: int = 0
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
    rate: float = 0.0,
) -> SendStats:
    """``rate`` > 0: deliveries leave at that many per second (a steady load), else at once."""
    stats = SendStats()
    queue: asyncio.Queue[tuple[int, Delivery]] = asyncio.Queue()
    for i, d in enumerate(deliveries):
        queue.put_nowait((i, d))
    headers = {"Content-Type": "application/json", "X-Webhook-Token": token}
    balancer = Balancer(ports)
    stop_checks = asyncio.Event()
    checker = asyncio.create_task(balancer.check(stop_checks))

    async def one(worker: int) -> None:
        conns = {port: Connection("127.0.0.1", port, timeout=10) for port in ports}
        rng = random.Random(worker)
        try:
            while True:
                try:
                    index, delivery = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if rate > 0:
                    await asyncio.sleep(max(0.0, stats.started + index / rate - time.monotonic()))
                path = f"/webhooks/{delivery.provider}/{workspace_id}"
                backoff, deadline = 0.2, time.monotonic() + max_retry_s
                hint = worker
                while True:
                    t0 = time.perf_counter()
                    port = balancer.pick(hint)
                    try:
                        resp = await conns[port].request("POST", path, delivery.body, headers)
                    except (TimeoutError, OSError, asyncio.IncompleteReadError):
                        stats.transport_errors += 1
                        status = -1
                        if time.monotonic() < deadline and len(ports) > 1:
                            # What a load balancer does: take the port out, retry elsewhere.
                            balancer.failed(port)
                            stats.failovers += 1
                            hint += 1
                            await asyncio.sleep(0.01 if any(balancer.healthy.values()) else 0.1)
                            continue
                    else:
                        status = resp.status
                        elapsed = time.perf_counter() - t0
                        stats.latencies.append(elapsed)
                        stats.answered_at.append(time.monotonic() - stats.started)
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
            for conn in conns.values():
                await conn.close()

    stats.started = time.monotonic()
    try:
        await asyncio.gather(*(one(i) for i in range(concurrency)))
    finally:
        stop_checks.set()
        await checker
    stats.finished = time.monotonic()
    return stats


@dataclass
class PollStats:
    counts_latencies: list[float] = field(default_factory=list)
    counts_at: list[float] = field(default_factory=list)  # time.monotonic() at each answer
    list_latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def counts_p95_between(self, start: float, end: float) -> float | None:
        """Counts p95 of the answers that arrived in [start, end) (monotonic seconds)."""
        within = [
            latency
            for at, latency in zip(self.counts_at, self.counts_latencies, strict=True)
            if start <= at < end
        ]
        return percentile(within, 0.95)


async def poll_inbox(
    port: int, workspace_id: str, api_token: str, stop: asyncio.Event, every_s: float = 0.1
) -> PollStats:
    stats = PollStats()
    conn = Connection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {api_token}"}
    base = f"/api/v1/workspaces/{workspace_id}"
    targets = [
        (f"{base}/inbox/counts", stats.counts_latencies, stats.counts_at),
        (f"{base}/leads?filter=requires_attention&limit=50", stats.list_latencies, None),
    ]
    try:
        while not stop.is_set():
            tick = time.monotonic()
            for path, sink, stamps in targets:
                t0 = time.perf_counter()
                try:
                    resp = await conn.request("GET", path, None, headers)
                    key = None if resp.status == 200 else str(resp.status)
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                    key = type(exc).__name__
                else:
                    sink.append(time.perf_counter() - t0)
                    if stamps is not None:
                        stamps.append(time.monotonic())
                if key:
                    stats.errors[key] = stats.errors.get(key, 0) + 1
            await asyncio.sleep(max(0.0, every_s - (time.monotonic() - tick)))
    finally:
        await conn.close()
    return stats


def windows(stats: SendStats, width_s: float = 10.0) -> list[dict[str, float | int | None]]:
    """Latency per `width_s` window of the run (a sustained load: does it hold, or drift?)."""
    buckets: dict[int, list[float]] = {}
    for at, latency in zip(stats.answered_at, stats.latencies, strict=True):
        buckets.setdefault(int(at // width_s), []).append(latency)
    return [
        {
            "from_s": k * width_s,
            "answers": len(v),
            "p50_ms": ms(percentile(v, 0.50)),
            "p99_ms": ms(percentile(v, 0.99)),
        }
        for k, v in sorted(buckets.items())
    ]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
