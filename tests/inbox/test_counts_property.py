"""Counts correctness over random event histories, applied through the real processing code.

Each example is a random sequence of provider events (EmailBison replies, manual and campaign
sends, unsubscribes, bounces; GHL inbound/outbound SMS from the team or a workflow; Unipile
LinkedIn messages both ways) with timestamps independent of the delivery order, replays of
earlier deliveries, operator PATCHes (snooze, close, category), snoozes that end on the clock
(before and after the wake-up task ran), merges of two leads, and merges and splits undone at
once (which must give back exactly the state before: counts, rollups, fields and where every
message, event and identity lives). Every event goes through
``replydesk.integrations.processing.process_event`` in its own transaction, as the worker
runs it.

After every step the counts endpoint must equal an independent Python model of the history,
and the counter rows (inbox_counters, kept by triggers) must equal the backlog counted from
leads; at the end the counts must also equal the original-style slow query over messages,
``inbox recount`` must find no drift, and an attention SLA cutting the history in two must
breach exactly the slow query's leads that waited longer (``sla_breached`` and
``filter=sla_breached``). The model and deliveries are in
tests/support/counts_history.py, the operations in tests/support/counts_ops.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from replydesk.auth.service import create_workspace
from replydesk.core.db import Database
from replydesk.core.retention import Bounds
from replydesk.inbox.counters import recount_workspaces
from replydesk.leads.tasks import wake_ended_snoozes
from tests.support import counts_ops as ops_api
from tests.support.counters import assert_counters_exact
from tests.support.counts_history import (
    EVENT_KINDS,
    MODEL_KEY,
    SLOW_REFERENCE_SQL,
    T0,
    Delivery,
    Groups,
    ModelLead,
    delivery,
    expected_counts,
    model_apply,
    model_merge,
)
from tests.support.http import https_client
from tests.support.rows import fetch_rows

# A snooze that ends while the test runs: set this far ahead, then waited out.
SHORT_SNOOZE = timedelta(milliseconds=250)
WAKE = Bounds(batch_size=100, max_batches=10, budget_s=10.0)

event_op = st.tuples(
    st.just("event"), st.sampled_from(EVENT_KINDS), st.integers(0, 1), st.integers(0, 12)
)
replay_op = st.tuples(st.just("replay"), st.integers(0, 10_000))
WHO = st.sampled_from(["email0", "email1", "sms", "linkedin"])
patch_op = st.tuples(
    st.just("patch"),
    WHO,
    st.sampled_from(["snooze", "unsnooze", "past_snooze", "close", "reopen", "categorize"]),
)
# Time-based transitions: a snooze that ends on the clock; the wake-up task's run.
short_snooze_op = st.tuples(st.just("short_snooze"), WHO)
wake_op = st.tuples(st.just("wake"))
# Operator identity changes: a merge that stands; a merge, and a split, each undone at once
# (the state must come back exactly).
# Two of the leads that exist at that point (by index; skipped with fewer than two).
merge_op = st.tuples(st.just("merge"), st.integers(0, 3), st.integers(1, 3))
roundtrip_op = st.tuples(st.just("roundtrip"), st.integers(0, 3), st.integers(1, 3))
split_op = st.tuples(st.just("split_roundtrip"), WHO)
# What operators add: a note, one of two tags and the caller's read mark on a lead.
annotate_op = st.tuples(st.just("annotate"), WHO, st.integers(0, 1))
history = st.lists(
    st.one_of(
        event_op,
        event_op,
        event_op,
        replay_op,
        patch_op,
        short_snooze_op,
        wake_op,
        merge_op,
        roundtrip_op,
        split_op,
    ),
    max_size=30,
)

# Every person known first (four leads), then histories rich in merges and round trips.
FOUR_LEADS: list[tuple[Any, ...]] = [
    ("event", "bison_reply", 0, 1),
    ("event", "bison_reply", 1, 2),
    ("event", "ghl_in", 0, 3),
    ("event", "unipile_in", 0, 4),
]
merge_history = st.lists(
    st.one_of(
        event_op,
        patch_op,
        short_snooze_op,
        wake_op,
        annotate_op,
        merge_op,
        roundtrip_op,
        roundtrip_op,
        split_op,
        split_op,
    ),
    min_size=3,
    max_size=20,
)


@given(ops=history)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_counts_match_the_history_and_the_slow_reference(
    app: FastAPI, db: Database, ops: list[tuple[Any, ...]]
) -> None:
    await _check_history(app, db, ops)


@given(ops=merge_history)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_counts_stay_exact_through_merges_splits_and_unmerges(
    app: FastAPI, db: Database, ops: list[tuple[Any, ...]]
) -> None:
    await _check_history(app, db, FOUR_LEADS + ops)


async def _short_snooze(
    client: Any, db: Database, ws: Any, headers: dict[str, str], who: str, lead: ModelLead
) -> None:
    """Snooze ``who``'s lead for SHORT_SNOOZE and wait it out: the snooze has ended, the
    wake-up task has not run, so the counts must take the lead back on their own."""
    lead_id = await ops_api.lead_of(db, ws, who)
    if lead_id is None:
        return
    until = datetime.now(UTC) + SHORT_SNOOZE
    resp = await client.patch(
        f"/api/v1/workspaces/{ws}/leads/{lead_id}",
        json={"snoozed_until": until.isoformat()},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.02)
    lead.snoozed = False
    flag = await fetch_rows(db, "SELECT snooze_active FROM leads WHERE id = :id", id=lead_id)
    # False only when the PATCH itself took longer than the snooze (a slow machine).
    event("ended snooze not woken yet" if flag[0]["snooze_active"] else "snooze over at write")


async def _check_history(app: FastAPI, db: Database, ops: list[tuple[Any, ...]]) -> None:
    """Apply ``ops``; counts equal the model and the counter rows equal the leads after every
    step, the slow query at the end; every merge or split undone at once gives back exactly
    the state before it (notes, tags and read marks included)."""
    async with db.session() as session:
        created = await create_workspace(session, "Prop", "sam@acme.example")
    ws = created.workspace_id
    headers = {"Authorization": f"Bearer {created.api_token}"}
    model: dict[str, ModelLead] = {}
    groups = Groups()
    delivered: list[Delivery] = []
    async with https_client(app) as client:
        for serial, op in enumerate(ops, start=1):
            d: Delivery | None = None
            if op[0] == "merge":
                pair = await ops_api.pick(db, ws, op[1], op[2])
                if pair is not None:
                    assert await ops_api.merge(client, db, ws, headers, *pair) is not None
                    model_merge(model, groups, *pair)
                    event("merged")
            elif op[0] in ("roundtrip", "split_roundtrip"):
                before = await ops_api.state(client, db, ws, headers)
                record = None
                if op[0] == "roundtrip":
                    pair = await ops_api.pick(db, ws, op[1], op[2])
                    if pair is not None:
                        record = await ops_api.merge(client, db, ws, headers, *pair)
                else:
                    record = await ops_api.split(client, db, ws, headers, op[1])
                if record is not None:
                    event(f"{op[0]} undone")
                    await ops_api.undo(client, ws, headers, record)
                    assert await ops_api.state(client, db, ws, headers) == before, ops
            elif op[0] == "annotate":
                await ops_api.annotate(client, db, ws, headers, op[1], op[2])
            elif op[0] == "short_snooze":
                lead = model.get(groups.find(MODEL_KEY[op[1]]))
                if lead is not None:
                    await _short_snooze(client, db, ws, headers, op[1], lead)
            elif op[0] == "wake":
                if await wake_ended_snoozes(db, WAKE):
                    event("woken")
            elif op[0] == "event":
                _, kind, who, minute = op
                d = delivery(kind, who, minute, serial)
                delivered.append(d)
            elif op[0] == "replay":
                if not delivered:
                    continue
                d = delivered[op[1] % len(delivered)]
            else:
                await ops_api.patch(client, db, ws, headers, op[1], op[2], model, groups)
            if d is not None:
                await ops_api.apply(db, ws, d)
                model_apply(model, d, groups)
            resp = await client.get(f"/api/v1/workspaces/{ws}/inbox/counts", headers=headers)
            assert resp.status_code == 200
            body = resp.json()
            assert body["stale"] is False
            assert {k: body[k] for k in expected_counts(model)} == expected_counts(model), ops
            await assert_counters_exact(db, ws)

        async with db.session() as session:
            rows = (await session.execute(SLOW_REFERENCE_SQL, {"ws": ws})).all()
        final = (await client.get(f"/api/v1/workspaces/{ws}/inbox/counts", headers=headers)).json()
        listed = (
            await client.get(
                f"/api/v1/workspaces/{ws}/leads",
                params={"filter": "requires_attention", "limit": 200},
                headers=headers,
            )
        ).json()
    assert final["requires_attention"] == len(rows)
    for channel in ("email", "sms", "linkedin"):
        assert final["by_channel"][channel] == sum(1 for r in rows if r.channel == channel)
    categories: dict[str, int] = {}
    for r in rows:
        categories[r.category or "uncategorized"] = (
            categories.get(r.category or "uncategorized", 0) + 1
        )
    assert final["by_category"] == dict(sorted(categories.items()))
    assert sorted(item["id"] for item in listed["items"]) == sorted(r.id for r in rows)
    assert await recount_workspaces(db, ws) == (1, [])
    await _check_sla(app, db, ws, headers, rows)


async def _check_sla(
    app: FastAPI, db: Database, ws: Any, headers: dict[str, str], rows: list[Any]
) -> None:
    """The attention SLA against the slow reference: an SLA whose cutoff falls in the middle
    of the history's minutes (T0 + 6.5 min; written straight into the settings, since the
    history lies further back than the 90 days the API accepts) breaches exactly the
    reference's leads whose newest inbound message (from ``messages``) is older."""
    cutoff = T0 + timedelta(minutes=6.5)
    hours = (datetime.now(UTC) - cutoff).total_seconds() / 3600
    await fetch_rows(
        db,
        "INSERT INTO automation_settings (workspace_id, settings, updated_at) "
        "VALUES (:ws, CAST(:s AS jsonb), now()) ON CONFLICT (workspace_id) "
        "DO UPDATE SET settings = EXCLUDED.settings RETURNING workspace_id",
        ws=ws,
        s=json.dumps({"attention_sla_hours": hours}),
    )
    breached = sorted(r.id for r in rows if r.last_in < cutoff)
    async with https_client(app) as client:
        counts = (await client.get(f"/api/v1/workspaces/{ws}/inbox/counts", headers=headers)).json()
        listed = (
            await client.get(
                f"/api/v1/workspaces/{ws}/leads",
                params={"filter": "sla_breached", "limit": 200},
                headers=headers,
            )
        ).json()
    assert counts["sla_breached"] == len(breached)
    assert sorted(item["id"] for item in listed["items"]) == breached
    event("sla breached: some" if breached else "sla breached: none")
