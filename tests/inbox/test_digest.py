"""The daily Slack digest: one per workspace with Slack per UTC day through the alert
outbox, idempotent under replays and concurrent runs, figures only (no PII)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replydesk.app import build_registry, periodic_tasks
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.inbox import digest
from replydesk.inbox.counts import CountsCache
from replydesk.integrations.credentials.vocabulary import Integration
from replydesk.queue import service as queue
from replydesk.sim.server import SimServer
from tests.inbox.test_counts import _locked_leads
from tests.support.drafts import pending_draft
from tests.support.integrations import configure_sim, integration_settings
from tests.support.logs import LogCapture
from tests.support.queue import fetch, running_worker, wait_until
from tests.support.rows import fetch_rows, insert_lead, insert_message
from tests.support.sim import sim
from tests.support.workspaces import new_workspace

__all__ = ["sim"]  # the simulator fixture


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return integration_settings(
        database_url, tmp_path, feature_slack_alerts=True, digest_hour_utc=0
    )


def _ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


async def _waiting_lead(db: Database, ws: Any, hours: float, **fields: Any) -> int:
    at = _ago(hours)
    lead = await insert_lead(
        db,
        ws,
        email=f"pat{hours}@secret-customer.example",
        first_name="Patricia",
        last_name="Secretname",
        last_inbound_at=at,
        last_message_at=at,
        last_inbound_channel="email",
        **fields,
    )
    await insert_message(
        db,
        ws,
        lead,
        channel="email",
        direction="inbound",
        sent_by="lead",
        occurred_at=at,
        body="My private reply body",
    )
    return lead


async def _set_sla(db: Database, ws: Any, hours: float) -> None:
    await fetch_rows(
        db,
        "INSERT INTO automation_settings (workspace_id, settings, updated_at) "
        "VALUES (:ws, CAST(:s AS jsonb), now()) RETURNING workspace_id",
        ws=ws,
        s=f'{{"attention_sla_hours": {hours}}}',
    )


async def _digests(url: str) -> list[dict[str, Any]]:
    rows = await fetch(
        url, "SELECT * FROM alerts WHERE integration = 'digest' ORDER BY workspace_id"
    )
    return [dict(r) for r in rows]


async def test_one_digest_per_workspace_per_day_with_figures_only(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    with_slack = await new_workspace(db, "Acme")
    without = await new_workspace(db, "Quiet")
    await configure_sim(db, settings, sim, with_slack.id, Integration.SLACK)
    await configure_sim(db, settings, sim, with_slack.id, Integration.EMAILBISON)
    await configure_sim(db, settings, sim, without.id, Integration.EMAILBISON)
    await _set_sla(db, with_slack.id, 4)
    old = await _waiting_lead(db, with_slack.id, 50.5)
    await _waiting_lead(db, with_slack.id, 10)
    await _waiting_lead(db, with_slack.id, 1)
    await _waiting_lead(db, without.id, 30)
    await pending_draft(db, with_slack.id, old, "Hi Patricia, thanks for the note")

    cache = CountsCache()
    # Concurrent schedulers and a replayed run: one digest, the others record nothing.
    runs = await asyncio.gather(*(digest.send_digests(db, settings, cache) for _ in range(3)))
    again = await digest.send_digests(db, settings, cache)
    assert sum(r.recorded for r in runs) == 1 and again == digest.DigestRun()
    assert all(r.failed == 0 for r in runs)
    (row,) = await _digests(database_url)
    assert row["workspace_id"] == with_slack.id
    assert (row["error_class"], row["count"], row["delivery_status"]) == (
        "daily_digest",
        1,
        "pending",
    )
    assert row["dedupe_key"] == f"{with_slack.id}:digest:daily_digest:{row['day']}"
    text = row["message"]
    assert text == (
        "ReplyDesk daily digest: 3 leads require attention · 2 waiting longer than the 4 h SLA"
        " · 1 draft pending review · oldest waiting 2 d 2 h"
    )
    for secret in ("Patricia", "Secretname", "secret-customer", "private reply", "Acme"):
        assert secret not in text

    # Through the outbox to the workspace's Slack (the simulator), like any alert.
    async with db.session() as session:
        assert await queue.queue_alert_deliveries(session, 100, 3) == 1
    async with running_worker(db, build_registry(settings, db), settings):

        async def delivered() -> bool:
            return (await _digests(database_url))[0]["delivery_status"] == "delivered"

        await wait_until(delivered, timeout_s=20)


async def test_no_digest_before_the_hour_and_no_sla_is_said(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    ws = await new_workspace(db)
    await configure_sim(db, settings, sim, ws.id, Integration.SLACK)
    hour = datetime.now(UTC).hour
    if hour < 23:
        later = settings.model_copy(update={"digest_hour_utc": hour + 1})
        assert await digest.send_digests(db, later, CountsCache()) == digest.DigestRun()
        assert await _digests(database_url) == []
    done = await digest.send_digests(db, settings, CountsCache())
    assert done.recorded == 1
    (row,) = await _digests(database_url)
    assert row["message"] == (
        "ReplyDesk daily digest: 0 leads require attention · no attention SLA set"
        " · 0 drafts pending review"
    )


async def test_the_batch_is_bounded_and_the_next_run_continues(
    db: Database, settings: Settings, database_url: str, sim: SimServer
) -> None:
    for i in range(5):
        ws = await new_workspace(db, f"W{i}")
        await configure_sim(db, settings, sim, ws.id, Integration.SLACK)
    small = settings.model_copy(update={"digest_batch": 2})
    assert [(await digest.send_digests(db, small, CountsCache())).recorded for _ in range(4)] == [
        2,
        2,
        1,
        0,
    ]
    assert len(await _digests(database_url)) == 5


def test_the_task_is_registered_only_with_slack_delivery_on(settings: Settings) -> None:
    assert "inbox.daily_digest" in {t.name for t in periodic_tasks(settings)}
    off = settings.model_copy(update={"feature_slack_alerts": False})
    assert "inbox.daily_digest" not in {t.name for t in periodic_tasks(off)}


def test_age_is_whole_units() -> None:
    assert [
        digest.age(s) for s in (30, 14 * 60 + 59, 5 * 3600 + 12 * 60, 2 * 86400 + 3 * 3600)
    ] == [
        "0 min",
        "14 min",
        "5 h 12 min",
        "2 d 3 h",
    ]


async def test_a_workspace_over_the_budget_fails_visibly_and_the_next_run_records_it(
    db: Database,
    settings: Settings,
    database_url: str,
    sim: SimServer,
    log_capture: LogCapture,
) -> None:
    ws = await new_workspace(db)
    await configure_sim(db, settings, sim, ws.id, Integration.SLACK)
    await _waiting_lead(db, ws.id, 3)
    tight = settings.model_copy(update={"counts_statement_timeout_ms": 1})
    async with _locked_leads(database_url):
        done = await digest.send_digests(db, tight, CountsCache())
    assert done == digest.DigestRun(failed=1)
    assert await _digests(database_url) == []
    (line,) = [r for r in log_capture.records() if r["event"] == "daily_digest_failed"]
    assert (line["level"], line["workspace_id"]) == ("warning", str(ws.id))
    assert "secret-customer" not in json.dumps(line)
    assert (await digest.send_digests(db, settings, CountsCache())).recorded == 1
    (row,) = await _digests(database_url)
    assert "1 lead requires attention" in row["message"]
    assert "oldest waiting 3 h 0 min" in row["message"]
