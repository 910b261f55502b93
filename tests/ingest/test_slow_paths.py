"""Slow webhooks log their duration and dedupe key; every request is counted by outcome."""

from __future__ import annotations

import json

import httpx

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.metrics import metrics
from replydesk.core.settings import Settings
from tests.support.logs import LogCapture
from tests.support.samples import sample
from tests.support.workspaces import Ws


async def _post(settings: Settings, db: Database, ws: Ws, body: bytes, token: str) -> int:
    app = create_app(settings, database=db)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            resp = await client.post(
                ws.url("emailbison"),
                params={"token": token},
                content=body,
                headers={"content-type": "application/json"},
            )
            return resp.status_code


def _count(outcome: str) -> float:
    return metrics().ingest_requests.labels("emailbison", outcome)._value.get()


async def test_a_slow_webhook_logs_duration_dedupe_key_and_steps(
    settings: Settings, db: Database, ws: Ws, log_capture: LogCapture
) -> None:
    body = json.dumps(sample("emailbison", "email_sent")).encode()
    accepted, refused = _count("accepted"), _count("unauthorized")

    # Default threshold (2 s): a normal webhook logs no slow line.
    assert await _post(settings, db, ws, body, ws.token) == 202
    assert not [r for r in log_capture.records() if r["event"] == "webhook_slow"]

    slow = settings.model_copy(update={"log_slow_webhook_s": 1e-6, "log_slow_paths": True})
    assert await _post(slow, db, ws, body, ws.token) == 200  # the same delivery: duplicate
    assert await _post(slow, db, ws, body, "wrong-token") == 401
    lines = [r for r in log_capture.records() if r["event"] == "webhook_slow"]
    assert [(r["level"], r["outcome"]) for r in lines] == [
        ("warning", "duplicate"),
        ("warning", "unauthorized"),
    ]
    duplicate, unauthorized = lines
    assert duplicate["dedupe_key"].startswith(f"emailbison:{ws.id}:")
    assert duplicate["duration_ms"] >= 0 and duplicate["threshold_ms"] == 0
    assert set(duplicate["steps_ms"]) == {"auth", "body", "parse", "insert"}
    # Refused before the key was known: the line still says how long it took.
    assert unauthorized["dedupe_key"] is None
    assert set(unauthorized["steps_ms"]) == set()
    assert _count("accepted") - accepted == 1
    assert _count("unauthorized") - refused == 1
    assert "wrong-token" not in log_capture.text
