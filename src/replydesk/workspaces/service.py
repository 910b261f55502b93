"""Creating workspaces together with their owner, webhook token and first API token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.models import ApiToken, Membership, User
from replydesk.core.errors import UnprocessableEntity
from replydesk.core.security import hash_token, new_token
from replydesk.workspaces.models import Workspace


@dataclass(frozen=True)
class CreatedWorkspace:
    workspace_id: uuid.UUID
    webhook_token: str  # shown once
    api_token: str  # shown once


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or " " in value:
        raise UnprocessableEntity(f"not an e-mail address: {email!r}")
    return value


async def ensure_user(session: AsyncSession, email: str) -> uuid.UUID:
    """The user with this e-mail, created if missing (race-safe upsert)."""
    stmt = (
        pg_insert(User)
        .values(email=normalise_email(email))
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User.id)
    )
    user_id = (await session.execute(stmt)).scalar_one_or_none()
    if user_id is None:
        user_id = (
            await session.execute(select(User.id).where(User.email == normalise_email(email)))
        ).scalar_one()
    return user_id


async def create_workspace(session: AsyncSession, name: str, owner_email: str) -> CreatedWorkspace:
    """Workspace + owner membership + webhook token + API token, in the caller's transaction."""
    name = name.strip()
    if not name:
        raise UnprocessableEntity("workspace name must not be empty")
    user_id = await ensure_user(session, owner_email)
    webhook_token = new_token("rdw")
    api_token = new_token("rdp")
    workspace_id = (
        await session.execute(
            insert(Workspace)
            .values(name=name, webhook_token_hash=hash_token(webhook_token))
            .returning(Workspace.id)
        )
    ).scalar_one()
    await session.execute(
        insert(Membership).values(workspace_id=workspace_id, user_id=user_id, role="owner")
    )
    await session.execute(
        insert(ApiToken).values(
            workspace_id=workspace_id,
            user_id=user_id,
            name="created with workspace",
            token_hash=hash_token(api_token),
        )
    )
    return CreatedWorkspace(workspace_id, webhook_token, api_token)
