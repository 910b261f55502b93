"""A provider that goes quiet: silent for silence_factor x its usual gap during the active
hours → degraded / provider_silent (an alert, through record_check) and, for EmailBison, a
reconciliation pull that recovers what the webhooks did not bring."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.settings import Settings, in_active_hours
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.integrations.sync import service
from replydesk.sim.server import SimServer
from tests.integrations.test_reconcile import _idle, _reply_messages
from tests.support.integrations import configure_sim, integration_settings
from tests.support.queue import fetch, running_worker, wait_until
from tests.support.workspaces import new_workspace


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return integration_settings(
        database_url,
        tmp_path,
        silence_factor=6,
        silence_min_s=0,
        silence_min_samples=10,
        silence_active_hours="0-24",
    )


async def _webhooks(url: str, ws: uuid.UUID, provider: str, ending_s_ago: int) -> None:
    """12 webhooks one minute apart, the last ``ending_s_ago`` seconds ago."""
    for i in range(12):
        await fetch(
            url,
            "INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, status, "
            "payload, received_at) VALUES ($1, $2, 'X', $3, 'ignored', '{}'::jsonb, "
            "now() - make_interval(secs => $4))",
            ws,
            provider,
            f"t:{uuid.uuid4()}",
            float(ending_s_ago + (11 - i) * 60),
        )


async def _health(url: str, provider: str) -> dict[str, Any]:
    rows = await fetch(url, "SELECT * FROM integration_health WHERE provider = $1", provider)
    return dict(rows[0])


async def test_a_silent_provider_is_degraded_and_reconciled(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    ws = await new_workspace(db)
    await configure_sim(db, settings, sim, ws.id, Integration.EMAILBISON)
    await configure_sim(db, settings, sim, ws.id, Integration.GHL)
    await _webhooks(database_url, ws.id, "emailbison", ending_s_ago=3 * 3600)  # quiet for 3 h
    await _webhooks(database_url, ws.id, "ghl", ending_s_ago=30)  # still talking

    async with db.session() as session:
        found = await service.detect_silence(session, settings, "s1")
    assert [(f.provider, round(f.usual_gap_s)) for f in found] == [(Integration.EMAILBISON, 60)]
    health = await _health(database_url, "emailbison")
    assert (health["status"], health["last_error_category"]) == ("degraded", "provider_silent")
    assert "usually one every 1.0 min" in health["last_error_message"]
    assert (await _health(database_url, "ghl"))["status"] == "ok"
    activity = {
        r["provider"]: r for r in await fetch(database_url, "SELECT * FROM provider_activity")
    }
    assert activity["emailbison"]["silent_since"] is not None
    assert activity["ghl"]["silent_since"] is None and activity["ghl"]["samples"] == 12

    # A second pass: still silent, already marked — no second alert; another pull.
    async with db.session() as session:
        await service.detect_silence(session, settings, "s2")
    alerts = await fetch(database_url, "SELECT integration, error_class, count FROM alerts")
    assert [tuple(a) for a in alerts] == [("emailbison", "provider_silent", 1)]
    pulls = await fetch(
        database_url, "SELECT dedupe_key FROM jobs WHERE type = 'emailbison.reconcile' ORDER BY id"
    )
    assert [p["dedupe_key"].rsplit(":", 2)[-2:] for p in pulls] == [
        ["silent", "s1"],
        ["silent", "s2"],
    ]

    async with running_worker(db, build_registry(settings, db), settings):
        await wait_until(lambda: _idle(database_url), timeout_s=20)
    assert await _reply_messages(database_url) == {93001: 1, 93002: 1, 93003: 1}


async def test_silence_outside_the_active_hours_is_not_flagged(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    hour = datetime.now(UTC).hour
    later = f"{(hour + 2) % 24}-{(hour + 3) % 24}"
    assert not in_active_hours(later, hour)
    quiet_hours = settings.model_copy(update={"silence_active_hours": later})
    ws = await new_workspace(db)
    await configure_sim(db, settings, sim, ws.id, Integration.EMAILBISON)
    await _webhooks(database_url, ws.id, "emailbison", ending_s_ago=3 * 3600)
    async with db.session() as session:
        assert await service.detect_silence(session, quiet_hours, "s1") == []
    assert (await _health(database_url, "emailbison"))["status"] == "ok"


def test_active_hours_setting() -> None:
    assert in_active_hours("8-20", 8) and not in_active_hours("8-20", 20)
    assert in_active_hours("22-6", 23) and in_active_hours("22-6", 3)
    assert not in_active_hours("22-6", 12)
    for bad in ("8", "8-8", "a-b", "0-25"):
        with pytest.raises(ValueError):
            Settings(silence_active_hours=bad)
