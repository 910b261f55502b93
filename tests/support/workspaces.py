"""Workspaces made through the auth service, with their webhook token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from replydesk.auth.service import create_workspace
from replydesk.core.db import Database


@dataclass(frozen=True)
class Ws:
    id: uuid.UUID
    token: str

    def url(self, provider: str) -> str:
        return f"/webhooks/{provider}/{self.id}"


async def new_workspace(db: Database, name: str = "Acme", **columns: Any) -> Ws:
    """A workspace owned by owner@acme.example; ``columns`` are then set on its row."""
    async with db.session() as session:
        created = await create_workspace(session, name, "owner@acme.example")
        if columns:
            assignments = ", ".join(f"{k} = :{k}" for k in columns)
            await session.execute(
                text(f"UPDATE workspaces SET {assignments} WHERE id = :id"),
                {**columns, "id": created.workspace_id},
            )
    return Ws(created.workspace_id, created.webhook_token)
