"""Login, logout, users, memberships and personal API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth import throttle
from replydesk.auth.errors import InvalidCredentials
from replydesk.auth.models import ROLES, ApiToken, Membership, User
from replydesk.auth.passwords import hash_password, needs_rehash, verify_password
from replydesk.auth.sessions import (
    NewSession,
    create_session,
    end_session_by_token,
    end_user_sessions,
    purge_expired,
)
from replydesk.core.db import Database
from replydesk.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from replydesk.core.logging import get_logger
from replydesk.core.security import hash_token, new_token
from replydesk.core.settings import Settings
from replydesk.workspaces import service as workspaces
from replydesk.workspaces.models import Workspace

log = get_logger(__name__)


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or " " in value:
        raise InvalidInput(f"not an e-mail address: {email!r}")
    return value


@dataclass(frozen=True)
class CreatedWorkspace:
    workspace_id: uuid.UUID
    webhook_token: str  # shown once
    api_token: str  # shown once


async def ensure_user(session: AsyncSession, email: str) -> uuid.UUID:
    """The user with this e-mail, created if missing (race-safe upsert)."""
    address = normalise_email(email)
    stmt = (
        pg_insert(User)
        .values(email=address)
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    user_id = (await session.execute(stmt)).scalar_one_or_none()
    if user_id is None:
        user_id = (await session.execute(select(User.id).where(User.email == address))).scalar_one()
    return user_id


async def create_workspace(session: AsyncSession, name: str, owner_email: str) -> CreatedWorkspace:
    """Workspace + owner membership + webhook token + API token, in the caller's transaction."""
    user_id = await ensure_user(session, owner_email)
    created = await workspaces.add_workspace(session, name)
    await session.execute(
        insert(Membership).values(workspace_id=created.workspace_id, user_id=user_id, role="owner")
    )
    api_token = new_token("rdp")
    await session.execute(
        insert(ApiToken).values(
            workspace_id=created.workspace_id,
            user_id=user_id,
            name="created with workspace",
            token_hash=hash_token(api_token),
        )
    )
    return CreatedWorkspace(created.workspace_id, created.webhook_token, api_token)


