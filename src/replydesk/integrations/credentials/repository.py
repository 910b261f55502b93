"""Every statement on integration_credentials, integration_health and emailbison_hosts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.sql import statement
from replydesk.integrations.credentials.vocabulary import HealthStatus

UPSERT_CREDENTIALS = statement(
    """
    INSERT INTO integration_credentials (workspace_id, provider, settings, secret_hint,
                                         secret_ciphertext)
    VALUES (:ws, :provider, CAST(:settings AS jsonb), :hint, :ciphertext)
    ON CONFLICT (workspace_id, provider) DO UPDATE SET
        settings = EXCLUDED.settings,
        secret_hint = EXCLUDED.secret_hint,
        secret_ciphertext = EXCLUDED.secret_ciphertext,
        version = integration_credentials.version + 1,
        updated_at = now()
    RETURNING version
    """
)
# A PUT starts the health over: unknown, since now, no error; check_seq is kept (it only grows).
RESET_HEALTH = statement(
    f"""
    INSERT INTO integration_health (workspace_id, provider, status)
    VALUES (:ws, :provider, '{HealthStatus.UNKNOWN}')
    ON CONFLICT (workspace_id, provider) DO UPDATE SET
        status = EXCLUDED.status, since = now(), last_checked_at = NULL,
        last_error_category = NULL, last_error_message = NULL
    RETURNING check_seq
    """
)
DELETE_CREDENTIALS = statement(
    "DELETE FROM integration_credentials WHERE workspace_id = :ws AND provider = :provider "
    "RETURNING provider"
)
LIST_FOR_WORKSPACE = statement(
    """
    SELECT c.provider, c.settings, c.secret_hint, c.updated_at, h.status, h.since,
           h.last_checked_at, h.last_error_category, h.last_error_message
      FROM integration_credentials c
      LEFT JOIN integration_health h USING (workspace_id, provider)
     WHERE c.workspace_id = :ws
    """
)
CHECK_TARGET = statement(
    """
    SELECT c.version, coalesce(h.check_seq, 0) AS check_seq
      FROM integration_credentials c
      LEFT JOIN integration_health h USING (workspace_id, provider)
     WHERE c.workspace_id = :ws AND c.provider = :provider
    """
)
# Periodic checks: every configured integration, oldest check first, bounded.
DUE_FOR_CHECK = statement(
    """
    SELECT c.workspace_id, c.provider, c.version, coalesce(h.check_seq, 0) AS check_seq
      FROM integration_credentials c
      LEFT JOIN integration_health h USING (workspace_id, provider)
     ORDER BY h.last_checked_at NULLS FIRST, c.workspace_id, c.provider
     LIMIT :limit
    """
)
LOAD_FOR_CHECK = statement(
    "SELECT settings, secret_ciphertext, version FROM integration_credentials "
    "WHERE workspace_id = :ws AND provider = :provider"
)
# The health row a result applies to, locked, if the credentials still have the version the
# result was produced with (a check or send that read credentials replaced meanwhile writes
# nothing).
LOCK_HEALTH = statement(
    """
    SELECT h.status, h.last_error_category, h.last_error_message, h.limited_until,
           h.failure_streak
      FROM integration_health h
      JOIN integration_credentials c USING (workspace_id, provider)
     WHERE h.workspace_id = :ws AND h.provider = :provider AND c.version = :version
       FOR UPDATE OF h
    """
)
# ``since`` moves only when the status changes; a check also stamps and counts itself.
WRITE_HEALTH = statement(
    """
    UPDATE integration_health h SET
        since = CASE WHEN h.status = :status THEN h.since ELSE now() END,
        status = :status,
        last_error_category = :category, last_error_message = :message,
        limited_until = :limited_until, failure_streak = :streak,
        last_checked_at = CASE WHEN :checked THEN now() ELSE h.last_checked_at END,
        check_seq = h.check_seq + CASE WHEN :checked THEN 1 ELSE 0 END
     WHERE h.workspace_id = :ws AND h.provider = :provider
    """
)
# What gates a reply or a send: configured, the status, how long a rate limit lasts.
GATE = statement(
    """
    SELECT c.version, coalesce(h.status, 'unknown') AS status, h.limited_until,
           h.last_error_category, h.last_error_message
      FROM integration_credentials c
      LEFT JOIN integration_health h USING (workspace_id, provider)
     WHERE c.workspace_id = :ws AND c.provider = :provider
    """
)
# Configured integrations of some providers with their health (reconciliation, silence).
CONFIGURED = statement(
    """
    SELECT c.workspace_id, c.provider, c.version, c.updated_at,
           coalesce(h.status, 'unknown') AS status, h.last_error_category
      FROM integration_credentials c
      LEFT JOIN integration_health h
        ON h.workspace_id = c.workspace_id AND h.provider = c.provider
     WHERE c.provider = ANY(CAST(:providers AS text[]))
     ORDER BY c.workspace_id, c.provider LIMIT :limit
    """
)
# Key rotation: credentials in key order, one chunk at a time (keyset on the primary key).
CIPHERTEXT_CHUNK = statement(
    """
    SELECT workspace_id, provider, secret_ciphertext FROM integration_credentials
     WHERE (workspace_id, provider) > (:after_ws, :after_provider)
     ORDER BY workspace_id, provider LIMIT :limit FOR UPDATE
    """
)
SET_CIPHERTEXT = statement(
    "UPDATE integration_credentials SET secret_ciphertext = :ciphertext "
    "WHERE workspace_id = :ws AND provider = :provider"
)
LIST_HOSTS = statement("SELECT host FROM emailbison_hosts ORDER BY host")
ADD_HOST = statement(
    "INSERT INTO emailbison_hosts (host) VALUES (:host) ON CONFLICT DO NOTHING RETURNING host"
)
REMOVE_HOST = statement("DELETE FROM emailbison_hosts WHERE host = :host RETURNING host")


async def upsert_credentials(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    provider: str,
    settings: dict[str, Any],
    hint: str,
    ciphertext: str,
) -> int:
    params = {
        "ws": workspace_id,
        "provider": provider,
        "settings": json.dumps(settings),
        "hint": hint,
        "ciphertext": ciphertext,
    }
    version: int = (await session.execute(UPSERT_CREDENTIALS, params)).scalar_one()
    return version


async def reset_health(session: AsyncSession, workspace_id: uuid.UUID, provider: str) -> int:
    params = {"ws": workspace_id, "provider": provider}
    seq: int = (await session.execute(RESET_HEALTH, params)).scalar_one()
    return seq


async def delete_credentials(session: AsyncSession, workspace_id: uuid.UUID, provider: str) -> bool:
    params = {"ws": workspace_id, "provider": provider}
    return (await session.execute(DELETE_CREDENTIALS, params)).first() is not None


async def list_for_workspace(
    session: AsyncSession, workspace_id: uuid.UUID
) -> Sequence[RowMapping]:
    return (await session.execute(LIST_FOR_WORKSPACE, {"ws": workspace_id})).mappings().all()


async def check_target(
    session: AsyncSession, workspace_id: uuid.UUID, provider: str
) -> RowMapping | None:
    params = {"ws": workspace_id, "provider": provider}
    return (await session.execute(CHECK_TARGET, params)).mappings().one_or_none()


async def due_for_check(session: AsyncSession, limit: int) -> Sequence[RowMapping]:
    return (await session.execute(DUE_FOR_CHECK, {"limit": limit})).mappings().all()


async def load_for_check(
    session: AsyncSession, workspace_id: uuid.UUID, provider: str
) -> RowMapping | None:
    params = {"ws": workspace_id, "provider": provider}
    return (await session.execute(LOAD_FOR_CHECK, params)).mappings().one_or_none()


async def lock_health(
    session: AsyncSession, workspace_id: uuid.UUID, provider: str, version: int
) -> RowMapping | None:
    params = {"ws": workspace_id, "provider": provider, "version": version}
    return (await session.execute(LOCK_HEALTH, params)).mappings().one_or_none()


async def write_health(session: AsyncSession, params: dict[str, Any]) -> None:
    await session.execute(WRITE_HEALTH, params)


async def gate(session: AsyncSession, workspace_id: uuid.UUID, provider: str) -> RowMapping | None:
    params = {"ws": workspace_id, "provider": provider}
    return (await session.execute(GATE, params)).mappings().one_or_none()


async def ciphertext_chunk(
    session: AsyncSession, after: tuple[uuid.UUID, str], limit: int
) -> Sequence[RowMapping]:
    params = {"after_ws": after[0], "after_provider": after[1], "limit": limit}
    return (await session.execute(CIPHERTEXT_CHUNK, params)).mappings().all()


async def set_ciphertext(
    session: AsyncSession, workspace_id: uuid.UUID, provider: str, ciphertext: str
) -> None:
    params = {"ws": workspace_id, "provider": provider, "ciphertext": ciphertext}
    await session.execute(SET_CIPHERTEXT, params)


async def list_hosts(session: AsyncSession) -> list[str]:
    return list((await session.execute(LIST_HOSTS)).scalars().all())


async def add_host(session: AsyncSession, host: str) -> bool:
    return (await session.execute(ADD_HOST, {"host": host})).first() is not None


async def remove_host(session: AsyncSession, host: str) -> bool:
    return (await session.execute(REMOVE_HOST, {"host": host})).first() is not None


async def configured(
    session: AsyncSession, providers: Sequence[str], limit: int
) -> Sequence[RowMapping]:
    params = {"providers": list(providers), "limit": limit}
    return (await session.execute(CONFIGURED, params)).mappings().all()
