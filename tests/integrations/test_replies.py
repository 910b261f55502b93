"""Replying from the inbox against the provider simulator (real HTTP), through the worker: one
reply per channel end to end with its webhook echo, idempotency, refusals, and the fault drills
(disconnect → gate → reconnect → resume, 422 → quarantine, 429 → held then sent, EmailBison
401 → auth_failed, ambiguous sends, e-mail-only leads and SMS)."""

from __future__ import annotations

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
from tests.support.events import apply_event
from tests.support.integrations import SECRET_KEY
from tests.support.logs import LogCapture
from tests.support.members import Member, add_member, new_workspace_owner
from tests.support.queue import fetch, fetchval, running_worker, wait_until
from tests.support.replies import (
    DANA_EMAIL,
    configure,
    dana,
    echo,
    reply_settings,
)
from tests.support.sim import SIM_KEYS, add_fault, clear_faults, sim_requests

BODIES = {
    "email": "Tuesday at 10 works — invite on its way.",
    "sms": "Great, talk at 3:30.",
    "linkedin": "Happy to chat next week, Dana!",
}
KEY_COLUMNS = {
    "email": "emailbison_reply_id",
    "sms": "ghl_message_id",
    "linkedin": "unipile_message_id",
}


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return reply_settings(database_url, tmp_path, SECRET_KEY)


@asynccontextmanager
async def worker(db: Database, settings: Settings) -> AsyncIterator[Worker]:
    async with running_worker(db, build_registry(settings, db), settings) as w:
        yield w


async def _message(url: str, message_id: int) -> dict[str, Any]:
    rows = await fetch(url, "SELECT * FROM messages WHERE id = $1", message_id)
    return dict(rows[0])


async def _reply(
    client: httpx.AsyncClient, member: Member, lead_id: int, channel: str, **extra: Any
) -> httpx.Response:
    headers = {**member.headers, **extra.pop("headers", {})}
    body = {"channel": channel, "body": BODIES[channel], **extra}
    return await client.post(member.url(f"leads/{lead_id}/replies"), json=body, headers=headers)


async def _lead(client: httpx.AsyncClient, member: Member, lead_id: int) -> dict[str, Any]:
    resp = await client.get(member.url(f"leads/{lead_id}"), headers=member.headers)
    assert resp.status_code == 200, resp.text
    found: dict[str, Any] = resp.json()
    return found


async def _messages(client: httpx.AsyncClient, member: Member, lead_id: int) -> list[Any]:
    resp = await client.get(member.url(f"leads/{lead_id}/messages"), headers=member.headers)
    assert resp.status_code == 200, resp.text
    items: list[Any] = resp.json()["items"]
    return items


async def _health(url: str, provider: str) -> dict[str, Any]:
    rows = await fetch(url, "SELECT * FROM integration_health WHERE provider = $1", provider)
    return dict(rows[0])


async def _status_is(url: str, message_id: int, *statuses: str) -> bool:
    return (await _message(url, message_id))["status"] in statuses


async def _counts(client: httpx.AsyncClient, member: Member) -> int:
    resp = await client.get(member.url("inbox/counts"), headers=member.headers)
    assert resp.status_code == 200, resp.text
    return int(resp.json()["requires_attention"])


