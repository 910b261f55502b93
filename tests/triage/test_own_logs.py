"""``replydesk triage`` on ReplyDesk's own logs: the lines the app really writes while the
database is away (captured from the app, as JSON, not written by hand) give the outage's
window."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.devtools.tcp_proxy import TcpProxy, pg_target, url_via_proxy
from tests.support.budgets import PRODUCTION
from tests.support.http import UvicornServer
from tests.support.logs import LogCapture
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace
from tests.triage.conftest import Triage


def _event(n: int) -> bytes:
    payload = sample("emailbison", "email_sent")
    payload["data"]["scheduled_email"]["id"] = 50_000 + n
    return json.dumps(payload).encode()


async def _post(base_url: str, ws: Ws, ns: range) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    ws.url("emailbison"),
                    params={"token": ws.token},
                    content=_event(n),
                    headers={"content-type": "application/json"},
                )
                for n in ns
            )
        )
    return [a.status_code for a in answers]


@pytest.fixture
async def outage_log(
    settings: Settings, database_url: str, db: Database, log_capture: LogCapture
) -> AsyncIterator[tuple[LogCapture, datetime, datetime]]:
    """The app's log of: warm traffic, the database gone for ~1.5 s under webhooks, back."""
    ws = await new_workspace(db)
    async with TcpProxy(pg_target(database_url)) as proxy:
        via = settings.model_copy(
            update={
                "database_url": url_via_proxy(database_url, "127.0.0.1", proxy.port),
                **PRODUCTION,  # the outage as production answers it
            }
        )
        proxied = Database.from_settings(via)
        app = create_app(via, database=proxied)
        try:
            async with app.router.lifespan_context(app), UvicornServer(app) as server:
                assert await _post(server.base_url, ws, range(3)) == [202] * 3
                down_at = datetime.now(UTC)
                proxy.blackhole()
                assert await _post(server.base_url, ws, range(10, 18)) == [503] * 8
                await asyncio.sleep(1.5)
                assert await _post(server.base_url, ws, range(20, 24)) == [503] * 4
                proxy.resume()
                assert await _post(server.base_url, ws, range(30, 34)) == [202] * 4
                up_at = datetime.now(UTC)
        finally:
            await proxied.dispose()
    yield log_capture, down_at, up_at


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_triage_reports_the_outage_window_of_our_own_logs(
    outage_log: tuple[LogCapture, datetime, datetime], triage: Triage, tmp_path: Path
) -> None:
    capture, down_at, up_at = outage_log
    records = capture.records()
    error = next(r for r in records if r["event"] == "ingest_db_unavailable")
    recovered = next(r for r in records if r["event"] == "ingest_db_recovered")
    assert recovered["failed_requests"] == 12

    # At debug level: the error line, one debug line per further 503, the recovery line.
    debug_log = tmp_path / "replydesk-debug.log"
    debug_log.write_text(capture.text)
    report = triage.json(str(debug_log))
    assert report["inputs"][0]["format"] == "replydesk"
    assert report["malformed"]["count"] == 0
    outage = report["categories"]["db_unavailable"]
    assert outage["count"] == 1 + 11 + 1
    assert outage["priority"] == "P0"
    assert "runbook" in outage["action"]
    # The window is the error line's time to the recovery line's, to the millisecond.
    assert abs(_parse(outage["first_seen"]) - _parse(error["timestamp"])).total_seconds() < 0.001
    assert abs(_parse(outage["last_seen"]) - _parse(recovered["timestamp"])).total_seconds() < 0.001
    assert down_at <= _parse(outage["first_seen"]) < _parse(outage["last_seen"]) <= up_at
    assert (_parse(outage["last_seen"]) - _parse(outage["first_seen"])).total_seconds() >= 1.4
    assert sum(report["timeline"]["db_unavailable"].values()) == 13

    # At info level (production's default) the window is the same: error line to recovery.
    info_log = tmp_path / "replydesk-info.log"
    info_log.write_text("".join(json.dumps(r) + "\n" for r in records if r["level"] != "debug"))
    info = triage.json(str(info_log))["categories"]["db_unavailable"]
    assert info["count"] == 2
    assert (info["first_seen"], info["last_seen"]) == (outage["first_seen"], outage["last_seen"])
