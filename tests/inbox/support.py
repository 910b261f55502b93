"""Inbox test helpers: leads and messages written straight into the tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from replydesk.core.db import Database

T0 = datetime(2026, 1, 19, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def insert_lead(db: Database, workspace_id: uuid.UUID, **fields: Any) -> int:
    fields = {"workspace_id": workspace_id, **fields}
    columns = ", ".join(fields)
    values = ", ".join(f":{k}" for k in fields)
    async with db.session() as session:
        lead_id = (
            await session.execute(
                text(f"INSERT INTO leads ({columns}) VALUES ({values}) RETURNING id"), fields
            )
        ).scalar_one()
    return int(lead_id)


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
    async with db.session() as session:
        message_id = (
            await session.execute(
                text(
                    "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, "
                    "body, occurred_at) VALUES (:ws, :lead, :channel, :direction, :sent_by, "
                    ":body, :at) RETURNING id"
                ),
                {
                    "ws": workspace_id,
                    "lead": lead_id,
                    "channel": channel,
                    "direction": direction,
                    "sent_by": sent_by,
                    "body": body,
                    "at": occurred_at,
                },
            )
        ).scalar_one()
    return int(message_id)


async def snapshot(db: Database, table: str, workspace_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = await session.execute(
            text(f"SELECT * FROM {table} WHERE workspace_id = :ws ORDER BY 1"),
            {"ws": workspace_id},
        )
        return [dict(r) for r in rows.mappings()]
