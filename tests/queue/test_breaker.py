"""The periodic runs' circuit breaker on database connectivity (issue 11 behaviour 11)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from replydesk.core.breaker import BreakerState, CircuitBreaker
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy
from replydesk.queue.scheduler import PeriodicTask, Scheduler
from tests.support.logs import LogCapture
from tests.support.queue import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_n_consecutive_failures_and_probes_once_per_cooldown(
    log_capture: LogCapture,
) -> None:
    clock = Clock()
    breaker = CircuitBreaker("t", failures=3, cooldown_s=30, clock=clock)
    breaker.failure("x")
    breaker.failure("x")
    breaker.success()  # not consecutive: starts again
    breaker.failure("x")
    breaker.failure("x")
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.failure("x")
    assert breaker.state is BreakerState.OPEN
    assert [breaker.allow() for _ in range(5)] == [False] * 5
    clock.now += 30
    assert breaker.allow() is True  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() is False  # only one probe at a time
    breaker.failure("still down")
    assert breaker.state is BreakerState.OPEN
    clock.now += 29
    assert breaker.allow() is False
    clock.now += 1
    assert breaker.allow() is True
    clock.now += 2
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    records = log_capture.records()
    opened = [r for r in records if r["event"] == "db_breaker_open"]
    assert [(r["level"], r["category"], r["failures"]) for r in opened] == [
        ("warning", "db_unavailable", 3)
    ]
    (closed,) = [r for r in records if r["event"] == "db_breaker_closed"]
    assert closed["level"] == "info"
    assert (closed["outage_s"], closed["skipped_runs"], closed["probes"]) == (62.0, 6, 2)
    with pytest.raises(ValueError):
        CircuitBreaker("t", failures=0, cooldown_s=1)


@contextlib.asynccontextmanager
async def _proxied_db(
    settings: Settings, database_url: str
) -> AsyncIterator[tuple[TcpProxy, Database]]:
    async with TcpProxy(pg_target(database_url)) as proxy:
        via = settings.model_copy(
            update={
                "database_url": url_via_proxy(database_url, "127.0.0.1", proxy.port),
                "db_connect_timeout_s": 0.5,
            }
        )
        db = Database.from_settings(via)
        try:
            yield proxy, db
        finally:
            await db.dispose()


@pytest.mark.parametrize("failure", ["drop", "blackhole"])
async def test_database_outage_opens_the_breaker_without_a_retry_storm_and_resume_closes_it(
    settings: Settings, database_url: str, log_capture: LogCapture, failure: str
) -> None:
    runs: dict[str, int] = {"a": 0, "b": 0}

    def counting(name: str) -> PeriodicTask:
        async def run(_: Database) -> int:
            runs[name] += 1
            return 0

        # Slots of 0.2 s, the scheduler ticks every 0.1 s: ~20 claim attempts a second.
        return PeriodicTask(f"test.breaker.{name}", 0.2, run)

    cooldown_s = 1.0
    async with _proxied_db(settings, database_url) as (proxy, db):
        breaker = CircuitBreaker("periodic", failures=3, cooldown_s=cooldown_s)
        # A blackhole hangs statements instead of failing them: the scheduler's own bound.
        scheduler = Scheduler(
            db,
            [counting("a"), counting("b")],
            "w-breaker",
            breaker=breaker,
            own_statement_timeout_s=1.0,
        )
        stopping = asyncio.Event()
        running = asyncio.create_task(scheduler.run(stopping))
        try:

            async def ran_twice() -> bool:
                return min(runs.values()) >= 2

            await wait_until(ran_twice, timeout_s=15)
            getattr(proxy, failure)()

            async def is_open() -> bool:
                return not breaker.is_closed

            await wait_until(is_open, timeout_s=15)
            assert breaker.consecutive_failures == 3
            attempts_at_open = proxy.connections_total
            runs_at_open = dict(runs)
            outage_s = 3.2
            await asyncio.sleep(outage_s)
            # Open: no run, and the database sees one probe per cooldown at most (each probe
            # is one connection attempt); without the breaker it would be ~60 attempts.
            attempts = proxy.connections_total - attempts_at_open
            assert attempts <= outage_s / cooldown_s + 1, attempts
            assert breaker.probes >= 2  # it kept probing
            assert runs == runs_at_open
            assert breaker.skipped > 10

            proxy.resume()

            async def closed_and_running() -> bool:
                return breaker.is_closed and min(runs.values()) > max(runs_at_open.values())

            await wait_until(closed_and_running, timeout_s=15)
        finally:
            stopping.set()
            await asyncio.wait_for(running, 10)
    records = log_capture.records()
    opened = [r for r in records if r["event"] == "db_breaker_open"]
    assert len(opened) == 1 and opened[0]["level"] == "warning"
    assert opened[0]["category"] == "db_unavailable"
    closed = [r for r in records if r["event"] == "db_breaker_closed"]
    assert len(closed) == 1 and closed[0]["level"] == "info"
    assert closed[0]["outage_s"] >= outage_s
    assert not [r for r in records if r["level"] in ("error", "critical")]


def test_breaker_state_and_skipped_runs_are_exported() -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"breaker": "metrics-test", **labels}) or 0.0

    def transitions(state: str) -> float:
        return sample("replydesk_db_breaker_transitions_total", state=state)

    before = {state: transitions(state) for state in ("open", "half_open", "closed")}
    skipped_before = sample("replydesk_db_breaker_skipped_runs_total")
    clock = Clock()
    breaker = CircuitBreaker("metrics-test", failures=2, cooldown_s=10, clock=clock)
    assert sample("replydesk_db_breaker_open") == 0
    breaker.failure("x")
    breaker.failure("x")
    assert sample("replydesk_db_breaker_open") == 1
    assert [breaker.allow() for _ in range(3)] == [False] * 3
    clock.now += 10
    assert breaker.allow()  # the probe: still reported open
    assert sample("replydesk_db_breaker_open") == 1
    breaker.success()
    assert sample("replydesk_db_breaker_open") == 0
    assert sample("replydesk_db_breaker_skipped_runs_total") - skipped_before == 3
    assert {state: transitions(state) - before[state] for state in before} == {
        "open": 1,
        "half_open": 1,
        "closed": 1,
    }
