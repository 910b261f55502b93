"""Helpers of the draft tests: a workspace whose providers and AI point at the simulator, an
inbound reply run through the real worker, the draft API."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.queue.worker import Worker
from replydesk.sim.server import SimServer
from tests.integrations.conftest import SECRET_KEY
from tests.support.events import apply_event
from tests.support.members import Member, new_workspace_owner
from tests.support.queue import fetch, running_worker, wait_until
from tests.support.replies import configure, reply_settings
from tests.support.samples import sample
from tests.support.sim import SIM_KEYS

AI_KEY = "sk-proj-DraftSimKey0123456789abcdWXYZ"
KEYS = {**SIM_KEYS, "openai": AI_KEY}


def draft_settings(database_url: str, tmp_path: Any, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "ai_timeout_s": 0.5,
        "ai_verifier_timeout_s": 0.4,
        "ai_max_attempts": 2,
        "ai_backoff_base_s": 0.01,
        "ai_backoff_cap_s": 0.02,
        "ai_retry_after_max_s": 1.0,
        **extra,
    }
    return reply_settings(database_url, tmp_path, SECRET_KEY, **values)


def reply_payload(serial: int, when: str, text: str) -> dict[str, Any]:
    """Dana's EmailBison reply ``serial`` (93001 is the one the simulator knows)."""
    payload = copy.deepcopy(sample("emailbison", "lead_replied"))
    payload["data"]["reply"].update(
        id=serial, text_body=text, html_body=None, date_received=when, interested=False
    )
    payload["data"].pop("campaign_event", None)
    return payload


class Desk:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        client: httpx.AsyncClient,
        owner: Member,
        sim: SimServer,
    ) -> None:
        self.db, self.settings, self.client, self.owner, self.sim = db, settings, client, owner, sim
        self.url = settings.database_url or ""

    @property
    def ws(self) -> uuid.UUID:
        return self.owner.workspace_id

    async def providers(self) -> None:
        await configure(self.db, self.settings, self.ws, self.sim)

    async def ai(self, key: str = AI_KEY) -> httpx.Response:
        body = {"base_url": self.sim.base_url("openai"), "api_key": key}
        resp = await self.client.put(
            self.owner.url("integrations/openai"), json=body, headers=self.owner.headers
        )
        assert resp.status_code == 200, resp.text
        return resp

    async def automation(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.put(
            self.owner.url("settings/automation"), json=body, headers=self.owner.headers
        )

    async def inbound(self, serial: int, when: str, text: str) -> tuple[int, int]:
        out = await apply_event(self.db, self.ws, "emailbison", reply_payload(serial, when, text))
        assert out.lead_id and out.message_id
        return out.lead_id, out.message_id

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[Worker]:
        async with running_worker(
            self.db, build_registry(self.settings, self.db), self.settings
        ) as w:
            yield w

    async def draft_rows(self) -> list[dict[str, Any]]:
        rows = [dict(r) for r in await fetch(self.url, "SELECT * FROM drafts ORDER BY id")]
        for row in rows:  # asyncpg hands jsonb over as text
            row["verifier_notes"] = json.loads(row["verifier_notes"])
            row["timings"] = json.loads(row["timings"])
            row["offered_slots"] = json.loads(row["offered_slots"])
        return rows

    async def wait_drafts(self, count: int, timeout_s: float = 15) -> list[dict[str, Any]]:
        async def enough() -> bool:
            return len(await self.draft_rows()) >= count

        await wait_until(enough, timeout_s=timeout_s)
        return await self.draft_rows()

    async def jobs(self, type_: str) -> list[dict[str, Any]]:
        rows = await fetch(self.url, "SELECT * FROM jobs WHERE type = $1 ORDER BY id", type_)
        return [dict(r) for r in rows]

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(
            self.owner.url(path), params=params, headers=self.owner.headers
        )

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(self.owner.url(path), json=body, headers=self.owner.headers)

    async def draft(self, draft_id: int) -> dict[str, Any]:
        listing = await self.get("drafts", status="pending_review", limit=200)
        for item in listing.json()["items"]:
            if item["id"] == draft_id:
                return dict(item)
        rows = await fetch(self.url, "SELECT lead_id FROM drafts WHERE id = $1", draft_id)
        lead = await self.get(f"leads/{rows[0]['lead_id']}/drafts", limit=200)
        return dict(next(i for i in lead.json()["items"] if i["id"] == draft_id))

    async def integration(self, provider: str) -> dict[str, Any]:
        listing = (await self.get("integrations")).json()
        return dict(next(i for i in listing["items"] if i["provider"] == provider))


# The fixtures of the draft, AI-categorisation, scoring and one-send tests; each of those
# modules binds them (``settings = drafts_support.settings`` …): the drafts' settings, a
# simulator requiring the test keys, and a desk.
@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return draft_settings(database_url, tmp_path)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(keys=KEYS) as server:
        yield server


@pytest.fixture
async def desk(db: Database, settings: Settings, client: httpx.AsyncClient, sim: SimServer) -> Desk:
    owner: Member = await new_workspace_owner(db, "Acme", "owner@acme.example")
    desk = Desk(db, settings, client, owner, sim)
    await desk.providers()
    return desk
