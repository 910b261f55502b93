"""The alert outbox: one row per (workspace, integration, category, day), posted to the
workspace's Slack at most once by the ``alert.deliver`` job, against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.queue import service as queue
from replydesk.queue.vocabulary import ALERT_DELIVER_JOB
from replydesk.sim.server import SimServer
from tests.support.integrations import configure_sim, integration_settings, set_health
from tests.support.logs import LogCapture
from tests.support.queue import fetch, fetchval, running_worker, wait_until
from tests.support.workspaces import new_workspace

AUTH_FAILED = HealthResult(
    HealthStatus.AUTH_FAILED, "provider_auth", "send.example GET /api/users answered 401"
)


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return integration_settings(
        database_url,
        tmp_path,
        feature_slack_alerts=True,
        provider_retry_max_attempts=1,
    )


async def _alerts(url: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await fetch(url, "SELECT * FROM alerts ORDER BY id")]


async def _queue_deliveries(db: Database, settings: Settings) -> int:
    async with db.session() as session:
        return await queue.queue_alert_deliveries(
            session, 100, settings.alert_delivery_max_attempts
        )


async def _delivered(url: str, n: int) -> bool:
    rows = await _alerts(url)
    return sum(r["delivery_status"] != "pending" for r in rows) >= n and not any(
        r["delivery_status"] == "sending" for r in rows
    )


async def test_slack_429_delivers_one_alert_later_never_two(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    ws = await new_workspace(db)
    version = await configure_sim(db, settings, sim, ws.id, Integration.EMAILBISON)
    await configure_sim(db, settings, sim, ws.id, Integration.SLACK)
    # The health transition (ok → auth_failed) records the alert, in the same transaction.
    assert await set_health(db, ws.id, Integration.EMAILBISON, version, AUTH_FAILED)
    (alert,) = await _alerts(database_url)
    assert (alert["integration"], alert["error_class"]) == ("emailbison", "provider_auth")
    assert alert["delivery_status"] == "pending" and "auth_failed" in alert["message"]

    from tests.support.sim import add_fault

    await add_fault(sim, provider="slack", endpoint="webhook", status=429, retry_after=1, times=1)
    assert await _queue_deliveries(db, settings) == 1
    assert await _queue_deliveries(db, settings) == 0  # queued once
    async with running_worker(db, build_registry(settings, db), settings):
        await wait_until(lambda: _delivered(database_url, 1), timeout_s=20)
        # Duplicates: a second job for the same row, a replay of the finished one, the same
        # failure again today (count + 1, same row): none posts again.
        async with db.session() as session:
            await queue.enqueue(session, ALERT_DELIVER_JOB, {"alert_id": alert["id"]}, "dup-1")
        job_id = await fetchval(
            database_url,
            "SELECT id FROM jobs WHERE dedupe_key = $1",
            f"alert.deliver:{alert['id']}",
        )
        async with db.session() as session:
            assert (await queue.replay(session, job_id, table="jobs")) is not None
        assert await set_health(db, ws.id, Integration.EMAILBISON, version, HealthResult.ok())
        assert await set_health(db, ws.id, Integration.EMAILBISON, version, AUTH_FAILED)
        assert await _queue_deliveries(db, settings) == 1  # the "reconnected" alert only

        async def settled() -> bool:
            pending = await fetchval(
                database_url, "SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')"
            )
            return pending == 0 and await _delivered(database_url, 2)

        await wait_until(settled, timeout_s=20)
    rows = await _alerts(database_url)
    assert [(r["error_class"], r["count"], r["delivery_status"]) for r in rows] == [
        ("provider_auth", 2, "delivered"),
        ("reconnected", 1, "delivered"),
    ]
    texts = [p["text"] for p in sim.sim.slack.posts]
    assert len(texts) == 2 and "auth_failed" in texts[0] and "working again" in texts[1]
    # The first attempt met the 429; the retry waited for Retry-After (1 s).
    attempts = await fetch(
        database_url,
        "SELECT a.outcome, a.category, a.started_at, a.finished_at FROM queue_attempts a "
        "WHERE a.item_id = $1 AND a.source = 'jobs' ORDER BY a.id",
        job_id,
    )
    assert [a["outcome"] for a in attempts][:2] == ["retry", "succeeded"]
    assert attempts[0]["category"] == "provider_rate_limited"
    assert (attempts[1]["started_at"] - attempts[0]["finished_at"]).total_seconds() >= 0.9


async def test_without_slack_the_alert_stays_recorded_quietly(
    db: Database, settings: Settings, database_url: str, sim: SimServer, log_capture: LogCapture
) -> None:
    ws = await new_workspace(db)
    version = await configure_sim(db, settings, sim, ws.id, Integration.UNIPILE)
    disconnected = HealthResult(
        HealthStatus.DISCONNECTED, "provider_disconnected", "account disconnected"
    )
    assert await set_health(db, ws.id, Integration.UNIPILE, version, disconnected)
    await _queue_deliveries(db, settings)
    async with running_worker(db, build_registry(settings, db), settings):
        await wait_until(lambda: _delivered(database_url, 1), timeout_s=20)
    (alert,) = await _alerts(database_url)
    assert alert["delivery_status"] == "no_destination" and alert["delivered_at"] is None
    assert sim.sim.slack.posts == []
    assert not [r for r in log_capture.records() if r["level"] in ("error", "warning")]


async def test_dead_letters_go_through_the_same_outbox(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    ws = await new_workspace(db)
    await configure_sim(db, settings, sim, ws.id, Integration.SLACK)
    async with db.session() as session:
        await queue.enqueue(
            session, "no.such.job", {}, "doomed", workspace_id=ws.id, max_attempts=1
        )
    async with running_worker(db, build_registry(settings, db), settings):

        async def dead() -> bool:
            return bool(await fetchval(database_url, "SELECT count(*) FROM alerts"))

        await wait_until(dead, timeout_s=20)
        assert await _queue_deliveries(db, settings) == 1
        await wait_until(lambda: _delivered(database_url, 1), timeout_s=20)
    (alert,) = await _alerts(database_url)
    assert (alert["integration"], alert["error_class"]) == ("queue", "no_handler")
    assert alert["delivery_status"] == "delivered"
    (post,) = sim.sim.slack.posts
    assert "no_handler" in post["text"]


async def test_sweep_is_off_without_the_feature_flag(database_url: str, tmp_path: Any) -> None:
    from replydesk.integrations.alerts.tasks import periodic_tasks

    off = Settings(database_url=database_url, data_dir=tmp_path, feature_slack_alerts=False)
    assert periodic_tasks(off) == []
    on = off.model_copy(update={"feature_slack_alerts": True})
    assert [t.name for t in periodic_tasks(on)] == ["alerts.deliver"]