async def is_member(session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    found = (
        await session.execute(
            select(Membership.user_id).where(
                Membership.workspace_id == workspace_id, Membership.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    return found is not None


@dataclass(frozen=True)
class UserInfo:
    id: uuid.UUID
    email: str
    display_name: str | None


@dataclass(frozen=True)
class MembershipInfo:
    workspace_id: uuid.UUID
    name: str
    role: str


@dataclass(frozen=True)
class LoginResult:
    user: UserInfo
    workspaces: list[MembershipInfo]
    session: NewSession


async def memberships_of(
    session: AsyncSession, user_id: uuid.UUID, only: uuid.UUID | None = None
) -> list[MembershipInfo]:
    stmt = (
        select(Workspace.id, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(Workspace.name, Workspace.id)
        .limit(1000)
    )
    if only is not None:
        stmt = stmt.where(Workspace.id == only)
    return [MembershipInfo(r.id, r.name, r.role) for r in (await session.execute(stmt)).all()]


async def user_info(session: AsyncSession, user_id: uuid.UUID) -> UserInfo:
    row = (
        await session.execute(
            select(User.id, User.email, User.display_name).where(User.id == user_id)
        )
    ).one()
    return UserInfo(row.id, row.email, row.display_name)


async def login(
    db: Database,
    settings: Settings,
    *,
    email: str,
    password: str,
    ip: str,
    presented_cookie: str | None,
) -> LoginResult:
    """Throttle, verify, then open a fresh session (any presented one is ended first).

    Three short transactions: the attempt is counted (and committed) before the password
    is checked, and no connection is held during the ~50 ms of argon2.
    """
    address = normalise_email(email)
    async with db.session() as session:
        await throttle.purge_old_windows(session)
        verdict = await throttle.register_attempt(session, settings, ip=ip, email=address)
    if verdict.blocked_scope is not None:
        log.info("login_throttled", scope=verdict.blocked_scope)
        raise RateLimited(
            f"too many login attempts; retry in {verdict.retry_after_s} s",
            retry_after_s=verdict.retry_after_s,
        )
    async with db.session() as session:
        row = (
            await session.execute(select(User.id, User.password_hash).where(User.email == address))
        ).one_or_none()
    stored = row.password_hash if row is not None else None
    if not await verify_password(stored, password) or row is None:
        log.info("login_failed", reason="unknown_user" if row is None else "bad_password")
        raise InvalidCredentials("e-mail or password is wrong")
    async with db.session() as session:
        if stored is not None and needs_rehash(stored):
            await session.execute(
                update(User).where(User.id == row.id).values(password_hash=hash_password(password))
            )
        await throttle.clear_client(session, address, ip)
        if presented_cookie:
            await end_session_by_token(session, presented_cookie)
        await purge_expired(session)
        created = await create_session(session, row.id, settings)
        info = await user_info(session, row.id)
        workspaces = await memberships_of(session, row.id)
    log.info("login_succeeded", user_id=str(row.id))
    return LoginResult(info, workspaces, created)


# --- users, memberships, tokens (CLI) -------------------------------------------------------


@dataclass(frozen=True)
class UserSaved:
    user_id: uuid.UUID
    email: str
    created: bool
    password_set: bool
    sessions_ended: int = 0


async def save_user(
    session: AsyncSession,
    email: str,
    *,
    password: str | None,
    display_name: str | None,
    reset_password: bool,
) -> UserSaved:
    """Create the user, or complete an existing one (e.g. a workspace owner without a
    password). Replacing an existing password needs ``reset_password``."""
    address = normalise_email(email)
    password_hash = hash_password(password) if password is not None else None
    inserted = (
        await session.execute(
            pg_insert(User)
            .values(email=address, display_name=display_name, password_hash=password_hash)
            .on_conflict_do_nothing(index_elements=[User.email])
            .returning(User.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return UserSaved(inserted, address, True, password_hash is not None)
    row = (
        await session.execute(
            select(User.id, User.password_hash).where(User.email == address).with_for_update()
        )
    ).one()
    values: dict[str, object] = {}
    if display_name is not None:
        values["display_name"] = display_name
    if password_hash is not None:
        if row.password_hash is not None and not reset_password:
            raise Conflict(f"{address} already has a password; pass --reset-password to replace it")
        values["password_hash"] = password_hash
    if values:
        await session.execute(update(User).where(User.id == row.id).values(**values))
    ended = 0
    if password_hash is not None:
        # A new password ends every session opened with the old one (a reset is often
        # the answer to a leaked password).
        ended = await end_user_sessions(session, row.id)
        if ended:
            log.info("password_replaced", user_id=str(row.id), sessions_ended=ended)
    return UserSaved(row.id, address, False, password_hash is not None, ended)


# --- unlocking a rate-limited account ---------------------------------------------------------


@dataclass(frozen=True)
class Unlocked:
    user_id: uuid.UUID
    email: str
    counters_cleared: int


async def unlock_login(session: AsyncSession, email: str) -> Unlocked:
    """Clear an account's login limits (account-wide and per client IP) at once."""
    address = normalise_email(email)
    user_id = (
        await session.execute(select(User.id).where(User.email == address))
    ).scalar_one_or_none()
    if user_id is None:
        raise NotFound(f"no user {address}")
    cleared = await throttle.unlock_account(session, address)
    log.info("login_unlocked", user_id=str(user_id), counters_cleared=cleared)
    return Unlocked(user_id, address, cleared)


async def unlock_member(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Unlocked:
    """``unlock_login`` for a member of ``workspace_id``; 404 for anyone else (a workspace's
    admins cannot reach users of other workspaces)."""
    email = (
        await session.execute(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.workspace_id == workspace_id, User.id == user_id)
        )
    ).scalar_one_or_none()
    if email is None:
        raise NotFound("member not found")
    return await unlock_login(session, email)


async def set_membership(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not await workspaces.exists(session, workspace_id):
        raise NotFound(f"workspace {workspace_id} not found")
    stmt = pg_insert(Membership).values(workspace_id=workspace_id, user_id=user_id, role=role)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Membership.workspace_id, Membership.user_id],
            set_={"role": stmt.excluded.role},
        )
    )


@dataclass(frozen=True)
class TokenCreated:
    token_id: int
    token: str  # shown once
    workspace_id: uuid.UUID
    user_id: uuid.UUID
    name: str


async def create_api_token(
    session: AsyncSession, workspace_id: uuid.UUID, email: str, name: str
) -> TokenCreated:
    address = normalise_email(email)
    user_id = (
        await session.execute(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(User.email == address, Membership.workspace_id == workspace_id)
        )
    ).scalar_one_or_none()
    if user_id is None:
        raise NotFound(f"{address} is not a member of workspace {workspace_id}")
    return await insert_api_token(session, workspace_id, user_id, name)


async def insert_api_token(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, name: str
) -> TokenCreated:
    """A new token for a member (the caller checked the membership); shown once."""
    name = name.strip()
    if not name:
        raise InvalidInput("token name must not be empty")
    token = new_token("rdp")
    token_id = (
        await session.execute(
            pg_insert(ApiToken)
            .values(
                workspace_id=workspace_id, user_id=user_id, name=name, token_hash=hash_token(token)
            )
            .returning(ApiToken.id)
        )
    ).scalar_one()
    return TokenCreated(token_id, token, workspace_id, user_id, name)


async def revoke_api_token(
    session: AsyncSession, token_id: int, workspace_id: uuid.UUID | None = None
) -> datetime:
    """Revoke (idempotent): the first revocation time is kept. With ``workspace_id``, only a
    token of that workspace (another's is NotFound, like an unknown id)."""
    scope = [ApiToken.workspace_id == workspace_id] if workspace_id is not None else []
    revoked = (
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, *scope)
            .values(revoked_at=func.coalesce(ApiToken.revoked_at, func.now()))
            .returning(ApiToken.revoked_at)
        )
    ).scalar_one_or_none()
    if revoked is None:
        raise NotFound("API token not found")
    return revoked


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    name: str
    user_id: uuid.UUID
    email: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def list_api_tokens(session: AsyncSession, workspace_id: uuid.UUID) -> list[TokenInfo]:
    rows = (
        await session.execute(
            select(
                ApiToken.id,
                ApiToken.name,
                ApiToken.user_id,
                User.email,
                ApiToken.created_at,
                ApiToken.last_used_at,
                ApiToken.revoked_at,
            )
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.workspace_id == workspace_id)
            .order_by(ApiToken.id)
            .limit(1000)
        )
    ).all()
    return [TokenInfo(*r) for r in rows]


# --- first run (the browser setup page, replydesk.web) -----------------------------------

# Serialises first-run setups across processes (pg_advisory_xact_lock key).
FIRST_RUN_LOCK_KEY = 7_251_901_012


async def has_users(session: AsyncSession) -> bool:
    return bool((await session.execute(select(exists().where(User.id.is_not(None))))).scalar())


async def create_first_owner(
    session: AsyncSession, *, workspace_name: str, email: str, password: str
) -> CreatedWorkspace | None:
    """The first workspace and its owner, only while the instance has no user at all; None
    when someone got there first. Concurrent setups queue on one advisory lock, so at most
    one of them finds the table empty."""
    await session.execute(select(func.pg_advisory_xact_lock(FIRST_RUN_LOCK_KEY)))
    if await has_users(session):
        return None
    created = await create_workspace(session, workspace_name, email)
    await save_user(session, email, password=password, display_name=None, reset_password=True)
    return created
