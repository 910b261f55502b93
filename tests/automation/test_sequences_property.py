"""Each follow-up step is sent at most once, whatever happens around the tick: random
histories of ticks, two ticks at once, steps falling due, replays of an already-taken step
(a tick working from a stale state) and repeated enrolments, against real PostgreSQL.

After every operation: no idempotency key of the reply path has two messages, every queued
step row has exactly its one message, and each enrolment's sent count equals its queued
steps. At the end, once every step has fallen due, each step was sent exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from replydesk.automation.sequences.tick import run_tick
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.sim.server import SimServer
from tests.automation.drafts_support import KEYS, draft_settings, reply_payload
from tests.support.events import apply_event
from tests.support.integrations import configure_sim
from tests.support.members import new_workspace_owner
from tests.support.queue import fetch

STEPS = 3
ops = st.lists(
    st.one_of(
        st.tuples(st.just("tick")),
        st.tuples(st.just("concurrent")),
        st.tuples(st.just("due")),
        st.tuples(st.just("replay_step"), st.integers(0, 1)),
        st.tuples(st.just("enrol_again"), st.integers(0, 1)),
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    # One due step per claim: two concurrent ticks interleave their batches.
    return draft_settings(database_url, tmp_path, followup_batch_size=1)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(keys=KEYS) as server:
        yield server


async def _setup(
    db: Database, cfg: Settings, client: httpx.AsyncClient, sim: SimServer
) -> tuple[str, list[int], int, dict[str, str]]:
    """A fresh workspace, Dana, two 3-step sequences and her two enrolments."""
    owner = await new_workspace_owner(db, "Prop", f"{uuid.uuid4().hex[:10]}@acme.example")
    await configure_sim(db, cfg, sim, owner.workspace_id, Integration.EMAILBISON)
    out = await apply_event(
        db,
        owner.workspace_id,
        "emailbison",
        reply_payload(93001, "2026-01-23T18:20:00.000000Z", "Thanks, noted."),
    )
    assert out.lead_id is not None
    followups: list[int] = []
    steps = [
        {"channel": "email", "delay_hours": 1, "template": f"Step {n}, {{first_name}}"}
        for n in range(STEPS)
    ]
    for name in ("A", "B"):
        body = {"name": name, "trigger": "manual", "steps": steps, "enabled": True}
        seq = await client.post(owner.url("sequences"), json=body, headers=owner.headers)
        assert seq.status_code == 201, seq.text
        enrolled = await client.post(
            owner.url(f"leads/{out.lead_id}/followups"),
            json={"sequence_id": seq.json()["id"]},
            headers=owner.headers,
        )
        assert enrolled.status_code == 201, enrolled.text
        followups.append(int(enrolled.json()["id"]))
    return str(owner.workspace_id), followups, out.lead_id, owner.headers


async def _check(url: str, ws: str) -> None:
    keys = await fetch(
        url,
        "SELECT idempotency_key, count(*) AS n FROM messages WHERE workspace_id = $1::uuid "
        "AND idempotency_key LIKE 'followup:%' GROUP BY idempotency_key",
        ws,
    )
    assert all(k["n"] == 1 for k in keys), [dict(k) for k in keys]
    queued = await fetch(
        url,
        "SELECT s.followup_id, s.step, s.reply_message_id, m.idempotency_key "
        "FROM followup_steps s LEFT JOIN messages m ON m.id = s.reply_message_id "
        "WHERE s.workspace_id = $1::uuid AND s.status = 'queued'",
        ws,
    )
    assert len(queued) == len(keys)
    for row in queued:
        assert row["reply_message_id"] is not None
        assert row["idempotency_key"].endswith(f":{row['step']}")
    counts = await fetch(
        url,
        "SELECT f.id, f.sent_count, (SELECT count(*) FROM followup_steps s "
        "  WHERE s.workspace_id = f.workspace_id AND s.followup_id = f.id "
        "    AND s.status = 'queued') AS queued "
        "FROM followups f WHERE f.workspace_id = $1::uuid",
        ws,
    )
    assert all(c["sent_count"] == c["queued"] for c in counts), [dict(c) for c in counts]


async def _apply(
    op: tuple[Any, ...],
    db: Database,
    cfg: Settings,
    client: httpx.AsyncClient,
    url: str,
    ws: str,
    followups: list[int],
    lead_id: int,
    headers: dict[str, str],
) -> None:
    kind = op[0]
    if kind == "tick":
        await run_tick(db, cfg)
    elif kind == "concurrent":
        await asyncio.gather(run_tick(db, cfg), run_tick(db, cfg))
    elif kind == "due":
        await fetch(
            url,
            "UPDATE followups SET next_step_at = now() "
            "WHERE workspace_id = $1::uuid AND next_step_at IS NOT NULL",
            ws,
        )
    elif kind == "replay_step":
        # A tick working from a stale state: the enrolment one step back, due now.
        await fetch(
            url,
            "UPDATE followups SET current_step = greatest(current_step - 1, 0), "
            "state = 'active', next_step_at = now() WHERE id = $1",
            followups[op[1]],
        )
    elif kind == "enrol_again":
        seq = await fetch(url, "SELECT sequence_id FROM followups WHERE id = $1", followups[op[1]])
        resp = await client.post(
            f"/api/v1/workspaces/{ws}/leads/{lead_id}/followups",
            json={"sequence_id": seq[0]["sequence_id"]},
            headers=headers,
        )
        assert resp.status_code in (200, 409), resp.text
        if resp.status_code == 200:
            assert resp.json()["id"] == followups[op[1]]


@given(history=ops)
@examples(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_each_step_is_sent_at_most_once_under_replays_and_concurrent_ticks(
    db: Database,
    settings: Settings,
    client: httpx.AsyncClient,
    sim: SimServer,
    history: list[tuple[Any, ...]],
) -> None:
    url = settings.database_url or ""
    ws, followups, lead_id, headers = await _setup(db, settings, client, sim)
    for op in history:
        await _apply(op, db, settings, client, url, ws, followups, lead_id, headers)
        await _check(url, ws)
    # Let every remaining step fall due: each was sent exactly once.
    for _ in range(STEPS + 1):
        await _apply(("due",), db, settings, client, url, ws, followups, lead_id, headers)
        await run_tick(db, settings)
    await _check(url, ws)
    sent = await fetch(
        url,
        "SELECT idempotency_key FROM messages WHERE workspace_id = $1::uuid "
        "AND idempotency_key LIKE 'followup:%' ORDER BY idempotency_key",
        ws,
    )
    seqs = await fetch(
        url, "SELECT sequence_id FROM followups WHERE workspace_id = $1::uuid ORDER BY id", ws
    )
    expected = sorted(
        f"followup:{lead_id}:{s['sequence_id']}:{n}" for s in seqs for n in range(STEPS)
    )
    assert [r["idempotency_key"] for r in sent] == expected
    states = await fetch(url, "SELECT state FROM followups WHERE workspace_id = $1::uuid", ws)
    assert {r["state"] for r in states} == {"completed"}
