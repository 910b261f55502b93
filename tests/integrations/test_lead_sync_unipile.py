"""``POST leads/{id}/sync`` for LinkedIn against the simulator (real HTTP on loopback): the chat
id a Unipile webhook or our own reply recorded on the lead's LinkedIn identity is pulled
(``GET /api/v1/chats/{id}/messages``) under the webhook's key (``message_id``), so a webhook
before or after the pull and the echo of our reply are stored once; without a chat id the
sync says so (skipped, at debug); a 401 is recorded with its category, never retried."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.sim.server import SimServer
from tests.integrations.test_reconcile import _idle
from tests.support.integrations import SECRET_KEY, configure_sim, set_health
from tests.support.logs import LogCapture
from tests.support.members import Member, new_workspace_owner
from tests.support.queue import fetch, fetchval, insert_events, running_worker, wait_until
from tests.support.replies import DANA_LINKEDIN, dana, echo, reply_settings
from tests.support.samples import sample
from tests.support.sim import add_fault, sim_requests

CHAT = "chat_Qw81"  # the simulator's chat with Dana: umsg_7701 (ours), then umsg_7788 (hers)


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return reply_settings(database_url, tmp_path, SECRET_KEY)


async def _linkedin(url: str) -> list[tuple[Any, ...]]:
    rows = await fetch(
        url,
        "SELECT lead_id, direction, sent_by, status, unipile_message_id FROM messages "
        "WHERE channel = 'linkedin' ORDER BY unipile_message_id",
    )
    return [tuple(r) for r in rows]


async def _chat_of(url: str, provider_id: str) -> str | None:
    chat: str | None = await fetchval(
        url,
        "SELECT unipile_chat_id FROM lead_identities WHERE kind = 'linkedin_id' AND value = $1",
        provider_id,
    )
    return chat


async def _sync(client: httpx.AsyncClient, owner: Member, url: str, lead_id: int) -> dict[str, Any]:
    """Request a sync, wait for it; the lead's last result."""
    resp = await client.post(owner.url(f"leads/{lead_id}/sync"), headers=owner.headers)
    assert resp.status_code == 202, resp.text
    await wait_until(lambda: _idle(url), timeout_s=20)
    raw = await fetchval(url, "SELECT last_result FROM lead_syncs WHERE lead_id = $1", lead_id)
    result: dict[str, Any] = json.loads(raw)
    return result


async def _webhooks(url: str, owner: Member, *payloads: dict[str, Any]) -> None:
    await insert_events(
        url, owner.workspace_id, [("unipile", "message_received", p) for p in payloads]
    )
    await wait_until(lambda: _idle(url), timeout_s=20)


