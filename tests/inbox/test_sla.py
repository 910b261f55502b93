"""Attention SLA: sla_breached in the counts, filter=sla_breached, the plan, the stale path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.inbox.repository import SLA_BREACHED_SQL
from tests.inbox.test_counts import _app_with, _locked_leads
from tests.support.http import https_client
from tests.support.members import Member
from tests.support.rows import insert_lead


def _ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def _waiting(hours: float, **fields: Any) -> dict[str, Any]:
    at = _ago(hours)
    return {"last_inbound_at": at, "last_message_at": at, "last_inbound_channel": "email", **fields}


async def _seed(db: Database, ws: Any) -> dict[str, int]:
    """Leads around a 4-hour SLA; the keys say which ones breach it."""
    ids = {
        "breached_10h": await insert_lead(db, ws, **_waiting(10)),
        "breached_5h_bounced": await insert_lead(db, ws, **_waiting(5, status="bounced")),
        "breached_snooze_over": await insert_lead(db, ws, **_waiting(30, snoozed_until=_ago(1))),
        "fresh_1h": await insert_lead(db, ws, **_waiting(1)),
        "fresh_3h59": await insert_lead(db, ws, **_waiting(3.98)),
        "snoozed": await insert_lead(
            db, ws, **_waiting(10, snoozed_until=datetime.now(UTC) + timedelta(days=1))
        ),
        "closed": await insert_lead(db, ws, **_waiting(10, status="closed")),
        "unsubscribed": await insert_lead(db, ws, **_waiting(10, status="unsubscribed")),
    }
    # Answered by the team after the lead wrote: not waiting on the team.
    answered = _ago(8)
    ids["answered"] = await insert_lead(
        db,
        ws,
        **_waiting(10, last_team_outbound_at=answered, last_outbound_at=answered),
    )
    # The newest inbound message is an out-of-office auto-reply.
    auto_reply = _waiting(10)
    ids["out_of_office"] = await insert_lead(
        db, ws, **auto_reply, out_of_office_at=auto_reply["last_inbound_at"]
    )
    return ids


BREACHED = {"breached_10h", "breached_5h_bounced", "breached_snooze_over"}


async def _set_sla(client: httpx.AsyncClient, owner: Member, hours: float | None) -> None:
    resp = await client.put(
        owner.url("settings/automation"),
        json={"attention_sla_hours": hours},
        headers=owner.headers,
    )
    assert resp.status_code == 200, resp.text


async def test_sla_breached_is_null_without_an_sla_and_counts_the_breaches_with_one(
    app: FastAPI, db: Database, owner: Member, rival: Member
) -> None:
    await _seed(db, owner.workspace_id)
    await insert_lead(db, rival.workspace_id, **_waiting(50))
    async with https_client(app) as client:
        before = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
        assert (before["attention_sla_hours"], before["sla_breached"]) == (None, None)
        assert before["sla_breached_capped"] is False
        await _set_sla(client, owner, 4)
        body = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
        assert body["stale"] is False
        assert (body["attention_sla_hours"], body["sla_breached"]) == (4.0, 3)
        assert body["sla_breached_capped"] is False
        # The other counts are unchanged by the SLA.
        assert body["requires_attention"] == before["requires_attention"] == 5
        # A tighter SLA breaches more; another tenant's lead never counts.
        await _set_sla(client, owner, 0.5)
        tight = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
        assert tight["sla_breached"] == 5
        await _set_sla(client, owner, None)
        unset = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
        assert unset["sla_breached"] is None
        rival_body = (await client.get(rival.url("inbox/counts"), headers=rival.headers)).json()
        assert rival_body["sla_breached"] is None


async def test_filter_sla_breached_lists_exactly_the_breaches_oldest_waiting_first(
    app: FastAPI, db: Database, owner: Member
) -> None:
    ids = await _seed(db, owner.workspace_id)
    async with https_client(app) as client:
        refused = await client.get(
            owner.url("leads"), params={"filter": "sla_breached"}, headers=owner.headers
        )
        assert refused.status_code == 422
        assert "attention_sla_hours" in refused.json()["error"]["message"]
        await _set_sla(client, owner, 4)
        listed = await client.get(
            owner.url("leads"), params={"filter": "sla_breached"}, headers=owner.headers
        )
        assert listed.status_code == 200, listed.text
        assert {i["id"] for i in listed.json()["items"]} == {ids[k] for k in BREACHED}
        oldest = await client.get(
            owner.url("leads"),
            params={"filter": "sla_breached", "sort": "oldest_waiting", "limit": 2},
            headers=owner.headers,
        )
        page = oldest.json()
        assert [i["id"] for i in page["items"]] == [
            ids["breached_snooze_over"],
            ids["breached_10h"],
        ]
        rest = await client.get(
            owner.url("leads"),
            params={
                "filter": "sla_breached",
                "sort": "oldest_waiting",
                "cursor": page["next_cursor"],
            },
            headers=owner.headers,
        )
        assert [i["id"] for i in rest.json()["items"]] == [ids["breached_5h_bounced"]]
        combined = await client.get(
            owner.url("leads"),
            params={"filter": ["sla_breached", "channel:sms"]},
            headers=owner.headers,
        )
        assert combined.json()["items"] == []


async def test_sla_count_is_an_index_only_scan_of_the_waiting_index(
    db: Database, owner: Member
) -> None:
    await _seed(db, owner.workspace_id)
    async with db.session() as session:
        # A backlog of leads requiring attention, all within the SLA: the count must not
        # walk them (the range starts at the SLA's cutoff).
        await session.execute(
            text(
                "INSERT INTO leads (workspace_id, last_inbound_at, last_message_at, "
                "last_inbound_channel) SELECT :ws, now() - g * interval '1 second', now(), "
                "'email' FROM generate_series(1, 3000) g"
            ),
            {"ws": owner.workspace_id},
        )
    async with db.session() as session:
        await session.execute(text("ANALYZE leads"))
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = (
            await session.execute(
                text("EXPLAIN (FORMAT JSON) " + SLA_BREACHED_SQL.text),
                {"ws": owner.workspace_id, "sla_s": 4 * 3600, "cap": 10_000},
            )
        ).scalar_one()
    rendered = json.dumps(plan)
    assert '"Node Type": "Index Only Scan"' in rendered
    assert '"Index Name": "ix_leads_attention_waiting"' in rendered
    assert '"Node Type": "Limit"' in rendered


async def test_sla_count_over_budget_answers_the_last_good_counts_as_stale(
    app: FastAPI, db: Database, owner: Member, settings: Settings, database_url: str
) -> None:
    await _seed(db, owner.workspace_id)
    async with https_client(app) as client:
        await _set_sla(client, owner, 4)
        good = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
    assert (good["stale"], good["sla_breached"]) == (False, 3)
    slow = _app_with(settings, db, counts_statement_timeout_ms=1)
    # A new app: the stale answer comes from the persisted copy, SLA figures included.
    async with (
        slow.router.lifespan_context(slow),
        https_client(slow) as client,
        _locked_leads(database_url),
    ):
        resp = await client.get(owner.url("inbox/counts"), headers=owner.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["stale"] is True
    assert (body["attention_sla_hours"], body["sla_breached"]) == (4.0, 3)
    assert body["requires_attention"] == good["requires_attention"]
