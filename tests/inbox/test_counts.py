"""Inbox counts: the definition, the plan, the lead totals and the stale fallback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import FastAPI
from sqlalchemy import text

from replydesk.app import create_app
from replydesk.core.db import Database, plain_url
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings
from replydesk.inbox.repository import COUNTS_SQL
from tests.support.http import https_client
from tests.support.logs import LogCapture, error_lines
from tests.support.members import Member
from tests.support.rows import at, fetch_rows, insert_lead

FUTURE = datetime.now(UTC) + timedelta(days=3)
PAST = datetime.now(UTC) - timedelta(days=3)


async def _seed_definition_cases(db: Database, owner: Member) -> None:
    ws = owner.workspace_id
    waiting = {"last_inbound_at": at(10), "last_message_at": at(10)}
    # Counted: lead wrote last (email, Interested).
    await insert_lead(db, ws, last_inbound_channel="email", category="interested", **waiting)
    # Not counted: the team answered after the lead.
    await insert_lead(
        db,
        ws,
        last_inbound_channel="sms",
        last_inbound_at=at(10),
        last_team_outbound_at=at(20),
        last_outbound_at=at(20),
        last_message_at=at(20),
    )
    # Counted: the lead wrote again after the team's answer (linkedin, no category).
    await insert_lead(
        db,
        ws,
        last_inbound_channel="linkedin",
        last_inbound_at=at(30),
        last_team_outbound_at=at(20),
        last_message_at=at(30),
    )
    # Counted: only a campaign/sequence send came after the reply; that is not an answer.
    await insert_lead(
        db,
        ws,
        last_inbound_channel="email",
        category="interested",
        last_inbound_at=at(10),
        last_outbound_at=at(40),
        last_message_at=at(40),
    )
    # Snoozed into the future: not counted. Snooze already over: counted.
    await insert_lead(db, ws, last_inbound_channel="sms", snoozed_until=FUTURE, **waiting)
    await insert_lead(
        db,
        ws,
        last_inbound_channel="sms",
        category="meeting_request",
        snoozed_until=PAST,
        **waiting,
    )
    # Unsubscribed and closed: not counted. Bounced: counted.
    await insert_lead(db, ws, last_inbound_channel="email", status="unsubscribed", **waiting)
    await insert_lead(db, ws, last_inbound_channel="email", status="closed", **waiting)
    await insert_lead(db, ws, last_inbound_channel="email", status="bounced", **waiting)
    # Never wrote: not counted. Answered at the same instant: not newer, not counted.
    await insert_lead(db, ws, last_outbound_at=at(5), last_message_at=at(5))
    await insert_lead(
        db,
        ws,
        last_inbound_channel="email",
        last_inbound_at=at(50),
        last_team_outbound_at=at(50),
        last_message_at=at(50),
    )
    # Awaiting a reply but no channel known (rollup written before the column existed).
    await insert_lead(db, ws, **waiting)


async def test_counts_follow_the_definition(
    app: FastAPI, db: Database, owner: Member, rival: Member
) -> None:
    await _seed_definition_cases(db, owner)
    await insert_lead(
        db,
        rival.workspace_id,
        last_inbound_channel="email",
        **{"last_inbound_at": at(10), "last_message_at": at(10)},
    )
    async with https_client(app) as client:
        resp = await client.get(owner.url("inbox/counts"), headers=owner.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["stale"] is False
    datetime.fromisoformat(body["computed_at"])
    assert {k: body[k] for k in ("requires_attention", "by_channel", "by_category")} == {
        "requires_attention": 6,
        "by_channel": {"email": 3, "sms": 1, "linkedin": 1, "unknown": 1},
        "by_category": {"interested": 2, "meeting_request": 1, "uncategorized": 3},
    }
    assert body["total_leads"] == 12


async def test_empty_workspace_counts_are_zero(app: FastAPI, owner: Member) -> None:
    async with https_client(app) as client:
        body = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
    assert body["requires_attention"] == 0
    assert body["by_channel"] == {"email": 0, "sms": 0, "linkedin": 0}
    assert body["by_category"] == {}
    assert body["total_leads"] == 0


async def test_lead_totals_follow_inserts_upserts_deletes_and_truncate(
    db: Database, owner: Member, rival: Member
) -> None:
    ws = owner.workspace_id

    async def total(workspace: object) -> int:
        rows = await fetch_rows(
            db,
            "SELECT coalesce(sum(lead_count), 0) AS n FROM workspace_lead_totals "
            "WHERE workspace_id = :ws",
            ws=workspace,
        )
        return int(rows[0]["n"])

    created = await fetch_rows(
        db,
        "INSERT INTO leads (workspace_id, email) SELECT :ws, 'l' || g || '@x.example' "
        "FROM generate_series(1, 25) g RETURNING id",
        ws=ws,
    )
    await insert_lead(db, rival.workspace_id, email="r@x.example")
    assert await total(ws) == 25
    # An upsert that hits an existing lead is not a new lead; a new one is. (Leads have no
    # identity unique keys since 0007, lead_identities has them: the upsert is on the id.)
    await fetch_rows(
        db,
        "INSERT INTO leads (id, workspace_id, email) VALUES (:old, :ws, 'l1@x.example'), "
        "(:new, :ws, 'new@x.example') ON CONFLICT (id, workspace_id) "
        "DO UPDATE SET first_name = 'x' RETURNING id",
        ws=ws,
        old=created[0]["id"],
        new=10**9,
    )
    assert await total(ws) == 26
    await fetch_rows(
        db, "DELETE FROM leads WHERE workspace_id = :ws AND id % 3 = 0 RETURNING id", ws=ws
    )
    remaining = await fetch_rows(
        db, "SELECT count(*) AS n FROM leads WHERE workspace_id = :ws", ws=ws
    )
    assert await total(ws) == remaining[0]["n"]
    assert await total(rival.workspace_id) == 1
    async with db.session() as session:
        await session.execute(text("TRUNCATE leads CASCADE"))
    assert await total(ws) == 0


async def test_counts_query_reads_counter_rows_not_the_backlog(db: Database, owner: Member) -> None:
    """The plan reads the counter rows and the ended-snooze index, never the backlog
    (ix_leads_attention) nor messages."""
    await _seed_definition_cases(db, owner)
    async with db.session() as session:
        await session.execute(text("ANALYZE leads"))
        await session.execute(text("ANALYZE inbox_counters"))
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = (
            await session.execute(
                text("EXPLAIN (FORMAT JSON) " + COUNTS_SQL.text), {"ws": owner.workspace_id}
            )
        ).scalar_one()
    rendered = json.dumps(plan)
    assert '"Index Name": "pk_inbox_counters"' in rendered
    # Either partial index of snoozed leads bounds the ended-snooze addition.
    assert "ix_leads_snooze_ended" in rendered or "ix_leads_snooze_wake" in rendered
    assert "ix_leads_attention" not in rendered
    assert '"Relation Name": "messages"' not in rendered


@asynccontextmanager
async def _locked_leads(database_url: str, table: str = "leads") -> AsyncIterator[None]:
    """Another session holds ACCESS EXCLUSIVE on leads: any read of leads must wait."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await tx.rollback()
    finally:
        await conn.close()


