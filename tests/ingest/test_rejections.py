"""Every rejection names its problem, uses the common error shape, and writes nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from replydesk.core.db import Database
from tests.support.http import post
from tests.support.rows import count_events
from tests.support.samples import sample
from tests.support.workspaces import Ws, new_workspace

AUTH_MESSAGE = "invalid or missing webhook token for this workspace"


def assert_error(resp: httpx.Response, status: int, code: str, *fragments: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    for fragment in fragments:
        assert fragment in body["error"]["message"], body["error"]["message"]


@pytest.fixture
async def nothing_written(db: Database) -> AsyncIterator[None]:
    yield
    assert await count_events(db) == 0


# --- 401 -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_written")
async def test_missing_wrong_and_foreign_tokens_get_the_same_401(
    client: httpx.AsyncClient, db: Database, ws: Ws
) -> None:
    other = await new_workspace(db, "Other")
    payload = sample("emailbison", "lead_replied")
    cases = [
        await post(client, ws, "emailbison", payload, token=None),
        await post(client, ws, "emailbison", payload, token="rdw_wrong"),
        await post(client, ws, "emailbison", payload, token=other.token),
        await client.post(
            ws.url("emailbison"),
            params={"token": ""},
            content=json.dumps(payload),
            headers={"content-type": "application/json", "x-webhook-token": ""},
        ),
        # Header instead of query, wrong value.
        await client.post(
            ws.url("emailbison"),
            content=json.dumps(payload),
            headers={"content-type": "application/json", "x-webhook-token": other.token},
        ),
        # Unknown and malformed workspace ids, with a real token.
        await client.post(
            f"/webhooks/emailbison/{uuid.uuid4()}",
            params={"token": ws.token},
            content=json.dumps(payload),
            headers={"content-type": "application/json"},
        ),
        await client.post(
            "/webhooks/emailbison/not-a-uuid",
            params={"token": ws.token},
            content=json.dumps(payload),
            headers={"content-type": "application/json"},
        ),
    ]
    for resp in cases:
        assert_error(resp, 401, "unauthorized", AUTH_MESSAGE)
        assert resp.json()["error"]["message"] == AUTH_MESSAGE


async def test_token_in_header_is_accepted(client: httpx.AsyncClient, ws: Ws) -> None:
    resp = await client.post(
        ws.url("unipile"),
        content=json.dumps(sample("unipile", "message_received")),
        headers={"content-type": "application/json", "X-Webhook-Token": ws.token},
    )
    assert resp.status_code == 202, resp.text


@pytest.mark.usefixtures("nothing_written")
async def test_auth_is_checked_before_the_body(client: httpx.AsyncClient, ws: Ws) -> None:
    # A bad token with a bad body is a 401, not a 400/413/415: nothing is read or parsed.
    resp = await post(client, ws, "ghl", b"{not json", token="nope")
    assert_error(resp, 401, "unauthorized")
    resp = await client.post(
        ws.url("ghl"),
        params={"token": "nope"},
        content=b"x",
        headers={"content-type": "text/plain"},
    )
    assert_error(resp, 401, "unauthorized")


# --- 404 -----------------------------------------------------------------------------------


async def test_unknown_provider_is_404(client: httpx.AsyncClient, ws: Ws) -> None:
    resp = await post(client, ws, "mailchimp", {"a": 1})
    assert_error(resp, 404, "not_found", "unknown provider 'mailchimp'", "emailbison")


# --- 413 / 415 / 400 -----------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_written")
async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, ws: Ws, settings: Any) -> None:
    limit = settings.ingest_max_body_bytes
    big = sample("ghl", "inbound_sms")
    big["body"] = "x" * limit
    resp = await post(client, ws, "ghl", big)
    assert_error(resp, 413, "payload_too_large", f"the limit is {limit} bytes")


@pytest.mark.usefixtures("nothing_written")
async def test_streamed_body_without_length_is_cut_at_the_limit(
    client: httpx.AsyncClient, ws: Ws, settings: Any
) -> None:
    limit = settings.ingest_max_body_bytes
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(64):  # 4 MiB offered in 64 KiB chunks
            sent += 65_536
            yield b" " * 65_536

    resp = await client.post(
        ws.url("ghl"),
        params={"token": ws.token},
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert_error(resp, 413, "payload_too_large", f"exceeds the limit of {limit} bytes")
    assert sent < 2 * limit  # the server stopped reading soon after the limit


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("content_type", "fragment"),
    [
        (None, "Content-Type header is missing"),
        ("text/plain", "got 'text/plain'"),
        ("application/x-www-form-urlencoded", "got 'application/x-www-form-urlencoded'"),
        ("application/json; charset=latin-1", "must be UTF-8"),
    ],
)
async def test_non_json_content_type_is_415(
    client: httpx.AsyncClient, ws: Ws, content_type: str | None, fragment: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    resp = await client.post(
        ws.url("emailbison"),
        params={"token": ws.token},
        content=json.dumps(sample("emailbison", "lead_replied")).encode(),
        headers=headers,
    )
    assert_error(resp, 415, "unsupported_media_type", fragment)


async def test_json_content_type_variants_are_accepted(client: httpx.AsyncClient, ws: Ws) -> None:
    for i, content_type in enumerate(
        ["application/json; charset=UTF-8", "Application/JSON", "application/vnd.ghl+json"]
    ):
        payload = sample("ghl", "inbound_sms")
        payload["messageId"] = f"m{i}"
        resp = await post(client, ws, "ghl", payload, headers={"content-type": content_type})
        assert resp.status_code == 202, (content_type, resp.text)


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "body is empty"),
        (b"{not json", "body is not valid JSON"),
        (b'{"a": 1,}', "body is not valid JSON"),
        (b"\xff\xfe{}", "body is not valid JSON"),
        (b'{"a": NaN}', "body is not valid JSON"),
    ],
)
async def test_unparseable_body_is_400(
    client: httpx.AsyncClient, ws: Ws, body: bytes, fragment: str
) -> None:
    resp = await post(client, ws, "unipile", body)
    assert_error(resp, 400, "bad_request", fragment)


@pytest.mark.usefixtures("nothing_written")
async def test_bad_content_length_is_400(client: httpx.AsyncClient, ws: Ws) -> None:
    # httpx refuses to send a lying Content-Length, so talk ASGI directly.
    resp = await post(client, ws, "unipile", b"{}", headers={"content-length": "abc"})
    assert_error(resp, 400, "bad_request", "Content-Length header is not a number")


# --- 422 -----------------------------------------------------------------------------------


def _without(payload: dict[str, Any], path: str) -> dict[str, Any]:
    node = payload
    *parents, last = path.split(".")
    for step in parents:
        node = node[step]
    del node[last]
    return payload


def _with(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = payload
    *parents, last = path.split(".")
    for step in parents:
        node = node[step]
    node[last] = value
    return payload


INVALID: list[tuple[str, Any, str]] = [
    ("emailbison", [1, 2], "body must be a JSON object, got an array"),
    ("emailbison", "text", "body must be a JSON object, got a string"),
    ("emailbison", {"data": {}}, "event is required"),
    ("emailbison", {"event": "LEAD_REPLIED"}, "event must be an object"),
    (
        "emailbison",
        _without(sample("emailbison", "lead_replied"), "event.type"),
        "event.type is required",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "event.type", 7),
        "event.type must be a string",
    ),
    (
        "emailbison",
        _without(sample("emailbison", "lead_replied"), "data.reply.id"),
        "data.reply.id is required for LEAD_REPLIED events",
    ),
    (
        "emailbison",
        _without(sample("emailbison", "email_sent"), "data.scheduled_email"),
        "data.scheduled_email.id is required for EMAIL_SENT events",
    ),
    (
        "emailbison",
        _without(sample("emailbison", "email_opened"), "data.campaign_event.id"),
        "data.campaign_event.id is required for EMAIL_OPENED events",
    ),
    (
        "emailbison",
        _without(sample("emailbison", "lead_unsubscribed"), "data.lead"),
        "data.lead.id is required for LEAD_UNSUBSCRIBED events",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "data.reply.id", 1.5),
        "data.reply.id must be an integer or a string",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "data.reply.id", True),
        "data.reply.id must be an integer or a string, got a boolean",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "data", []),
        "data must be an object",
    ),
    # Beyond what the database stores (they used to fail 8 times in the worker as db_error).
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "data.reply.id", 99999999999999999999),
        "data.reply.id is out of range",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "data.reply.id", "9" * 5000),
        "data.reply.id is out of range",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "lead_replied"), "data.lead.id", 2**63),
        "data.lead.id is out of range",
    ),
    (
        "emailbison",
        _with(
            sample("emailbison", "lead_replied"),
            "data.reply.date_received",
            "0001-01-01T00:00:00+14:00",
        ),
        "data.reply.date_received is out of range",
    ),
    (
        "emailbison",
        _with(sample("emailbison", "email_sent"), "data.scheduled_email.sent_at", 1e14),
        "data.scheduled_email.sent_at is out of range",
    ),
    (
        "ghl",
        _with(sample("ghl", "inbound_sms"), "dateAdded", "9999-12-31T23:59:59-14:00"),
        "dateAdded is out of range",
    ),
    (
        "unipile",
        _with(sample("unipile", "message_received"), "timestamp", "0001-01-01T00:00:00+14:00"),
        "timestamp is out of range",
    ),
    ("ghl", _without(sample("ghl", "inbound_sms"), "type"), "type is required"),
    ("ghl", _without(sample("ghl", "inbound_sms"), "locationId"), "locationId is required"),
    (
        "ghl",
        _without(_without(sample("ghl", "inbound_sms"), "messageId"), "dateAdded"),
        "messageId is required for InboundMessage events",
    ),
    ("unipile", _without(sample("unipile", "message_received"), "event"), "event is required"),
    (
        "unipile",
        _without(sample("unipile", "message_received"), "account_id"),
        "account_id is required",
    ),
    (
        "unipile",
        _without(sample("unipile", "message_received"), "message_id"),
        "message_id is required for message_received events",
    ),
    (
        "unipile",
        _with(sample("unipile", "message_received"), "message_id", "x" * 200),
        "message_id is too long",
    ),
    (
        "unipile",
        {"event": "message_received", "account_id": "a", "message_id": "m\u0000"},
        "\\u0000",
    ),
]


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.parametrize(
    ("provider", "payload", "fragment"), INVALID, ids=[f for _, _, f in INVALID]
)
async def test_invalid_shape_is_422_naming_the_field(
    client: httpx.AsyncClient, ws: Ws, provider: str, payload: Any, fragment: str
) -> None:
    resp = await post(client, ws, provider, json.dumps(payload).encode())
    assert_error(resp, 422, "validation_error", fragment)


@pytest.mark.usefixtures("nothing_written")
async def test_events_from_another_provider_scope_are_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    scoped = await new_workspace(
        db,
        "Scoped",
        emailbison_instance_url="https://send.example-bison.com/",
        emailbison_workspace_id=12,
        ghl_location_id="loc_7Hq2kP",
        unipile_account_id="acc_LnK4e",
    )
    cases = [
        (
            "emailbison",
            "lead_replied",
            "event.workspace_id",
            13,
            "event.workspace_id 13 does not match",
        ),
        (
            "emailbison",
            "lead_replied",
            "event.instance_url",
            "https://other.example.com",
            "event.instance_url other.example.com does not match",
        ),
        ("ghl", "inbound_sms", "locationId", "loc_other", "locationId loc_other does not match"),
        (
            "unipile",
            "message_received",
            "account_id",
            "acc_other",
            "account_id acc_other does not match",
        ),
    ]
    for provider, name, path, value, fragment in cases:
        resp = await post(client, scoped, provider, _with(sample(provider, name), path, value))
        assert_error(resp, 422, "validation_error", fragment)
    resp = await post(
        client,
        scoped,
        "emailbison",
        _without(sample("emailbison", "lead_replied"), "event.workspace_id"),
    )
    assert_error(resp, 422, "validation_error", "event.workspace_id is required")


async def test_events_from_the_configured_scope_are_accepted(
    client: httpx.AsyncClient, db: Database
) -> None:
    scoped = await new_workspace(
        db,
        "Scoped",
        emailbison_instance_url="HTTPS://Send.Example-Bison.com/",
        emailbison_workspace_id=12,
        ghl_location_id="loc_7Hq2kP",
        unipile_account_id="acc_LnK4e",
    )
    for provider, name in [
        ("emailbison", "lead_replied"),
        ("ghl", "inbound_sms"),
        ("unipile", "message_received"),
    ]:
        resp = await post(client, scoped, provider, sample(provider, name))
        assert resp.status_code == 202, resp.text
    # EmailBison ids may arrive as strings.
    resp = await post(
        client,
        scoped,
        "emailbison",
        _with(sample("emailbison", "email_sent"), "event.workspace_id", "12"),
    )
    assert resp.status_code == 202, resp.text
    assert await count_events(db, scoped.id) == 4


async def test_unknown_event_types_are_kept_as_ignored(
    client: httpx.AsyncClient, db: Database, ws: Ws
) -> None:
    tag = {
        "event": {"type": "tag_attached", "instance_url": "https://x.example", "workspace_id": 1},
        "data": {"tag": {"id": 3, "name": "hot"}},
    }
    unknown = [
        ("emailbison", tag),
        ("ghl", {"type": "ContactCreate", "locationId": "loc_7Hq2kP", "id": "c1"}),
        ("unipile", {"event": "mail_received", "account_id": "acc_LnK4e", "email_id": "e1"}),
        ("unipile", {"event": "account_status"}),
    ]
    for provider, payload in unknown:
        resp = await post(client, ws, provider, payload)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "ignored"
        again = await post(client, ws, provider, payload)
        assert again.json() == {"status": "duplicate"}
    async with db.session() as session:
        rows = (
            await session.execute(
                text("SELECT provider, event_type, status FROM webhook_events ORDER BY id")
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("emailbison", "TAG_ATTACHED", "ignored"),
        ("ghl", "ContactCreate", "ignored"),
        ("unipile", "mail_received", "ignored"),
        ("unipile", "account_status", "ignored"),
    ]


async def test_workspace_deleted_while_cached_is_401_at_insert(
    client: httpx.AsyncClient, db: Database
) -> None:
    doomed = await new_workspace(db, "Doomed")
    first = sample("unipile", "message_received")
    assert (await post(client, doomed, "unipile", first)).status_code == 202
    async with db.session() as session:
        await session.execute(text("DELETE FROM workspaces WHERE id = :id"), {"id": doomed.id})
    # The auth cache still knows the workspace: the insert's foreign key catches it.
    second = dict(first, message_id="umsg_other")
    assert_error(await post(client, doomed, "unipile", second), 401, "unauthorized", AUTH_MESSAGE)
    assert await count_events(db) == 0


@pytest.mark.usefixtures("nothing_written")
@pytest.mark.production_budgets
async def test_body_that_never_finishes_is_408_within_the_budget(
    client: httpx.AsyncClient, ws: Ws, settings: Any
) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        yield b'{"event": "message_received", '
        await asyncio.sleep(settings.ingest_budget_s + 2)
        yield b"}"

    started = time.monotonic()
    resp = await client.post(
        ws.url("unipile"),
        params={"token": ws.token},
        content=stalled(),
        headers={"content-type": "application/json"},
    )
    assert_error(resp, 408, "request_timeout", "request body not received within")
    assert time.monotonic() - started < settings.ingest_budget_s + 1
