"""EmailBison reconciliation against the simulator: replies no webhook delivered are
recovered exactly once, a later webhook adds nothing, auth_failed workspaces are skipped,
``replydesk queue stats`` counts what was recovered."""

from __future__ import annotations

import json
from typing import Any

import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.integrations.sync import service
from replydesk.sim.server import SimServer
from tests.support.cli import clean_env, run_replydesk
from tests.support.integrations import configure_sim, integration_settings
from tests.support.queue import (
    fetch,
    fetchval,
    insert_events,
    running_worker,
    wait_until,
)
from tests.support.sim import sim_requests
from tests.support.workspaces import new_workspace


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return integration_settings(
        database_url,
        tmp_path,
        reconcile_max_pages=3,
    )


def webhook_for(sim: SimServer, reply_id: int) -> dict[str, Any]:
    """The LEAD_REPLIED webhook EmailBison would have sent for a reply of the simulator."""
    reply = sim.sim.emailbison.replies[reply_id]
    lead = sim.sim.emailbison.leads[reply["lead_id"]]
    return {"event": {"type": "LEAD_REPLIED"}, "data": {"reply": reply, "lead": lead}}


async def _reconcile(db: Database, settings: Settings, slot: str) -> int:
    async with db.session() as session:
        return await service.queue_reconciliations(session, 100, slot)


async def _idle(url: str) -> bool:
    busy = "SELECT count(*) FROM {t} WHERE status IN ('pending', 'running')"
    jobs = await fetchval(url, busy.format(t="jobs") + " AND type <> 'inbound.postprocess'")
    return jobs == 0 and await fetchval(url, busy.format(t="webhook_events")) == 0


async def _reply_messages(url: str) -> dict[int, int]:
    rows = await fetch(
        url,
        "SELECT emailbison_reply_id AS id, count(*) AS n FROM messages "
        "WHERE emailbison_reply_id IS NOT NULL GROUP BY 1",
    )
    return {r["id"]: r["n"] for r in rows}


async def test_reconciliation_recovers_a_missed_reply_exactly_once(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    ws = await new_workspace(db)
    refused = await new_workspace(db, "Wrong key")
    await configure_sim(db, settings, sim, ws.id, Integration.EMAILBISON)
    await configure_sim(
        db, settings, sim, refused.id, Integration.EMAILBISON, HealthStatus.AUTH_FAILED
    )
    seeded = sorted(sim.sim.emailbison.replies)  # 3 replies no webhook announced
    async with running_worker(db, build_registry(settings, db), settings):
        assert await _reconcile(db, settings, "t1") == 1  # the auth_failed workspace skipped
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        assert await _reply_messages(database_url) == dict.fromkeys(seeded, 1)

        missed = sim.sim.emailbison.add_reply(501, "Following up: is Thursday fine?")
        assert await _reconcile(db, settings, "t2") == 1
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        assert await _reconcile(db, settings, "t2") == 0  # the slot's job exists
        assert await _reconcile(db, settings, "t3") == 1  # nothing new this time
        await wait_until(lambda: _idle(database_url), timeout_s=20)

        # The webhook arrives late after all (or is re-delivered): no second message.
        await insert_events(
            database_url,
            ws.id,
            [("emailbison", "LEAD_REPLIED", webhook_for(sim, missed["id"]))]
            + [("emailbison", "LEAD_REPLIED", webhook_for(sim, r)) for r in seeded],
        )
        await wait_until(lambda: _idle(database_url), timeout_s=20)
    assert await _reply_messages(database_url) == dict.fromkeys([*seeded, missed["id"]], 1)
    state = (await fetch(database_url, "SELECT * FROM emailbison_reconcile"))[0]
    assert state["workspace_id"] == ws.id
    assert (state["cursor"], state["runs"], state["recovered_total"]) == (missed["id"], 3, 4)
    assert state["last_recovered"] == 0 and state["last_complete"]
    # The refused workspace was never polled: every request carried the good workspace's key.
    polls = await sim_requests(sim, "emailbison")
    assert polls and all(r["endpoint"] == "replies.list" for r in polls)
    assert (
        await fetchval(
            database_url, "SELECT count(*) FROM jobs WHERE workspace_id = $1", refused.id
        )
        == 0
    )
    # The lead the missed reply belongs to is the campaign lead (by e-mail and lead id).
    leads = await fetch(database_url, "SELECT DISTINCT lead_id FROM messages")
    assert len(leads) == 3

    proc = run_replydesk("queue", "stats", "--json", env=clean_env(DATABASE_URL=database_url))
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["reconciliation"]["recovered_total"] == 4
    assert stats["reconciliation"]["workspaces"] == 1
    text = run_replydesk("queue", "stats", env=clean_env(DATABASE_URL=database_url))
    assert "4 recovered in 3 runs" in text.stdout


async def test_a_refused_key_stops_reconciliation(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    from tests.support.sim import add_fault

    ws = await new_workspace(db)
    await configure_sim(db, settings, sim, ws.id, Integration.EMAILBISON)
    await add_fault(sim, provider="emailbison", endpoint="replies.list", status=401)
    async with running_worker(db, build_registry(settings, db), settings):
        assert await _reconcile(db, settings, "t1") == 1
        await wait_until(lambda: _idle(database_url), timeout_s=20)
        assert await _reconcile(db, settings, "t2") == 0  # auth_failed: not polled again
    health = (await fetch(database_url, "SELECT * FROM integration_health"))[0]
    assert (health["status"], health["last_error_category"]) == ("auth_failed", "provider_auth")
    assert "api-user key" in health["last_error_message"]
    job = (await fetch(database_url, "SELECT status, last_error FROM jobs"))[0]
    assert job["status"] == "ignored" and "refused the key" in job["last_error"]
    assert await fetchval(database_url, "SELECT error_class FROM alerts") == "provider_auth"
    assert await _reply_messages(database_url) == {}
