"""Login rate limits per client IP, per (account, client IP) and account-wide, in PostgreSQL.

Fixed windows of ``login_window_s``: each attempt increments its (scope, key, window) rows
with one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` each, so every process sharing the
database sees the same counts and concurrent attempts are never lost.

- ``ip``: every attempt from one client address, whatever the account (guessing many accounts).
- ``account_ip``: attempts on one account from one address since its last success there:
  over ``login_max_attempts_per_account`` that client is refused. Other clients are not,
  so failures from elsewhere cannot lock the owner out.
- ``account``: every attempt on the account from anywhere (distributed guessing). Over
  ``login_account_ceiling`` the account tightens, but locks out nobody who has not failed:
  each address gets one attempt per window, and a client that already failed there waits.

Keys are sha256 of the IP / normalised e-mail: the table holds no PII. An ``account_ip`` key
is ``<account key>:<ip key>``, so an account's rows can be cleared by prefix (``unlock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.models import LoginThrottle
from replydesk.auth.vocabulary import ThrottleScope
from replydesk.core.security import hash_token
from replydesk.core.settings import Settings

PURGE_BATCH = 200
KEEP_WINDOWS_FOR = timedelta(days=1)


@dataclass(frozen=True)
class ThrottleVerdict:
    blocked_scope: str | None  # "ip" | "account" | "account_ceiling" | None
    retry_after_s: int


def _key(scope: str, value: str) -> str:
    return hash_token(f"login:{scope}:{value}")


def _pair_key(email: str, ip: str) -> str:
    return f"{_key(ThrottleScope.ACCOUNT, email)}:{_key(ThrottleScope.IP, ip)}"


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

    Rows are taken in a fixed order (ip, account_ip, account) so concurrent attempts cannot
    deadlock each other.
    """
    now = (await session.execute(select(func.now()))).scalar_one()
    window = _window_start(now, settings.login_window_s)
    ip_attempts = await _increment(session, ThrottleScope.IP, _key(ThrottleScope.IP, ip), window)
    pair_attempts = await _increment(
        session, ThrottleScope.ACCOUNT_IP, _pair_key(email, ip), window
    )
    account_attempts = await _increment(
        session, ThrottleScope.ACCOUNT, _key(ThrottleScope.ACCOUNT, email), window
    )
    window_end = window + timedelta(seconds=settings.login_window_s)
    retry_after = max(1, int((window_end - now).total_seconds()))
    if ip_attempts > settings.login_max_attempts_per_ip:
        return ThrottleVerdict("ip", retry_after)
    if pair_attempts > settings.login_max_attempts_per_account:
        return ThrottleVerdict("account", retry_after)
    if account_attempts > settings.login_account_ceiling and pair_attempts > 1:
        # The pair counter restarts at a success, so > 1 means this client already failed.
        return ThrottleVerdict("account_ceiling", retry_after)
    return ThrottleVerdict(None, 0)


async def clear_client(session: AsyncSession, email: str, ip: str) -> None:
    """After a success: this client's failures on the account are forgiven (the account-wide
    count is not: a login by the owner must not reset an attack's ceiling)."""
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.scope == ThrottleScope.ACCOUNT_IP,
            LoginThrottle.key_hash == _pair_key(email, ip),
        )
    )


async def unlock_account(session: AsyncSession, email: str) -> int:
    """Delete every account and (account, IP) counter of the account; returns how many.

    Per-IP counters stay: they belong to the addresses, not to the account. The prefix
    match reads the ``account_ip`` rows, of which the table holds at most a day of windows
    (``purge_old_windows``); unlocking is a rare operator action."""
    account = _key(ThrottleScope.ACCOUNT, email)
    deleted = await session.execute(
        delete(LoginThrottle)
        .where(
            ((LoginThrottle.scope == ThrottleScope.ACCOUNT) & (LoginThrottle.key_hash == account))
            | (
                (LoginThrottle.scope == ThrottleScope.ACCOUNT_IP)
                & LoginThrottle.key_hash.startswith(account + ":")
            )
        )
        .returning(LoginThrottle.attempts)
    )
    return len(deleted.all())


async def purge_old_windows(
    session: AsyncSession, keep: timedelta = KEEP_WINDOWS_FOR, limit: int = PURGE_BATCH
) -> int:
    """Delete up to ``limit`` counter rows of windows that started more than ``keep`` ago
    (a day on the login path; ``retention_login_throttles_days`` on the scheduler)."""
    victims = (
        select(LoginThrottle.scope, LoginThrottle.key_hash, LoginThrottle.window_start)
        .where(LoginThrottle.window_start < func.now() - keep)
        .limit(limit)
    )
    result = await session.execute(
        delete(LoginThrottle).where(
            tuple_(LoginThrottle.scope, LoginThrottle.key_hash, LoginThrottle.window_start).in_(
                victims
            )
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
