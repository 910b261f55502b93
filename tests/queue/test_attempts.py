"""The attempt history (queue_attempts): one row per attempt, written with its outcome."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.queue.queues import ClaimedItem
from replydesk.queue.registry import Registry
from replydesk.queue.service import attempt_history, enqueue, replay
from replydesk.queue.tasks import prune_attempts, rescue_expired
from tests.support.queue import fast_settings, fetch, fetchval, running_worker, wait_until


async def _done(url: str) -> bool:
    n = await fetchval(url, "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')")
    return bool(n == 0)


async def test_each_attempt_is_recorded_with_outcome_category_and_error(
    db: Database, database_url: str
) -> None:
    async def flaky(session: AsyncSession, item: ClaimedItem) -> str | None:
        if item.attempts <= 2:
            raise KeyError("missing field")
        return None

    async def broken(session: AsyncSession, item: ClaimedItem) -> str | None:
        raise KeyError("always")

    async def fine(session: AsyncSession, item: ClaimedItem) -> str | None:
        return None

    registry = Registry()
    registry.add("jobs", "t.flaky", flaky)
    registry.add("jobs", "t.broken", broken)
    registry.add("jobs", "t.fine", fine)
    async with db.session() as session:
        flaky_id = await enqueue(session, "t.flaky", {}, "k-flaky")
        broken_id = await enqueue(session, "t.broken", {}, "k-broken", max_attempts=2)
        # Several at once: they share one transaction (a group) and one status statement.
        fine_ids = [await enqueue(session, "t.fine", {}, f"k-fine-{n}") for n in range(5)]
    settings = fast_settings(database_url)
    async with running_worker(db, registry, settings, worker_id="w-1"):
        await wait_until(lambda: _done(database_url))
    async with db.session() as session:
        assert flaky_id is not None and broken_id is not None
        history, truncated = await attempt_history(session, flaky_id, table="jobs")
        assert not truncated
        assert [(a.attempt, a.outcome, a.category) for a in history] == [
            (1, "retry", "bug"),
            (2, "retry", "bug"),
            (3, "succeeded", None),
        ]
        assert [a.error for a in history] == ["KeyError: 'missing field'"] * 2 + [None]
        assert all(a.worker == "w-1" and a.started_at is not None for a in history)
        assert all(a.started_at <= a.finished_at for a in history if a.started_at)
        dead, _ = await attempt_history(session, broken_id, table="jobs")
        assert [(a.attempt, a.outcome) for a in dead] == [(1, "retry"), (2, "dead")]
        for job_id in fine_ids:
            assert job_id is not None
            ok, _ = await attempt_history(session, job_id, table="jobs")
            assert [(a.attempt, a.outcome) for a in ok] == [(1, "succeeded")]
        # A replay keeps the history and restarts the count.
        await replay(session, broken_id, table="jobs")
    async with running_worker(db, registry, settings, worker_id="w-2"):
        await wait_until(lambda: _done(database_url))
    async with db.session() as session:
        again, _ = await attempt_history(session, broken_id, table="jobs")
    assert [(a.attempt, a.outcome, a.worker) for a in again] == [
        (1, "retry", "w-1"),
        (2, "dead", "w-1"),
        (1, "retry", "w-2"),
        (2, "dead", "w-2"),
    ]
    # Webhook events and jobs share the table, told apart by source.
    async with db.session() as session:
        assert await attempt_history(session, broken_id, table="webhook_events") == ([], False)
        shown, cut = await attempt_history(session, broken_id, table="jobs", limit=3)
    assert cut and [a.worker for a in shown] == ["w-1", "w-2", "w-2"]


async def test_rescued_lease_is_an_attempt_and_old_attempts_are_pruned(
    db: Database, database_url: str
) -> None:
    async with db.session() as session:
        job_id = await enqueue(session, "t", {}, "k-1")
    await fetch(
        database_url,
        "UPDATE jobs SET status = 'running', locked_by = 'gone', locked_at = now(), "
        "attempts = 1, lease_expires_at = now() - interval '1 second' WHERE id = $1",
        job_id,
    )
    await rescue_expired(db, 100)
    assert job_id is not None
    async with db.session() as session:
        [attempt], _ = await attempt_history(session, job_id, table="jobs")
    assert (attempt.outcome, attempt.category, attempt.worker) == (
        "lease_expired",
        "worker_lost",
        "gone",
    )
    assert attempt.error == "lease expired: worker gone stopped during attempt 1"
    await fetch(database_url, "UPDATE queue_attempts SET finished_at = now() - interval '31 days'")
    assert await prune_attempts(db, 30) == 1
    assert await fetchval(database_url, "SELECT count(*) FROM queue_attempts") == 0
