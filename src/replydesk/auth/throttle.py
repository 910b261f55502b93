"""Login rate limits per client IP and per account, counted in PostgreSQL.

Fixed windows of ``login_window_s``: each attempt increments its (scope, key, window) row
with one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``, so every process sharing the
database sees the same counts and concurrent attempts are never lost. The account counter
is cleared by a successful login, so it counts failures since the last success.
Keys are sha256 of the IP / normalised e-mail: the table holds no PII.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.models import LoginThrottle
from replydesk.core.security import hash_token
from replydesk.core.settings import Settings

PURGE_BATCH = 200
KEEP_WINDOWS_FOR = timedelta(days=1)


@dataclass(frozen=True)
class ThrottleVerdict:
    blocked_scope: str | None  # "ip" | "account" | None
    retry_after_s: int


def _key(scope: str, value: str) -> str:
    return hash_token(f"login:{scope}:{value}")


def _window_start(now: datetime, window_s: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_s, tz=UTC)


async def _increment(session: AsyncSession, scope: str, key: str, window: datetime) -> int:
    insert = pg_insert(LoginThrottle).values(
        scope=scope, key_hash=key, window_start=window, attempts=1
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[LoginThrottle.scope, LoginThrottle.key_hash, LoginThrottle.window_start],
        set_={"attempts": LoginThrottle.attempts + 1},
    ).returning(LoginThrottle.attempts)
    attempts: int = (await session.execute(stmt)).scalar_one()
    return attempts


async def register_attempt(
    session: AsyncSession, settings: Settings, *, ip: str, email: str
) -> ThrottleVerdict:
    """Count one login attempt; say whether it is over a limit (checked before the password).

    Rows are taken in a fixed order (ip, then account) so concurrent attempts cannot
    deadlock each other.
    """
    now = (await session.execute(select(func.now()))).scalar_one()
    window = _window_start(now, settings.login_window_s)
    ip_attempts = await _increment(session, "ip", _key("ip", ip), window)
    account_attempts = await _increment(session, "account", _key("account", email), window)
    window_end = window + timedelta(seconds=settings.login_window_s)
    retry_after = max(1, int((window_end - now).total_seconds()))
    if ip_attempts > settings.login_max_attempts_per_ip:
        return ThrottleVerdict("ip", retry_after)
    if account_attempts > settings.login_max_attempts_per_account:
        return ThrottleVerdict("account", retry_after)
    return ThrottleVerdict(None, 0)


async def clear_account(session: AsyncSession, email: str) -> None:
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope == "account", LoginThrottle.key_hash == _key("account", email)
        )
    )


async def purge_old_windows(session: AsyncSession) -> None:
    """Delete up to PURGE_BATCH counter rows of windows older than a day."""
    victims = (
        select(LoginThrottle.scope, LoginThrottle.key_hash, LoginThrottle.window_start)
        .where(LoginThrottle.window_start < func.now() - KEEP_WINDOWS_FOR)
        .limit(PURGE_BATCH)
    )
    await session.execute(
        delete(LoginThrottle).where(
            tuple_(LoginThrottle.scope, LoginThrottle.key_hash, LoginThrottle.window_start).in_(
                victims
            )
        )
    )