async def test_a_reply_per_channel_is_sent_and_its_echo_stored_once(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    database_url: str,
    sim: SimServer,
    log_capture: LogCapture,
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    # Any member may reply.
    member = await add_member(db, owner.workspace_id, "agent@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    assert (await _lead(client, owner, lead_id))["requires_attention"] is True
    assert await _counts(client, owner) == 1

    queued: dict[str, dict[str, Any]] = {}
    for channel in BODIES:
        resp = await _reply(client, member, lead_id, channel)
        assert resp.status_code == 202, resp.text
        queued[channel] = resp.json()
        assert queued[channel]["status"] == "queued" and queued[channel]["failure"] is None
    # Queued is enough to leave "requires attention"; no provider was called on the request.
    assert (await _lead(client, owner, lead_id))["requires_attention"] is False
    assert await _counts(client, owner) == 0
    assert [r for r in await sim_requests(sim) if r["method"] == "POST"] == []

    async with worker(db, settings):
        for shown in queued.values():
            await wait_until(lambda i=shown["id"]: _status_is(database_url, i, "sent", "failed"))
    stored = {c: await _message(database_url, m["id"]) for c, m in queued.items()}
    for channel, row in stored.items():
        assert row["status"] == "sent", (channel, row["failure_message"])
        assert row[KEY_COLUMNS[channel]] is not None, channel
        assert row["send_started_at"] is None
    # E-mail answered in the thread of Dana's reply 93001, to the address she wrote from.
    (thread_reply,) = await sim_requests(sim, "emailbison", "replies.reply")
    assert thread_reply["path"].endswith("/api/replies/93001/reply")

    before = await fetchval(database_url, "SELECT count(*) FROM messages")
    for channel, row in stored.items():
        provider, payload = echo(channel, row[KEY_COLUMNS[channel]], BODIES[channel])
        outcome = await apply_event(db, owner.workspace_id, provider, payload)
        assert outcome.message_id == row["id"] and not outcome.message_created, channel
    assert await fetchval(database_url, "SELECT count(*) FROM messages") == before

    items = await _messages(client, owner, lead_id)
    statuses = {m["id"]: m["status"] for m in items}
    assert {statuses[m["id"]] for m in queued.values()} == {"sent"}
    assert next(m for m in items if m["direction"] == "inbound")["status"] == "received"
    assert (await _lead(client, owner, lead_id))["requires_attention"] is False
    assert await _counts(client, owner) == 0
    health = await fetch(database_url, "SELECT provider, status FROM integration_health")
    assert {r["status"] for r in health} == {"ok"}

    # No key and no reply text in any log line.
    logged = log_capture.text
    for secret in SIM_KEYS.values():
        assert secret not in logged
    for body in BODIES.values():
        assert body not in logged
    assert "reply_sent" in logged


async def test_the_same_idempotency_key_returns_the_same_message(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    key = {"Idempotency-Key": "reply-7f3a"}
    first = await _reply(client, owner, lead_id, "sms", headers=key)
    again = await _reply(client, owner, lead_id, "sms", headers=key)
    assert first.status_code == again.status_code == 202, again.text
    assert first.json()["id"] == again.json()["id"]
    assert await fetchval(database_url, "SELECT count(*) FROM jobs WHERE type = 'reply.send'") == 1
    other = await _reply(client, owner, lead_id, "email", headers=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    without = [await _reply(client, owner, lead_id, "sms") for _ in range(2)]
    assert without[0].json()["id"] != without[1].json()["id"]


async def test_refusals_use_the_common_error_shape(
    client: httpx.AsyncClient, db: Database, settings: Settings, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    lead_id = await dana(db, owner.workspace_id, phone=False)
    resp = await _reply(client, owner, lead_id, "linkedin")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "integration_not_configured"
    await configure(db, settings, owner.workspace_id, sim)
    resp = await _reply(client, owner, lead_id, "sms")
    assert resp.status_code == 422 and "phone number" in resp.json()["error"]["message"]
    resp = await _reply(client, owner, 999_999, "sms")
    assert resp.status_code == 404
    blank = await client.post(
        owner.url(f"leads/{lead_id}/replies"),
        json={"channel": "email", "body": "   "},
        headers=owner.headers,
    )
    assert blank.status_code == 422
    other = await new_workspace_owner(db, "Other", "owner@other.example")
    resp = await _reply(client, other, lead_id, "email")
    assert resp.status_code == 404


async def test_unipile_disconnect_gates_linkedin_until_a_check_succeeds(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    await add_fault(
        sim, provider="unipile", endpoint="chats.start", status=401, type="disconnected_account"
    )
    await add_fault(
        sim, provider="unipile", endpoint="accounts.get", status=401, type="disconnected_account"
    )
    held = (await _reply(client, owner, lead_id, "linkedin")).json()
    async with worker(db, settings):

        async def disconnected() -> bool:
            return (await _health(database_url, "unipile"))["status"] == "disconnected"

        await wait_until(disconnected)
        # Held, not failed: still queued, and the lead stays answered meanwhile.
        row = await _message(database_url, held["id"])
        assert row["status"] == "queued" and row["send_holds"] >= 1
        refused = await _reply(client, owner, lead_id, "linkedin")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "integration_disconnected"
        # Other channels are not gated.
        assert (await _reply(client, owner, lead_id, "sms")).status_code == 202
        gated = await fetchval(
            database_url,
            "SELECT count(*) FROM jobs WHERE type = 'reply.send' AND status = 'ignored' "
            "AND last_error LIKE 'health_gated%'",
        )
        # Reconnected: a check succeeds, the gate lifts and the held reply goes out.
        await clear_faults(sim)
        check = await client.post(owner.url("integrations/unipile/check"), headers=owner.headers)
        assert check.status_code == 202
        await wait_until(lambda: _status_is(database_url, held["id"], "sent"))
    assert (await _health(database_url, "unipile"))["status"] == "ok"
    assert (await _reply(client, owner, lead_id, "linkedin")).status_code == 202
    assert gated >= 1  # the held send's job: ignored, reason health_gated (counted)
    started = await sim_requests(sim, "unipile", "chats.start")
    assert len([r for r in started if r["status"] == 201]) == 1


async def test_unipile_422_recipient_quarantines_the_channel(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    await add_fault(
        sim, provider="unipile", endpoint="chats.start", status=422, type="invalid_recipient"
    )
    sent = (await _reply(client, owner, lead_id, "linkedin")).json()
    assert (await _lead(client, owner, lead_id))["requires_attention"] is False
    async with worker(db, settings):
        await wait_until(lambda: _status_is(database_url, sent["id"], "failed"))
    failed = next(m for m in await _messages(client, owner, lead_id) if m["id"] == sent["id"])
    assert failed["failure"]["category"] == "provider_invalid_recipient"
    assert "invalid_recipient" in failed["failure"]["message"]
    assert failed["failure"]["unknown_delivery"] is False
    lead = await _lead(client, owner, lead_id)
    assert lead["channels"]["linkedin"]["state"] == "quarantined"
    assert lead["channels"]["linkedin"]["reason"] == "invalid_recipient"
    assert lead["channels"]["email"] == {"state": "ok", "reason": None, "since": None}
    # The reply failed for good: the lead needs attention again (counts agree).
    assert lead["requires_attention"] is True
    assert await _counts(client, owner) == 1
    # Not retried, and further LinkedIn replies are refused until lifted.
    assert len(await sim_requests(sim, "unipile", "chats.start")) == 1
    refused = await _reply(client, owner, lead_id, "linkedin")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "recipient_unreachable"
    assert (await _health(database_url, "unipile"))["status"] == "ok"
    lifted = await client.delete(
        owner.url(f"leads/{lead_id}/quarantine/linkedin"), headers=owner.headers
    )
    assert lifted.status_code == 200 and lifted.json()["channels"]["linkedin"]["state"] == "ok"
    again = await client.delete(
        owner.url(f"leads/{lead_id}/quarantine/linkedin"), headers=owner.headers
    )
    assert again.status_code == 200
    assert (await _reply(client, owner, lead_id, "linkedin")).status_code == 202


async def test_a_rate_limited_send_waits_and_is_sent_later(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    await add_fault(
        sim, provider="unipile", endpoint="chats.start", status=429, retry_after=1, times=1
    )
    sent = (await _reply(client, owner, lead_id, "linkedin")).json()
    async with worker(db, settings):

        async def limited() -> bool:
            return (await _health(database_url, "unipile"))["status"] == "rate_limited"

        await wait_until(limited)
        assert (await _message(database_url, sent["id"]))["status"] == "queued"
        await wait_until(lambda: _status_is(database_url, sent["id"], "sent", "failed"))
    row = await _message(database_url, sent["id"])
    assert row["status"] == "sent" and row["send_holds"] == 1
    assert (await _health(database_url, "unipile"))["status"] == "ok"
    assert len(await sim_requests(sim, "unipile", "chats.start")) == 2


async def test_emailbison_401_is_auth_failed_with_the_remedy(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    await add_fault(sim, provider="emailbison", status=401)
    held = (await _reply(client, owner, lead_id, "email")).json()
    async with worker(db, settings):

        async def failed() -> bool:
            return (await _health(database_url, "emailbison"))["status"] == "auth_failed"

        await wait_until(failed)
    listing = (await client.get(owner.url("integrations"), headers=owner.headers)).json()
    item = next(i for i in listing["items"] if i["provider"] == "emailbison")
    assert item["status"] == "auth_failed"
    assert item["last_error"]["category"] == "provider_auth"
    assert "api-user key" in item["last_error"]["message"]
    assert SIM_KEYS["emailbison"] not in str(listing)
    # Sends stop (held, not failed) and new e-mail replies are refused until fixed.
    assert (await _message(database_url, held["id"]))["status"] == "queued"
    refused = await _reply(client, owner, lead_id, "email")
    assert (
        refused.status_code == 409 and refused.json()["error"]["code"] == "integration_disconnected"
    )
    assert "api-user key" in refused.json()["error"]["message"]


async def test_an_ambiguous_send_is_checked_not_repeated(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id)
    # Delivered, but no answer before our send timeout: the thread shows it → sent.
    await add_fault(
        sim, provider="emailbison", endpoint="replies.reply", hang=True, after_effect=True, times=1
    )
    delivered = (await _reply(client, owner, lead_id, "email")).json()
    async with worker(db, settings):
        await wait_until(lambda: _status_is(database_url, delivered["id"], "sent", "failed"))
        row = await _message(database_url, delivered["id"])
        assert row["status"] == "sent" and row["emailbison_reply_id"] is not None
        assert len(await sim_requests(sim, "emailbison", "replies.reply")) == 1
        # Not delivered and no answer (Unipile cannot be checked for a new chat): failed,
        # provider_timeout, delivery unknown, never sent twice.
        await add_fault(sim, provider="unipile", endpoint="chats.start", hang=True)
        unknown = (await _reply(client, owner, lead_id, "linkedin")).json()
        await wait_until(lambda: _status_is(database_url, unknown["id"], "sent", "failed"))
        await clear_faults(sim)
    shown = next(m for m in await _messages(client, owner, lead_id) if m["id"] == unknown["id"])
    assert shown["status"] == "failed"
    assert shown["failure"]["category"] == "provider_timeout"
    assert shown["failure"]["unknown_delivery"] is True
    assert len(await sim_requests(sim, "unipile", "chats.start")) == 1


async def test_an_email_only_lead_has_no_sms_work(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    sim: SimServer,
    log_capture: LogCapture,
) -> None:
    from replydesk.integrations.ghl.client import GhlClient, SmsSkipped

    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    await configure(db, settings, owner.workspace_id, sim)
    lead_id = await dana(db, owner.workspace_id, phone=False, linkedin=False)
    refused = await _reply(client, owner, lead_id, "sms")
    assert refused.status_code == 422
    assert await sim_requests(sim, "ghl") == []
    async with GhlClient(sim.base_url("ghl"), SIM_KEYS["ghl"], "loc_7Hq2kP") as ghl:
        skipped = await ghl.send_sms("ct_1", "hello", phone=None)
    assert isinstance(skipped, SmsSkipped)
    lines = [r for r in log_capture.records() if r.get("event") == "sms_skipped"]
    assert lines and {r["level"] for r in lines} == {"debug"}
    assert lines[0]["reason"] == "expected_skip"
    assert not [r for r in log_capture.records() if r.get("level") in ("warning", "error")]
    assert DANA_EMAIL not in log_capture.text


async def test_an_unsubscribed_lead_gets_no_reply(
    client: httpx.AsyncClient, db: Database, settings: Settings, sim: SimServer, database_url: str
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    lead_id = await dana(db, owner.workspace_id)
    await configure(db, settings, owner.workspace_id, sim)
    patched = await client.patch(
        owner.url(f"leads/{lead_id}"), json={"status": "unsubscribed"}, headers=owner.headers
    )
    assert patched.status_code == 200, patched.text
    resp = await _reply(client, owner, lead_id, "email")
    assert resp.status_code == 409, resp.text
    assert resp.json()["error"]["code"] == "unsubscribed"
    queued = await fetchval(
        database_url,
        "SELECT count(*) FROM messages WHERE lead_id = $1 AND status = 'queued'",
        lead_id,
    )
    assert queued == 0
