"""GHL signatures: RSA-SHA256 (x-wh-signature) and Ed25519 (X-GHL-Signature) over the raw body."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from replydesk.core.db import Database
from tests.support.http import post
from tests.support.logs import LogCapture
from tests.support.rows import count_events
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace


def _pem(key: Any) -> str:
    return str(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def rsa_sign(body: bytes, key: rsa.RSAPrivateKey = RSA_KEY) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def ed_sign(body: bytes, key: ed25519.Ed25519PrivateKey = ED_KEY) -> str:
    return base64.b64encode(key.sign(body)).decode()


def _body(message_id: str) -> bytes:
    payload = sample("ghl", "inbound_sms")
    payload["messageId"] = message_id
    return json.dumps(payload).encode()


def _tampered(body: bytes) -> bytes:
    return body.replace(b"call me after 3pm", b"call me after 4pm")


async def _send(client: httpx.AsyncClient, ws: Ws, body: bytes, **headers: str) -> httpx.Response:
    return await post(
        client, ws, "ghl", body, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


async def test_rsa_signature(client: httpx.AsyncClient, db: Database) -> None:
    ws = await new_workspace(db, ghl_rsa_public_key=_pem(RSA_KEY))
    body = _body("m-rsa")
    assert (await _send(client, ws, body, x_wh_signature=rsa_sign(body))).status_code == 202

    other = _body("m-rsa-2")
    rejected = [
        await _send(client, ws, _tampered(other), x_wh_signature=rsa_sign(other)),
        await _send(
            client, ws, other, x_wh_signature=rsa_sign(other, rsa.generate_private_key(65537, 2048))
        ),
        await _send(client, ws, other, x_wh_signature="not base64!!"),
        await _send(client, ws, other, x_wh_signature=rsa_sign(other)[:-8]),
    ]
    for resp in rejected:
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["message"] == "GHL signature does not verify"
    unsigned = await _send(client, ws, other)
    assert unsigned.status_code == 401
    assert "GHL signature required (x-wh-signature header)" in unsigned.json()["error"]["message"]
    # An Ed25519 header cannot stand in when only an RSA key is configured.
    wrong_scheme = await _send(client, ws, other, x_ghl_signature=ed_sign(other))
    assert wrong_scheme.status_code == 401
    assert await count_events(db) == 1


async def test_ed25519_signature(client: httpx.AsyncClient, db: Database) -> None:
    ws = await new_workspace(db, ghl_ed25519_public_key=_pem(ED_KEY))
    body = _body("m-ed")
    assert (await _send(client, ws, body, X_GHL_Signature=ed_sign(body))).status_code == 202

    other = _body("m-ed-2")
    for resp in [
        await _send(client, ws, _tampered(other), X_GHL_Signature=ed_sign(other)),
        await _send(
            client, ws, other, X_GHL_Signature=ed_sign(other, ed25519.Ed25519PrivateKey.generate())
        ),
        await _send(client, ws, other, X_GHL_Signature=base64.b64encode(b"short").decode()),
    ]:
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["message"] == "GHL signature does not verify"
    unsigned = await _send(client, ws, other)
    assert unsigned.status_code == 401
    assert "X-GHL-Signature" in unsigned.json()["error"]["message"]
    assert await count_events(db) == 1


async def test_both_keys_accept_either_valid_signature(
    client: httpx.AsyncClient, db: Database
) -> None:
    ws = await new_workspace(
        db, ghl_rsa_public_key=_pem(RSA_KEY), ghl_ed25519_public_key=_pem(ED_KEY)
    )
    a, b, c = _body("a"), _body("b"), _body("c")
    assert (await _send(client, ws, a, X_GHL_Signature=ed_sign(a))).status_code == 202
    # Ed25519 header broken but the legacy RSA one verifies: accepted (either scheme may sign).
    assert (
        await _send(client, ws, b, X_GHL_Signature=ed_sign(a), x_wh_signature=rsa_sign(b))
    ).status_code == 202
    both_bad = await _send(client, ws, c, X_GHL_Signature=ed_sign(a), x_wh_signature=rsa_sign(a))
    assert both_bad.status_code == 401
    assert await count_events(db) == 2


async def test_without_keys_signatures_are_not_required(client: httpx.AsyncClient, ws: Ws) -> None:
    body = _body("m-free")
    assert (await _send(client, ws, body)).status_code == 202
    # Other providers never look at GHL signatures.
    assert (
        await post(client, ws, "unipile", sample("unipile", "message_received"))
    ).status_code == 202


async def test_broken_stored_key_rejects_and_says_why(
    client: httpx.AsyncClient, db: Database, log_capture: LogCapture
) -> None:
    ws = await new_workspace(db, ghl_ed25519_public_key="-----BEGIN PUBLIC KEY-----\nnope\n")
    body = _body("m-broken")
    resp = await _send(client, ws, body, X_GHL_Signature=ed_sign(body))
    assert resp.status_code == 401
    assert "key is invalid" in resp.json()["error"]["message"]
    errors = [r for r in log_capture.records() if r["level"] == "error"]
    assert [(r["event"], r["category"], r["error_class"]) for r in errors] == [
        ("ghl_public_key_invalid", "other", "config")
    ]
    assert await count_events(db) == 0
