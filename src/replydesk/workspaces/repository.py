"""Every statement on ``workspaces`` (the workspaces domain owns the table)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.workspaces.models import Workspace


async def insert_workspace(session: AsyncSession, name: str, webhook_token_hash: str) -> uuid.UUID:
    stmt = (
        insert(Workspace)
        .values(name=name, webhook_token_hash=webhook_token_hash)
        .returning(Workspace.id)
    )
    workspace_id: uuid.UUID = (await session.execute(stmt)).scalar_one()
    return workspace_id


async def exists(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    stmt = select(Workspace.id).where(Workspace.id == workspace_id)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def column_of(session: AsyncSession, workspace_id: uuid.UUID, column: Any) -> Any:
    stmt = select(column).where(Workspace.id == workspace_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def identity_settings(session: AsyncSession, workspace_id: uuid.UUID) -> Any:
    stmt = select(
        Workspace.default_phone_region, Workspace.phone_variables, Workspace.linkedin_variables
    ).where(Workspace.id == workspace_id)
    return (await session.execute(stmt)).one_or_none()


async def update_columns(
    session: AsyncSession, workspace_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    """Set columns of one workspace (names from the service's closed set); False if absent."""
    stmt = update(Workspace).where(Workspace.id == workspace_id).values(**values)
    result = await session.execute(stmt.returning(Workspace.id))
    return result.scalar_one_or_none() is not None


def webhook_auth(workspace_id: uuid.UUID) -> Select[Any]:
    """What a webhook needs to authenticate and scope an event (run by ingestion on its own
    pool, once per workspace per auth-cache TTL)."""
    query: Select[Any] = select(  # type: ignore[assignment]
        Workspace.webhook_token_hash,
        Workspace.previous_webhook_token_hash,
        Workspace.previous_webhook_token_expires_at,
        Workspace.emailbison_instance_url,
        Workspace.emailbison_workspace_id,
        Workspace.ghl_location_id,
        Workspace.ghl_rsa_public_key,
        Workspace.ghl_ed25519_public_key,
        Workspace.unipile_account_id,
    ).where(Workspace.id == workspace_id)
    return query


async def rotate_webhook_token(
    session: AsyncSession, workspace_id: uuid.UUID, new_hash: str, grace_s: int
) -> datetime | None:
    """The current hash becomes the previous one (valid ``grace_s`` more); None = no such
    workspace. One statement: two concurrent rotations serialise on the row."""
    stmt = (
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(
            previous_webhook_token_hash=Workspace.webhook_token_hash,
            previous_webhook_token_expires_at=func.now()
            + func.make_interval(0, 0, 0, 0, 0, 0, float(grace_s)),
            webhook_token_hash=new_hash,
        )
        .returning(Workspace.previous_webhook_token_expires_at)
    )
    until: datetime | None = (await session.execute(stmt)).scalar_one_or_none()
    return until


async def list_workspaces(session: AsyncSession, limit: int) -> list[dict[str, Any]]:
    stmt = (
        select(Workspace.id, Workspace.name, Workspace.created_at)
        .order_by(Workspace.name, Workspace.id)
        .limit(limit)
    )
    return [dict(r) for r in (await session.execute(stmt)).mappings()]
