"""Retention of browser sessions and login throttle windows (auth.tasks), in bounded batches."""

from __future__ import annotations

from replydesk.auth.tasks import apply_retention, periodic_tasks
from replydesk.core.db import Database
from replydesk.core.retention import Bounds
from replydesk.core.settings import Settings
from tests.support.members import Member
from tests.support.queue import fetch, fetchval

WIDE = Bounds(batch_size=1000, max_batches=10, budget_s=10.0)


async def _session(url: str, user_id: object, n: int, expired_days_ago: float) -> None:
    await fetch(
        url,
        "INSERT INTO browser_sessions (user_id, token_hash, csrf_token_hash, expires_at) "
        "VALUES ($1, $2, 'c', now() - make_interval(secs => $3))",
        user_id,
        f"t{n}",
        expired_days_ago * 86_400,
    )


async def test_expired_sessions_and_old_windows_are_pruned(
    db: Database, database_url: str, owner: Member
) -> None:
    for n, days in enumerate([-1.0, 0.5, 3.0, 3.0]):  # one live, three expired
        await _session(database_url, owner.user_id, n, days)
    await fetch(
        database_url,
        "INSERT INTO login_throttles (scope, key_hash, window_start, attempts) VALUES "
        "('ip', 'a', now() - interval '2 days', 3), ('ip', 'b', now() - interval '1 hour', 1), "
        "('account', 'c', now() - interval '30 days', 9)",
    )
    live = await fetchval(database_url, "SELECT count(*) FROM browser_sessions")
    # Sessions kept 1 day past expiry: the 3-day-old ones go.
    done = await apply_retention(
        db, Settings(database_url=database_url, retention_sessions_days=1), WIDE
    )
    assert done == {"browser_sessions": 2, "login_throttles": 2}
    assert await fetchval(database_url, "SELECT count(*) FROM browser_sessions") == live - 2
    keys = await fetch(database_url, "SELECT key_hash FROM login_throttles")
    assert [r["key_hash"] for r in keys] == ["b"]
    # The default (0 days) prunes every expired session; live ones stay.
    await apply_retention(db, Settings(database_url=database_url), WIDE)
    left = await fetch(database_url, "SELECT token_hash FROM browser_sessions WHERE token_hash "
                       "LIKE 't%' ORDER BY token_hash")  # fmt: skip
    assert [r["token_hash"] for r in left] == ["t0"]


async def test_throttle_windows_are_kept_at_least_one_login_window(
    db: Database, database_url: str
) -> None:
    await fetch(
        database_url,
        "INSERT INTO login_throttles (scope, key_hash, window_start, attempts) VALUES "
        "('ip', 'a', now() - interval '2 days', 3)",
    )
    settings = Settings(database_url=database_url, login_window_s=3 * 86_400)
    assert (await apply_retention(db, settings, WIDE))["login_throttles"] == 0


async def test_the_task_is_listed_with_its_interval() -> None:
    settings = Settings(retention_interval_s=42)
    [task] = periodic_tasks(settings)
    assert (task.name, task.interval_s) == ("auth.retention", 42)
