"""Tokens, signatures and payload contents never reach a log line; expected states are not
errors."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import FastAPI

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import UvicornServer
from tests.support.logs import LogCapture
from tests.support.samples import sample
from tests.support.workspaces import new_workspace


@pytest.mark.production_budgets
async def test_secrets_and_payloads_stay_out_of_logs(
    app: FastAPI, db: Database, settings: Settings, log_capture: LogCapture
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ws = await new_workspace(db, ghl_ed25519_public_key=pem.decode())
    other = await new_workspace(db, "Other")
    ghl = json.dumps(sample("ghl", "inbound_sms")).encode()
    good_sig = base64.b64encode(key.sign(ghl)).decode()
    bad_sig = base64.b64encode(key.sign(b"something else")).decode()
    bison = sample("emailbison", "lead_replied")
    json_headers = {"content-type": "application/json"}

    async with UvicornServer(app) as server, httpx.AsyncClient(base_url=server.base_url) as c:
        url = ws.url("ghl")
        statuses = [
            (
                await c.post(
                    url,
                    params={"token": ws.token},
                    content=ghl,
                    headers={**json_headers, "X-GHL-Signature": good_sig},
                )
            ).status_code,
            (
                await c.post(
                    url,
                    params={"token": ws.token},
                    content=ghl,
                    headers={**json_headers, "X-GHL-Signature": bad_sig},
                )
            ).status_code,
            (
                await c.post(
                    url, content=ghl, headers={**json_headers, "x-webhook-token": other.token}
                )
            ).status_code,
            (
                await c.post(
                    ws.url("emailbison"),
                    content=json.dumps(bison),
                    headers={**json_headers, "x-webhook-token": ws.token},
                )
            ).status_code,
            (
                await c.post(
                    ws.url("emailbison"),
                    params={"token": ws.token},
                    content=b"{oops",
                    headers=json_headers,
                )
            ).status_code,
            (
                await c.post(
                    f"/webhooks/unipile/{ws.id}",
                    params={"token": ws.token + "x"},
                    content=b"{}",
                    headers=json_headers,
                )
            ).status_code,
        ]
        # Held ingest pool: the 503 path logs too.
        held = [await db.ingest_engine.connect() for _ in range(settings.ingest_pool_size)]
        try:
            bison["data"]["reply"]["id"] = 1
            statuses.append(
                (
                    await c.post(
                        ws.url("emailbison"),
                        params={"token": ws.token},
                        content=json.dumps(bison),
                        headers=json_headers,
                    )
                ).status_code
            )
        finally:
            for conn in held:
                await conn.close()
    assert statuses == [202, 401, 401, 202, 400, 401, 503]

    logged = log_capture.text
    assert logged  # the requests did log (rejections at info, stores at debug)
    for secret in (ws.token, other.token, good_sig, bad_sig, ws.token + "x"):
        assert secret not in logged
    for pii in ("dana.reyes@northwind.example", "+15125550143", "call me after 3pm"):
        assert pii not in logged

    records = log_capture.records()
    rejected = [r for r in records if r["event"] == "webhook_rejected"]
    assert {r["status"] for r in rejected} == {401, 400, 503}
    # Rejections are expected states (info); only the outage is an error, tagged.
    assert all(r["level"] == "info" for r in rejected if r["status"] < 500)
    errors = [r for r in records if r["level"] == "error"]
    assert [r.get("category") for r in errors] == ["db_unavailable"]


async def test_a_token_pasted_into_the_workspace_slot_is_not_logged(
    client: httpx.AsyncClient, db: Database, log_capture: LogCapture
) -> None:
    ws = await new_workspace(db)
    provider_key = "9|q8kSmhjJRqJVT2kc1M0ezX640Pxk"  # an EmailBison API key, say
    for pasted in (ws.token, provider_key):
        resp = await client.post(
            f"/webhooks/emailbison/{pasted}",
            params={"token": ws.token},
            content=b"{}",
            headers={"content-type": "application/json"},
        )
        assert resp.status_code in (401, 404, 422), resp.text
        assert ws.token not in resp.text
    rejected = [r for r in log_capture.records() if r["event"] == "webhook_rejected"]
    assert len(rejected) == 2
    assert ws.token not in log_capture.text
    assert provider_key not in log_capture.text
