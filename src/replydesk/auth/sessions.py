"""Browser sessions: server-side rows keyed by the sha256 of a random cookie token.

A session ends at ``expires_at`` (absolute lifetime) or after ``session_idle_timeout_s``
without a rotation; a request on a session older than ``session_rotate_after_s`` gets a new
cookie (two-phase rotation, see ``resolve_session``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.models import BrowserSession
from replydesk.core.security import hash_token, new_token
from replydesk.core.settings import Settings

# Expired rows removed per login: bounded work, and logins outnumber nothing else.
PURGE_BATCH = 100


@dataclass(frozen=True)
class NewSession:
    session_id: int
    token: str  # goes into the HttpOnly cookie, never stored
    csrf_token: str  # goes into the readable cookie and the login answer
    expires_at: datetime


@dataclass(frozen=True)
class ActiveSession:
    session_id: int
    user_id: uuid.UUID
    csrf_token_hash: str
    expires_at: datetime
    rotated_token: str | None  # a new cookie this request issued


async def create_session(
    session: AsyncSession, user_id: uuid.UUID, settings: Settings
) -> NewSession:
    token, csrf = new_token("rds"), new_token("rdc")
    row = (
        await session.execute(
            insert(BrowserSession)
            .values(
                user_id=user_id,
                token_hash=hash_token(token),
                csrf_token_hash=hash_token(csrf),
                expires_at=func.now() + timedelta(seconds=settings.session_lifetime_s),
            )
            .returning(BrowserSession.id, BrowserSession.expires_at)
        )
    ).one()
    return NewSession(row.id, token, csrf, row.expires_at)


async def resolve_session(
    session: AsyncSession, token: str, settings: Settings, *, rotate: bool = True
) -> ActiveSession | None:
    """The live session behind a cookie token; None when signed out.

    Rotation is two-phase so a new cookie that never reaches the browser (e.g. it rode on
    a response that became an error) cannot sign anyone out:

    1. a request with the current token, when rotation is due, issues a new token
       (``next_token_hash``); the current one stays valid;
    2. the first request with the new token promotes it (the old one then stays valid for
       the grace period, for requests already in flight).

    A pending new token that was not presented within the grace period is treated as lost
    and replaced on the next due request.
    """
    presented = hash_token(token)
    now = func.now()
    grace = timedelta(seconds=settings.session_rotation_grace_s)
    row = (
        await session.execute(
            select(
                BrowserSession.id,
                BrowserSession.user_id,
                BrowserSession.csrf_token_hash,
                BrowserSession.expires_at,
                (BrowserSession.token_hash == presented).label("current"),
                (BrowserSession.next_token_hash == presented).label("pending"),
                (
                    BrowserSession.refreshed_at
                    < now - timedelta(seconds=settings.session_rotate_after_s)
                ).label("rotate_due"),
            ).where(
                or_(
                    BrowserSession.token_hash == presented,
                    BrowserSession.next_token_hash == presented,
                    (BrowserSession.previous_token_hash == presented)
                    & (BrowserSession.refreshed_at > now - grace),
                ),
                BrowserSession.expires_at > now,
                BrowserSession.refreshed_at
                > now - timedelta(seconds=settings.session_idle_timeout_s),
            )
        )
    ).one_or_none()
    if row is None:
        return None
    issued: str | None = None
    if rotate and row.pending:
        await session.execute(
            update(BrowserSession)
            .where(BrowserSession.id == row.id, BrowserSession.next_token_hash == presented)
            .values(
                previous_token_hash=BrowserSession.token_hash,
                token_hash=presented,
                next_token_hash=None,
                next_issued_at=None,
                refreshed_at=now,
            )
        )
    elif rotate and row.current and row.rotate_due:
        candidate = new_token("rds")
        # Conditional: of concurrent due requests one issues; a pending token is replaced
        # only once it has had the grace period to come back.
        won = (
            await session.execute(
                update(BrowserSession)
                .where(
                    BrowserSession.id == row.id,
                    BrowserSession.token_hash == presented,
                    or_(
                        BrowserSession.next_token_hash.is_(None),
                        BrowserSession.next_issued_at < now - grace,
                    ),
                )
                .values(next_token_hash=hash_token(candidate), next_issued_at=now)
                .returning(BrowserSession.id)
            )
        ).scalar_one_or_none()
        issued = candidate if won is not None else None
    return ActiveSession(row.id, row.user_id, row.csrf_token_hash, row.expires_at, issued)


async def end_session(session: AsyncSession, session_id: int) -> None:
    await session.execute(delete(BrowserSession).where(BrowserSession.id == session_id))


async def end_user_sessions(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Sign a user out everywhere (their password changed); returns how many sessions ended."""
    ended = await session.execute(
        delete(BrowserSession).where(BrowserSession.user_id == user_id).returning(BrowserSession.id)
    )
    return len(ended.all())


async def end_session_by_token(session: AsyncSession, token: str) -> bool:
    """Delete the session a cookie points at (any of its current, pending or previous)."""
    presented = hash_token(token)
    deleted = await session.execute(
        delete(BrowserSession)
        .where(
            or_(
                BrowserSession.token_hash == presented,
                BrowserSession.next_token_hash == presented,
                BrowserSession.previous_token_hash == presented,
            )
        )
        .returning(BrowserSession.id)
    )
    return deleted.first() is not None


async def purge_expired(
    session: AsyncSession, grace: timedelta = timedelta(0), limit: int = PURGE_BATCH
) -> int:
    """Delete up to ``limit`` sessions more than ``grace`` past their absolute expiry (index
    on expires_at); returns how many. Runs on login and on the scheduler (auth.tasks).

    Idle-expired sessions are already refused on lookup; their rows go once they reach
    ``expires_at`` too.
    """
    victims = (
        select(BrowserSession.id)
        .where(BrowserSession.expires_at < func.now() - grace)
        .limit(limit)
        .scalar_subquery()
    )
    result = await session.execute(delete(BrowserSession).where(BrowserSession.id.in_(victims)))
    return int(result.rowcount)  # type: ignore[attr-defined]