PER_USER = ("stale", "unread", "unread_capped")


def _app_with(settings: Settings, db: Database, **changes: object) -> FastAPI:
    return create_app(settings.model_copy(update=changes), database=db)


async def test_timeout_answers_last_good_counts_as_stale(
    app: FastAPI,
    db: Database,
    owner: Member,
    settings: Settings,
    database_url: str,
    log_capture: LogCapture,
) -> None:
    await _seed_definition_cases(db, owner)
    async with https_client(app) as client:
        good = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
    assert good["stale"] is False

    stale_before = metrics().counts_served_stale._value.get()
    slow = _app_with(
        settings, db, counts_statement_timeout_ms=1, log_slow_counts_s=0.001, log_slow_paths=True
    )
    # A new app has an empty memory cache: these answers come from inbox_counts_cache.
    async with (
        slow.router.lifespan_context(slow),
        https_client(slow) as client,
        _locked_leads(database_url),
    ):
        first = await client.get(owner.url("inbox/counts"), headers=owner.headers)
        second = await client.get(owner.url("inbox/counts"), headers=owner.headers)
    for resp in (first, second):
        assert resp.status_code == 200
        body = resp.json()
        assert body["stale"] is True
        # The per-user unread count has no fallback: over its budget it is null.
        assert (body["unread"], body["unread_capped"]) == (None, False)
        assert {k: v for k, v in body.items() if k not in PER_USER} == {
            k: v for k, v in good.items() if k not in PER_USER
        }
    records = log_capture.records()
    assert error_lines(records) == []
    fallbacks = [r for r in records if r.get("event") == "inbox_counts_fallback"]
    assert len(fallbacks) == 2
    assert {(r["level"], r["category"]) for r in fallbacks} == {("warning", "db_timeout")}
    # Slow-path lines (threshold lowered): the duration, that the fallback answered, steps.
    slow_lines = [r for r in records if r.get("event") == "inbox_counts_slow"]
    assert len(slow_lines) == 2 and all(r["fallback"] is True for r in slow_lines)
    assert all(set(r["steps_ms"]) == {"query", "fallback"} for r in slow_lines)
    assert all(r["duration_ms"] >= 0 and r["threshold_ms"] == 1 for r in slow_lines)
    assert metrics().counts_served_stale._value.get() - stale_before == 2

    # The first app still has its memory copy: stale from memory, same numbers.
    app.state.settings = settings.model_copy(update={"counts_statement_timeout_ms": 1})
    async with https_client(app) as client, _locked_leads(database_url):
        resp = await client.get(owner.url("inbox/counts"), headers=owner.headers)
    assert resp.status_code == 200
    assert resp.json()["stale"] is True
    assert resp.json()["requires_attention"] == good["requires_attention"]