async def test_webhook_then_sync_then_echo_stores_each_linkedin_message_once(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure_sim(db, settings, sim, owner.workspace_id, Integration.UNIPILE)
    async with running_worker(db, build_registry(settings, db), settings):
        # Dana's reply arrives by webhook first: the lead, and her identity's chat.
        await _webhooks(database_url, owner, sample("unipile", "message_received"))
        ((lead_id, *_),) = await _linkedin(database_url)
        assert await _chat_of(database_url, DANA_LINKEDIN) == CHAT

        result = await _sync(client, owner, database_url, lead_id)
        assert result["unipile"] == {"status": "ok", "items": 2, "chats": 1, "complete": True}
        assert (result["seen"], result["created"]) == (2, 1)  # her reply was there already
        assert await _linkedin(database_url) == [
            (lead_id, "outbound", "team", "received", "umsg_7701"),  # sent from LinkedIn itself
            (lead_id, "inbound", "lead", "received", "umsg_7788"),
        ]
        # The webhooks of both arrive (again, or late): nothing new; a second sync neither.
        _, own = echo("linkedin", "umsg_7701", "Hi Dana")
        await _webhooks(database_url, owner, sample("unipile", "message_received"), own)
        again = await _sync(client, owner, database_url, lead_id)
        assert (again["seen"], again["created"]) == (2, 0)
    assert len(await _linkedin(database_url)) == 2
    pulls = await sim_requests(sim, "unipile", "chats.messages")
    assert len(pulls) == 2 and pulls[0]["path"].endswith(f"/api/v1/chats/{CHAT}/messages")


async def test_reply_records_its_chat_and_sync_then_webhooks_add_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure_sim(db, settings, sim, owner.workspace_id, Integration.UNIPILE)
    lead_id = await dana(db, owner.workspace_id)  # e-mail reply + LinkedIn id, no chat yet
    assert await _chat_of(database_url, DANA_LINKEDIN) is None
    async with running_worker(db, build_registry(settings, db), settings):
        resp = await client.post(
            owner.url(f"leads/{lead_id}/replies"),
            json={"channel": "linkedin", "body": "Tuesday 10:00 works for me."},
            headers=owner.headers,
        )
        assert resp.status_code == 202, resp.text
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        ((*_, status, reply_key),) = await _linkedin(database_url)
        assert status == "sent" and reply_key
        # POST /api/v1/chats answered Dana's chat: recorded on her LinkedIn identity.
        assert await _chat_of(database_url, DANA_LINKEDIN) == CHAT

        # Sync first: the chat's two older messages are new, our reply is matched by its id.
        result = await _sync(client, owner, database_url, lead_id)
        assert result["unipile"]["status"] == "ok" and result["unipile"]["items"] == 3
        assert (result["seen"], result["created"]) == (3, 2)
        assert sorted(await _linkedin(database_url)) == sorted(
            [
                (lead_id, "outbound", "team", "received", "umsg_7701"),
                (lead_id, "inbound", "lead", "received", "umsg_7788"),
                (lead_id, "outbound", "team", "sent", reply_key),
            ]
        )
        # Then the webhooks: Dana's reply and the echo of ours add nothing.
        _, own = echo("linkedin", reply_key, "Tuesday 10:00 works for me.")
        await _webhooks(database_url, owner, sample("unipile", "message_received"), own)
    assert len(await _linkedin(database_url)) == 3


async def test_a_lead_without_a_chat_id_is_skipped_at_debug(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    database_url: str,
    sim: SimServer,
    log_capture: LogCapture,
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure_sim(db, settings, sim, owner.workspace_id, Integration.UNIPILE)
    lead_id = await dana(db, owner.workspace_id)  # a LinkedIn id, but no LinkedIn message
    async with running_worker(db, build_registry(settings, db), settings):
        result = await _sync(client, owner, database_url, lead_id)
    assert result["unipile"]["status"] == "skipped"
    assert "no Unipile chat id" in result["unipile"]["reason"]
    assert await sim_requests(sim, "unipile") == []
    lines = [r for r in log_capture.records() if r.get("event") == "lead_sync_skipped"]
    assert lines and {r["level"] for r in lines} == {"debug"}
    assert not [r for r in log_capture.records() if r.get("level") in ("warning", "error")]


async def test_a_unipile_401_during_sync_is_recorded_once_and_gates_the_next(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    version = await configure_sim(db, settings, sim, ws, Integration.UNIPILE)
    await add_fault(
        sim,
        provider="unipile",
        endpoint="chats.messages",
        status=401,
        type="errors/disconnected_account",
    )
    async with running_worker(db, build_registry(settings, db), settings):
        await _webhooks(database_url, owner, sample("unipile", "message_received"))
        ((lead_id, *_),) = await _linkedin(database_url)
        result = await _sync(client, owner, database_url, lead_id)
        failed = result["unipile"]
        assert (failed["status"], failed["category"]) == ("failed", "provider_disconnected")
        assert "disconnected_account" in failed["reason"]
        # One call, one attempt: a refusal is not retried, by the client nor by the queue.
        assert len(await sim_requests(sim, "unipile", "chats.messages")) == 1
        job = (
            await fetch(database_url, "SELECT status, attempts FROM jobs WHERE type = 'lead.sync'")
        )[0]
        assert (job["status"], job["attempts"]) == ("succeeded", 1)
        # Once the health says disconnected, a sync does not call Unipile at all.
        disconnected = HealthResult(HealthStatus.DISCONNECTED, "provider_disconnected", "401")
        assert await set_health(db, ws, Integration.UNIPILE, version, disconnected)
        gated = await _sync(client, owner, database_url, lead_id)
    assert gated["unipile"]["status"] == "skipped"
    assert len(await sim_requests(sim, "unipile", "chats.messages")) == 1
