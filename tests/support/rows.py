"""Rows written and read straight through the application's ``Database`` (one session each)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from replydesk.core.db import Database

T0 = datetime(2026, 1, 19, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def fetch_rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of ``sql`` (``:name`` parameters) as dicts, in a committed session."""
    async with db.session() as session:
        return [dict(r) for r in (await session.execute(text(sql), params)).mappings()]


async def _inserted_id(db: Database, sql: str, **params: Any) -> int:
    return int((await fetch_rows(db, sql, **params))[0]["id"])


async def insert_lead(db: Database, workspace_id: uuid.UUID, **fields: Any) -> int:
    fields = {"workspace_id": workspace_id, **fields}
    columns = ", ".join(fields)
    values = ", ".join(f":{k}" for k in fields)
    return await _inserted_id(
        db, f"INSERT INTO leads ({columns}) VALUES ({values}) RETURNING id", **fields
    )


async def insert_message(
    db: Database,
    workspace_id: uuid.UUID,
    lead_id: int,
    *,
    channel: str,
    direction: str,
    sent_by: str,
    occurred_at: datetime,
    body: str = "hello",
) -> int:
    return await _inserted_id(
        db,
        "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, "
        "body, occurred_at) VALUES (:ws, :lead, :channel, :direction, :sent_by, "
        ":body, :at) RETURNING id",
        ws=workspace_id,
        lead=lead_id,
        channel=channel,
        direction=direction,
        sent_by=sent_by,
        body=body,
        at=occurred_at,
    )


async def insert_event(
    db: Database, workspace_id: uuid.UUID, provider: str, status: str, **extra: Any
) -> int:
    """A webhook event row in ``status`` (payload ``{"n": 1}``, a random dedupe key)."""
    return await _inserted_id(
        db,
        "INSERT INTO webhook_events (workspace_id, provider, event_type, status, payload, "
        "dedupe_key, attempts, last_error) VALUES (:ws, :provider, 'EVT', :status, "
        "CAST(:payload AS jsonb), :key, :attempts, :last_error) RETURNING id",
        ws=workspace_id,
        provider=provider,
        status=status,
        payload=json.dumps({"n": 1}),
        key=str(uuid.uuid4()),
        attempts=extra.get("attempts", 0),
        last_error=extra.get("last_error"),
    )


async def snapshot(db: Database, table: str, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    return await fetch_rows(
        db, f"SELECT * FROM {table} WHERE workspace_id = :ws ORDER BY 1", ws=workspace_id
    )


async def count_events(db: Database, workspace_id: uuid.UUID | None = None) -> int:
    if workspace_id is None:
        rows = await fetch_rows(db, "SELECT count(*) AS n FROM webhook_events")
    else:
        rows = await fetch_rows(
            db, "SELECT count(*) AS n FROM webhook_events WHERE workspace_id = :w", w=workspace_id
        )
    return int(rows[0]["n"])


async def events(db: Database) -> list[dict[str, Any]]:
    return await fetch_rows(
        db,
        "SELECT id, workspace_id, provider, event_type, dedupe_key, status, payload "
        "FROM webhook_events ORDER BY id",
    )
