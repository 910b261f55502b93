"""Ingestion fixtures: a workspace with its webhook token, sample payloads, row counting."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from replydesk.auth.service import create_workspace
from replydesk.core.db import Database
from tests.ingest.support import UvicornServer

# Copies of ../shared/samples (one webhook payload per provider event), shared by the tests.
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@dataclass(frozen=True)
class Ws:
    id: uuid.UUID
    token: str

    def url(self, provider: str) -> str:
        return f"/webhooks/{provider}/{self.id}"


async def new_workspace(db: Database, name: str = "Acme", **config: Any) -> Ws:
    async with db.session() as session:
        created = await create_workspace(session, name, "owner@acme.example")
        if config:
            assignments = ", ".join(f"{k} = :{k}" for k in config)
            await session.execute(
                text(f"UPDATE workspaces SET {assignments} WHERE id = :id"),
                {**config, "id": created.workspace_id},
            )
    return Ws(created.workspace_id, created.webhook_token)


@pytest.fixture
async def ws(db: Database) -> Ws:
    return await new_workspace(db)


def sample(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / provider / f"{name}.json").read_text())
    return data


def all_samples() -> list[tuple[str, str, dict[str, Any]]]:
    """(provider, event name, payload) for every stored sample plus the event types the
    providers document but the sample set lacks (derived from the closest sample)."""
    out = [
        (path.parent.name, path.stem, json.loads(path.read_text()))
        for path in sorted(SAMPLES.glob("*/*.json"))
    ]
    first = sample("emailbison", "email_sent")
    first["event"]["type"] = "LEAD_FIRST_CONTACTED"
    out.append(("emailbison", "lead_first_contacted", first))
    mailbox = sample("emailbison", "email_sent")
    mailbox["event"]["type"] = "EMAIL_ACCOUNT_DISCONNECTED"
    mailbox["data"] = {"sender_email": mailbox["data"]["sender_email"]}
    out.append(("emailbison", "email_account_disconnected", mailbox))
    read = sample("unipile", "message_received")
    read["event"] = "message_read"
    out.append(("unipile", "message_read", read))
    reaction = sample("unipile", "message_received")
    reaction["event"] = "message_reaction"
    reaction["reaction"] = "👍"
    reaction["reaction_sender"] = {"attendee_provider_id": "ACoAAB1x2y3"}
    out.append(("unipile", "message_reaction", reaction))
    no_id = sample("ghl", "inbound_sms")
    del no_id["messageId"]
    out.append(("ghl", "inbound_sms_without_message_id", no_id))
    return out


async def count_events(db: Database, workspace_id: uuid.UUID | None = None) -> int:
    async with db.session() as session:
        if workspace_id is None:
            return int(
                (await session.execute(text("SELECT count(*) FROM webhook_events"))).scalar_one()
            )
        return int(
            (
                await session.execute(
                    text("SELECT count(*) FROM webhook_events WHERE workspace_id = :w"),
                    {"w": workspace_id},
                )
            ).scalar_one()
        )


async def events(db: Database) -> list[dict[str, Any]]:
    async with db.session() as session:
        rows = await session.execute(
            text(
                "SELECT id, workspace_id, provider, event_type, dedupe_key, status, payload "
                "FROM webhook_events ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


async def post(
    client: httpx.AsyncClient,
    ws: Ws,
    provider: str,
    payload: Any,
    *,
    token: str | None = "",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a payload (dict → JSON, bytes as they are) with the token in ``?token=``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    params = {"token": ws.token if token == "" else token} if token is not None else {}
    hdrs = {"content-type": "application/json", **(headers or {})}
    return await client.post(ws.url(provider), content=body, params=params, headers=hdrs)


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[UvicornServer]:
    """The test app on a real uvicorn server on a loopback port (lifespan run by ``app``)."""
    async with UvicornServer(app) as running:
        yield running
