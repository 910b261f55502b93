"""The auth domain's periodic tasks: retention of expired browser sessions and old login
throttle windows (the login path prunes a few rows too; this keeps the tables bounded when
nobody signs in)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth import sessions, throttle
from replydesk.core.db import Database
from replydesk.core.retention import Bounds, in_batches
from replydesk.core.settings import Settings
from replydesk.queue.scheduler import PeriodicTask


async def apply_retention(db: Database, settings: Settings, bounds: Bounds) -> dict[str, int]:
    """Delete sessions ``retention_sessions_days`` past their expiry and throttle windows
    older than ``retention_login_throttles_days`` (never younger than one login window)."""
    grace = timedelta(days=settings.retention_sessions_days)
    keep = max(
        timedelta(days=settings.retention_login_throttles_days),
        timedelta(seconds=settings.login_window_s),
    )

    async def expired_sessions(session: AsyncSession, limit: int) -> int:
        return await sessions.purge_expired(session, grace, limit)

    async def old_windows(session: AsyncSession, limit: int) -> int:
        return await throttle.purge_old_windows(session, keep, limit)

    return {
        "browser_sessions": await in_batches(db, "browser_sessions", expired_sessions, bounds),
        "login_throttles": await in_batches(db, "login_throttles", old_windows, bounds),
    }


def periodic_tasks(settings: Settings) -> list[PeriodicTask]:
    bounds = Bounds.from_settings(settings, budget_s=15.0)

    async def retention(db: Database) -> None:
        await apply_retention(db, settings, bounds)

    return [PeriodicTask("auth.retention", settings.retention_interval_s, retention, budget_s=40.0)]
