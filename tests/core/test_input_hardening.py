"""App-wide input rules: invalid text, datetimes, unknown query parameters, body limits,
the one error shape, security headers, request ids and what an unhandled error logs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from replydesk.app import create_app
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support.http import UvicornServer
from tests.support.logs import LogCapture, error_lines
from tests.support.members import Member, new_workspace_owner
from tests.support.rows import insert_lead
from tests.support.workspaces import new_workspace


@pytest.fixture
async def owner(db: Database) -> Member:
    return await new_workspace_owner(db, "Acme", "sam@acme.example")


@pytest.fixture
async def lead_id(db: Database, owner: Member) -> int:
    return await insert_lead(db, owner.workspace_id, email="ann@acme.example")


def assert_error(resp: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    for fragment in fragments:
        assert fragment in body["error"]["message"], body


# -- invalid text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "a\x00b"}, "q"),
        ({"filter": "category:a\x00"}, "filter"),
        ({"assignee": "\x00"}, "assignee"),
    ],
)
async def test_nul_in_query_parameters_is_422_naming_the_parameter(
    client: httpx.AsyncClient, owner: Member, params: dict[str, str], field: str
) -> None:
    resp = await client.get(owner.url("leads"), params=params, headers=owner.headers)
    assert_error(resp, 422, "validation_error", field, "NUL")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"category": "a\\u0000b"}',
        b'{"category": "a\\ud800b"}',
        b'{"category": "\\udc00"}',
    ],
)
async def test_invalid_text_in_json_body_is_422_naming_the_field(
    client: httpx.AsyncClient, owner: Member, lead_id: int, raw: bytes
) -> None:
    resp = await client.patch(
        owner.url(f"leads/{lead_id}"),
        content=raw,
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert_error(resp, 422, "validation_error", "category")


async def test_an_escaped_surrogate_pair_is_fine(
    client: httpx.AsyncClient, owner: Member, lead_id: int
) -> None:
    # A free-text field (categories are a vocabulary now): a note's body.
    resp = await client.post(
        owner.url(f"leads/{lead_id}/notes"),
        content=b'{"body": "hot \\ud83d\\udd25"}',
        headers={**owner.headers, "content-type": "application/json"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["body"] == "hot \U0001f525"


async def test_nul_in_login_email_is_422_without_signing_in(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/auth/login", json={"email": "ann\x00@acme.example", "password": "x" * 12}
    )
    assert_error(resp, 422, "validation_error", "email", "NUL")


async def test_nul_in_a_path_parameter_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/webhooks/emailbison/ab%00cd", json={})
    assert_error(resp, 422, "validation_error", "workspace_id", "NUL")


# -- datetimes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "1969-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        -1e12,
        1_700_000_000,
        "1700000000",
        True,
    ],
)
async def test_snooze_outside_the_sane_range_or_a_number_is_422(
    client: httpx.AsyncClient, owner: Member, lead_id: int, value: Any
) -> None:
    resp = await client.patch(
        owner.url(f"leads/{lead_id}"), json={"snoozed_until": value}, headers=owner.headers
    )
    assert_error(resp, 422, "validation_error", "snoozed_until")


@pytest.mark.parametrize("value", ["1970-01-01T00:00:00Z", "2199-12-31T23:59:59+14:00"])
async def test_snooze_at_the_edges_of_the_range_is_accepted(
    client: httpx.AsyncClient, owner: Member, lead_id: int, value: str
) -> None:
    resp = await client.patch(
        owner.url(f"leads/{lead_id}"), json={"snoozed_until": value}, headers=owner.headers
    )
    assert resp.status_code == 200, resp.text


# -- unknown query parameters --------------------------------------------------------------


async def test_unknown_query_parameters_are_422_naming_them(
    client: httpx.AsyncClient, owner: Member
) -> None:
    resp = await client.get(
        owner.url("leads"), params={"colour": "red", "q": "a"}, headers=owner.headers
    )
    assert_error(resp, 422, "validation_error", "colour")
    assert "'q'" not in resp.json()["error"]["message"]
    resp = await client.get("/api/v1/me", params={"x": "1"}, headers=owner.headers)
    assert_error(resp, 422, "validation_error", "'x'")


async def test_declared_query_parameters_are_still_accepted(
    client: httpx.AsyncClient, owner: Member
) -> None:
    resp = await client.get(
        owner.url("leads"),
        params={"q": "a", "filter": "all", "limit": 5, "assignee": "me"},
        headers=owner.headers,
    )
    assert resp.status_code == 200, resp.text
    # The webhook token is documented in openapi_extra, not in the signature.
    resp = await client.post(
        f"/webhooks/emailbison/{owner.workspace_id}", params={"token": "x"}, json={}
    )
    assert resp.status_code == 401, resp.text


async def test_over_long_q_is_a_json_422(client: httpx.AsyncClient, owner: Member) -> None:
    resp = await client.get(owner.url("leads"), params={"q": "a" * 5000}, headers=owner.headers)
    assert_error(resp, 422, "validation_error", "q")


# -- the error shape -----------------------------------------------------------------------


async def test_form_encoded_login_is_415_in_the_error_shape(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/auth/login", data={"email": "ann@acme.example", "password": "x" * 12}
    )
    assert_error(resp, 415, "unsupported_media_type", "application/json")


async def test_login_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/auth/login", content=b'{"email": "ann@acme.example", "password": "x"}'
    )
    assert_error(resp, 415, "unsupported_media_type")


async def test_ingestion_and_api_use_one_code_for_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    ws = await new_workspace(db)
    payload = {"event": "message_received", "account_id": "a", "message_id": "m\u0000"}
    resp = await client.post(ws.url("unipile"), params={"token": ws.token}, json=payload)
    assert_error(resp, 422, "validation_error", "message_id", "\\u0000")


async def test_every_http_layer_error_is_in_the_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/healthz"), 405, "method_not_allowed")
    assert_error(await client.get("/nope"), 404, "not_found")


# -- body limits ---------------------------------------------------------------------------


@pytest.fixture
def small_limits(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_max_body_bytes": 2048, "api_body_timeout_s": 0.5})


@pytest.fixture
async def small_app(small_limits: Settings, db: Database) -> AsyncIterator[FastAPI]:
    application = create_app(small_limits, database=db)
    async with application.router.lifespan_context(application):
        yield application


async def test_declared_oversized_body_is_413_before_it_is_read(small_app: FastAPI) -> None:
    received: list[int] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/auth/login",
        "raw_path": b"/api/v1/auth/login",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"104857600")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    await small_app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == []  # not one chunk read
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["error"]["code"] == "payload_too_large"


async def test_streamed_oversized_body_is_413(small_app: FastAPI) -> None:
    chunks = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal chunks
        for _ in range(1000):
            chunks += 1
            yield b" " * 1024

    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        resp = await c.post(
            "/api/v1/auth/login", content=body(), headers={"content-type": "application/json"}
        )
    assert_error(resp, 413, "payload_too_large", "2048")
    assert chunks < 10


async def test_bad_content_length_is_400_in_the_shape(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/auth/login",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "abc"},
    )
    assert_error(resp, 400, "bad_request", "Content-Length")


async def test_slow_partial_body_is_408_within_the_budget(small_app: FastAPI) -> None:
    async with UvicornServer(small_app) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email"'
            )
            await writer.drain()
            started = asyncio.get_running_loop().time()
            head = await asyncio.wait_for(reader.read(65536), 5)
            elapsed = asyncio.get_running_loop().time() - started
        finally:
            writer.close()  # lets the server stop even when it never answered
    assert head.startswith(b"HTTP/1.1 408"), head
    assert b'"request_timeout"' in head
    assert elapsed < 3


# -- headers, request id, unhandled errors -------------------------------------------------


async def test_security_headers_and_request_id_on_every_response(
    client: httpx.AsyncClient,
) -> None:
    for resp in (
        await client.get("/healthz"),
        await client.get("/nope"),
        await client.get("/api/v1/me"),
    ):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert len(resp.headers["x-request-id"]) >= 16
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123.DEF_4"})
    assert resp.headers["x-request-id"] == "abc-123.DEF_4"
    resp = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert resp.headers["x-request-id"] != "bad id\twith spaces"


async def test_unhandled_error_log_names_route_and_request_but_no_values(
    app: FastAPI, log_capture: LogCapture
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    secret = "Zelda Quixote-Search"

    @app.get("/api/v1/boom/{thing}")
    async def boom(thing: str) -> None:
        try:
            async with app.state.db.session() as session:
                await session.execute(
                    text("SELECT CAST(:q AS text), 1 / CAST(:zero AS int)"),
                    {"zero": 0, "q": secret},
                )
        except DBAPIError:
            raise

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        resp = await c.get(f"/api/v1/boom/{secret}", headers={"X-Request-ID": "req-42"})
    assert_error(resp, 500, "internal_error")
    assert resp.headers["x-request-id"] == "req-42"
    lines = [r for r in log_capture.records() if r.get("event") == "unhandled_error"]
    assert len(lines) == 1, log_capture.text
    line = lines[0]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/boom/{thing}"
    assert line["request_id"] == "req-42"
    assert secret not in log_capture.text
    assert "[parameters:" not in log_capture.text and "[SQL:" not in log_capture.text
    assert len(error_lines(log_capture.records())) == 1
