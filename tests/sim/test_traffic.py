"""``replydesk sim traffic`` against the real app: every delivery accepted once, every
re-delivery answered duplicate, nothing lost."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.sim.traffic import TrafficConfig, run_traffic
from tests.support.http import UvicornServer
from tests.support.workspaces import new_workspace


async def test_stream_with_burst_and_redeliveries(app: FastAPI, db: Database) -> None:
    ws = await new_workspace(
        db,
        emailbison_instance_url="https://send.example-bison.com",
        emailbison_workspace_id=12,
        ghl_location_id="loc_7Hq2kP",
        unipile_account_id="acc_LnK4e",
    )
    async with UvicornServer(app) as server:
        config = TrafficConfig(
            server.base_url,
            str(ws.id),
            ws.token,
            rate=200,
            burst=15,
            count=60,
            redeliver=0.25,
            seed=7,
        )
        report = await run_traffic(config)
    assert report.sent == 60 and not report.errors
    assert report.redeliveries > 0
    assert set(report.by_status) <= {"202 accepted", "200 duplicate"}
    assert report.by_status["200 duplicate"] == report.redeliveries
    assert set(report.by_provider) == {"emailbison", "ghl", "unipile"}
    async with db.session() as session:
        stored = await session.scalar(
            text("SELECT count(*) FROM webhook_events WHERE workspace_id = :w"), {"w": ws.id}
        )
    assert stored == report.by_status["202 accepted"] == 60 - report.redeliveries
