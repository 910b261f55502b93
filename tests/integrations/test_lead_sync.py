"""``POST leads/{id}/sync`` against the simulator: the lead's EmailBison replies and sent
e-mails and its GHL SMS are stored under the webhooks' keys, so a later webhook (and a second
sync) adds nothing; the request is deduplicated while a sync waits."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.sim.server import SimServer
from tests.integrations.test_reconcile import _idle, webhook_for
from tests.support.integrations import SECRET_KEY, configure_sim
from tests.support.members import new_workspace_owner
from tests.support.queue import (
    fast_settings,
    fetch,
    fetchval,
    insert_events,
    running_worker,
    wait_until,
)

PHONE = "+15125550143"


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return fast_settings(
        database_url, data_dir=tmp_path / "data", secret_key=SECRET_KEY, outbound_allow_private=True
    )


def _campaign_send(sim: SimServer) -> dict[str, Any]:
    lead = sim.sim.emailbison.leads[501]
    sent = sim.sim.emailbison.sent[501][0]
    return {"event": {"type": "EMAIL_SENT"}, "data": {"scheduled_email": sent, "lead": lead}}


def _ghl_sms(direction: str, message_id: str, body: str) -> dict[str, Any]:
    inbound = direction == "inbound"
    return {
        "type": "InboundMessage" if inbound else "OutboundMessage",
        "locationId": "loc_7Hq2kP",
        "messageId": message_id,
        "contactId": "ct_91XbQe",
        "conversationId": "cv_33LmZa",
        "body": body,
        "messageType": "SMS",
        "direction": direction,
        ("from" if inbound else "to"): PHONE,
        "email": "dana.reyes@northwind.example",
        "dateAdded": "2026-12-01T10:00:00.000Z",
    }


async def _messages(url: str) -> list[tuple[Any, ...]]:
    rows = await fetch(
        url,
        "SELECT lead_id, channel, direction, emailbison_reply_id, emailbison_scheduled_email_id, "
        "ghl_message_id FROM messages ORDER BY id",
    )
    return [tuple(r) for r in rows]


async def test_sync_then_webhook_stores_each_message_once(
    client: httpx.AsyncClient, db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    ws = owner.workspace_id
    await configure_sim(db, settings, sim, ws, Integration.EMAILBISON)
    await configure_sim(db, settings, sim, ws, Integration.GHL)
    registry = build_registry(settings, db)
    async with running_worker(db, registry, settings):
        # The lead as webhooks made it: a campaign send (EmailBison lead 501) and a team SMS.
        await insert_events(
            database_url,
            ws,
            [
                ("emailbison", "EMAIL_SENT", _campaign_send(sim)),
                ("ghl", "OutboundMessage", _ghl_sms("outbound", "msg_team_1", "Calling you at 3")),
            ],
        )
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        (lead_id,) = {m[0] for m in await _messages(database_url)}
        assert len(await _messages(database_url)) == 2

        url = owner.url(f"leads/{lead_id}/sync")
        first = await client.post(url, headers=owner.headers)
        assert first.status_code == 202 and first.json() == {"lead_id": lead_id, "status": "queued"}
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        # The reply (93001) and the inbound SMS (msg_5Tr8Yu) no webhook brought are new; the
        # campaign send (88001) is the same message as its webhook's.
        stored = await _messages(database_url)
        assert sorted(stored, key=str) == sorted(
            [
                (lead_id, "email", "outbound", None, 88001, None),
                (lead_id, "sms", "outbound", None, None, "msg_team_1"),
                (lead_id, "email", "inbound", 93001, None, None),
                (lead_id, "sms", "inbound", None, None, "msg_5Tr8Yu"),
            ],
            key=str,
        )
        # The webhooks arrive after the sync: nothing new.
        await insert_events(
            database_url,
            ws,
            [
                ("emailbison", "LEAD_REPLIED", webhook_for(sim, 93001)),
                (
                    "ghl",
                    "InboundMessage",
                    _ghl_sms("inbound", "msg_5Tr8Yu", "Yes, call me after 3pm"),
                ),
            ],
        )
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        assert len(await _messages(database_url)) == 4
        # A finished sync frees the key: the next request queues a new one (nothing new found).
        again = await client.post(url, headers=owner.headers)
        assert again.json()["status"] == "queued"
        await wait_until(lambda: _idle(database_url), timeout_s=20)
    assert len(await _messages(database_url)) == 4
    result = (await fetch(database_url, "SELECT seq, last_result FROM lead_syncs"))[0]
    assert result["seq"] == 2
    import json

    last = json.loads(result["last_result"])
    assert last["emailbison"] == {"status": "ok", "items": 2}
    assert last["ghl"]["status"] == "ok" and last["unipile"]["status"] == "skipped"
    assert (last["created"], last["seen"]) == (0, 3)  # the simulator holds one SMS


async def test_sync_is_deduplicated_while_pending_and_checks_the_lead(
    client: httpx.AsyncClient, db: Database, database_url: str
) -> None:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    other = await new_workspace_owner(db, "Other", "owner@other.example")
    await insert_events(database_url, owner.workspace_id, [])
    async with db.session() as session:
        from replydesk.leads import service as leads
        from replydesk.leads.identity import keys
        from replydesk.leads.vocabulary import IdentityKind

        person = await leads.resolve_lead(
            session,
            owner.workspace_id,
            keys((IdentityKind.EMAIL, "lee@contoso.example")),
            leads.LeadProfile(),
        )
    url = owner.url(f"leads/{person.lead_id}/sync")
    answers = [(await client.post(url, headers=owner.headers)).json()["status"] for _ in range(3)]
    assert answers == ["queued", "already_queued", "already_queued"]
    assert await fetchval(database_url, "SELECT count(*) FROM jobs WHERE type = 'lead.sync'") == 1
    missing = await client.post(owner.url("leads/999999/sync"), headers=owner.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    foreign = await client.post(other.url(f"leads/{person.lead_id}/sync"), headers=other.headers)
    assert foreign.status_code == 404