async def test_unread_over_its_budget_is_null_and_the_counts_still_answer(
    db: Database, owner: Member, settings: Settings, database_url: str, log_capture: LogCapture
) -> None:
    """Counts and unread share one savepoint: the unread count failing after the counts were
    read rolls it back, and the counts (fresh, not stale) still answer."""
    await _seed_definition_cases(db, owner)
    quick = _app_with(settings, db, counts_statement_timeout_ms=300)
    async with quick.router.lifespan_context(quick), https_client(quick) as client:
        good = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
        async with _locked_leads(database_url, table="lead_reads"):
            resp = await client.get(owner.url("inbox/counts"), headers=owner.headers)
    assert resp.status_code == 200
    body = resp.json()
    assert (body["stale"], body["unread"], body["unread_capped"]) == (False, None, False)
    assert good["unread"] is not None
    assert {k: v for k, v in body.items() if k not in (*PER_USER, "computed_at")} == {
        k: v for k, v in good.items() if k not in (*PER_USER, "computed_at")
    }
    records = log_capture.records()
    assert error_lines(records) == []
    assert [
        r["category"] for r in records if r.get("event") == "inbox_unread_count_unavailable"
    ] == ["db_timeout"]
    assert not [r for r in records if r.get("event") == "inbox_counts_fallback"]


async def test_timeout_without_any_cached_counts_is_a_clear_503(
    db: Database, owner: Member, settings: Settings, database_url: str, log_capture: LogCapture
) -> None:
    slow = _app_with(settings, db, counts_statement_timeout_ms=1)
    async with (
        slow.router.lifespan_context(slow),
        https_client(slow) as client,
        _locked_leads(database_url),
    ):
        resp = await client.get(owner.url("inbox/counts"), headers=owner.headers)
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "service_unavailable"
    assert "counts" in resp.json()["error"]["message"]
    assert resp.headers["retry-after"] == "2"
    assert error_lines(log_capture.records()) == []


async def test_counts_recover_after_the_timeout(
    app: FastAPI, db: Database, owner: Member, database_url: str
) -> None:
    async with https_client(app) as client:
        await client.get(owner.url("inbox/counts"), headers=owner.headers)
        await insert_lead(
            db,
            owner.workspace_id,
            last_inbound_channel="sms",
            last_inbound_at=at(1),
            last_message_at=at(1),
        )
        fresh = (await client.get(owner.url("inbox/counts"), headers=owner.headers)).json()
    assert fresh["stale"] is False
    assert fresh["requires_attention"] == 1
    assert fresh["by_channel"]["sms"] == 1
