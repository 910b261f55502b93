"""Workspaces (tenants): creating one with its webhook token, and reading its configuration.

The only writer of ``workspaces``. Creating a workspace together with its owner and first API
token is ``auth.service.create_workspace`` (users, memberships and tokens are auth's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput, NotFound
from replydesk.core.security import hash_token, new_token
from replydesk.workspaces import repository
from replydesk.workspaces.models import Workspace


@dataclass(frozen=True)
class NewWorkspace:
    workspace_id: uuid.UUID
    webhook_token: str  # shown once; only its hash is stored


async def add_workspace(session: AsyncSession, name: str) -> NewWorkspace:
    """A workspace row with a fresh webhook token, in the caller's transaction."""
    name = name.strip()
    if not name:
        raise InvalidInput("workspace name must not be empty")
    webhook_token = new_token("rdw")
    workspace_id = await repository.insert_workspace(session, name, hash_token(webhook_token))
    return NewWorkspace(workspace_id, webhook_token)


async def exists(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    return await repository.exists(session, workspace_id)


async def unipile_own_provider_id(session: AsyncSession, workspace_id: uuid.UUID) -> str | None:
    """The connected LinkedIn account's own provider id (messages it sent are outbound)."""
    value: str | None = await repository.column_of(
        session, workspace_id, Workspace.unipile_account_provider_id
    )
    return value


@dataclass(frozen=True)
class IdentitySettings:
    """How a workspace's events are read for identities (``leads.identity``)."""

    default_phone_region: str
    phone_variables: tuple[str, ...]
    linkedin_variables: tuple[str, ...]


async def identity_settings(session: AsyncSession, workspace_id: uuid.UUID) -> IdentitySettings:
    row = await repository.identity_settings(session, workspace_id)
    if row is None:
        return IdentitySettings("US", (), ())
    return IdentitySettings(
        row.default_phone_region,
        tuple(v.strip().lower() for v in row.phone_variables),
        tuple(v.strip().lower() for v in row.linkedin_variables),
    )


MAX_VARIABLES = 20
MAX_VARIABLE_LENGTH = 64


def _variable_names(field: str, names: list[str]) -> list[str]:
    cleaned = [name.strip().lower() for name in names]
    if not cleaned or len(cleaned) > MAX_VARIABLES:
        raise InvalidInput(f"{field} must list 1 to {MAX_VARIABLES} variable names")
    if any(not name or len(name) > MAX_VARIABLE_LENGTH for name in cleaned):
        raise InvalidInput(f"{field}: each name must be 1 to {MAX_VARIABLE_LENGTH} characters")
    return list(dict.fromkeys(cleaned))  # duplicates dropped, order kept


async def update_identity_settings(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    default_phone_region: str | None = None,
    phone_variables: list[str] | None = None,
    linkedin_variables: list[str] | None = None,
) -> IdentitySettings:
    """Change how new events are read for identities (stored leads are not re-read)."""
    values: dict[str, Any] = {}
    if default_phone_region is not None:
        region = default_phone_region.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidInput(
                "default_phone_region must be an ISO 3166 region code phonenumbers knows, "
                f"such as US, GB or DE; not {default_phone_region!r}"
            )
        values["default_phone_region"] = region
    if phone_variables is not None:
        values["phone_variables"] = _variable_names("phone_variables", phone_variables)
    if linkedin_variables is not None:
        values["linkedin_variables"] = _variable_names("linkedin_variables", linkedin_variables)
    if values and not await repository.update_columns(session, workspace_id, values):
        raise NotFound("workspace not found")
    return await identity_settings(session, workspace_id)


def webhook_auth_query(workspace_id: uuid.UUID) -> Select[Any]:
    return repository.webhook_auth(workspace_id)


@dataclass(frozen=True)
class RotatedWebhookToken:
    workspace_id: uuid.UUID
    webhook_token: str  # shown once; only its hash is stored
    previous_valid_until: datetime  # the token before this one works until then


async def rotate_webhook_token(
    session: AsyncSession, workspace_id: uuid.UUID, grace_s: int
) -> RotatedWebhookToken:
    """A new webhook token; the current one keeps working for ``grace_s`` seconds (the one
    before it, if any, stops now). Every process accepts the new token at once (a mismatch
    reloads its cached entry); the old one stops at the end of the grace period, or within
    ``ingest_auth_cache_ttl_s`` of it on a process that has not reloaded since."""
    webhook_token = new_token("rdw")
    until = await repository.rotate_webhook_token(
        session, workspace_id, hash_token(webhook_token), grace_s
    )
    if until is None:
        raise NotFound("workspace not found")
    return RotatedWebhookToken(workspace_id, webhook_token, until)


@dataclass(frozen=True)
class WorkspaceInfo:
    id: uuid.UUID
    name: str
    created_at: datetime


async def list_workspaces(session: AsyncSession, limit: int = 1000) -> list[WorkspaceInfo]:
    """Every workspace (operators' CLI), by name."""
    return [WorkspaceInfo(**row) for row in await repository.list_workspaces(session, limit)]
