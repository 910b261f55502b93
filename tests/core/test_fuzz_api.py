"""Fuzzing the API: schemathesis over every operation of the app's own OpenAPI (so endpoints
added later are fuzzed without touching this file), as owner, admin and member, against a
real uvicorn server; plus hypothesis strategies for the text and datetime edges.

Checks: no 5xx, and every answer conforms to the documented status codes, content types and
schemas. Bounded: a few dozen examples per operation (the whole module well under 2 min)."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from replydesk.app import create_app
from replydesk.auth.service import create_api_token
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from tests.support import pg
from tests.support.members import add_member
from tests.support.rows import insert_event, insert_lead, insert_message
from tests.support.workspaces import new_workspace

# The schema is read from the app itself; no database is touched to build it.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="postgresql://unused@127.0.0.1:1/none")).openapi()
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 25


@dataclass(frozen=True)
class LiveApi:
    base_url: str
    workspace_id: uuid.UUID
    webhook_token: str
    tokens: dict[str, str]  # role → API token
    lead_id: int
    event_id: int


async def _seed(url: str) -> dict[str, Any]:
    db = Database.from_settings(Settings(database_url=url))
    try:
        ws = await new_workspace(db)
        async with db.session() as session:
            owner = await create_api_token(session, ws.id, "owner@acme.example", "owner token")
        admin = await add_member(db, ws.id, "ada@acme.example", "admin")
        member = await add_member(db, ws.id, "mo@acme.example", "member")
        lead = await insert_lead(db, ws.id, email="ann@acme.example")
        await insert_message(
            db,
            ws.id,
            lead,
            channel="email",
            direction="inbound",
            sent_by="lead",
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        event = await insert_event(db, ws.id, "emailbison", "dead")
    finally:
        await db.dispose()
    return {
        "workspace_id": ws.id,
        "webhook_token": ws.token,
        "tokens": {"owner": owner.token, "admin": admin.token, "member": member.token},
        "lead_id": lead,
        "event_id": event,
    }


@pytest.fixture(scope="module")
def live_api(pg_url: str, template_name: str, tmp_path_factory: Any) -> Iterator[LiveApi]:
    url = pg.create_database(pg_url, template_name)
    seeded = asyncio.run(_seed(url))
    app_settings = Settings(
        database_url=url,
        data_dir=tmp_path_factory.mktemp("fuzz"),
        cookie_secure=False,
        # The fuzzer tries many logins from one address; the throttle is tested elsewhere.
        login_max_attempts_per_ip=100_000,
        login_max_attempts_per_account=100_000,
        # As deployed: without a key, storing credentials is a documented 503 (secret_key_missing).
        secret_key=Fernet.generate_key().decode(),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(app_settings), log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start"
        yield LiveApi(base_url=f"http://127.0.0.1:{port}", **seeded)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        pg.drop_database(url)


def _aim(case: Any, api: LiveApi) -> None:
    """Point generated ids at real rows (half of the time for object ids), so operations get
    past the 404 and reach their logic."""
    params = case.path_parameters or {}
    if "workspace_id" in params:
        params["workspace_id"] = str(api.workspace_id)
    for name, real in (("lead_id", api.lead_id), ("event_id", api.event_id)):
        if name in params and hash(str(params[name])) % 2 == 0:
            params[name] = real
    if case.path.startswith("/webhooks/") and case.query is not None and "token" in case.query:
        case.query["token"] = api.webhook_token


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_every_operation_as_every_role(case: Any, live_api: LiveApi) -> None:
    _aim(case, live_api)
    with requests.Session() as session:
        for token in live_api.tokens.values():
            response = case.call(
                base_url=live_api.base_url,
                session=session,
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            case.validate_response(response, checks=CHECKS)


# -- text and datetime edges ---------------------------------------------------------------

EDGE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["\x00", "\ud800", "\udfff", "\ufeff", "%", "_", "\\", "'", "é", "😀"]),
        st.characters(codec="utf-8"),
        st.characters(),  # includes lone surrogates
    ),
    max_size=80,
)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
EDGE_DATETIME = st.one_of(
    st.datetimes(timezones=OFFSETS).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "", "now"]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.none(),
)
EDGE_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


def _body(data: Any) -> bytes:
    import json

    return json.dumps(data, ensure_ascii=True).encode()


@given(q=EDGE_TEXT, category=EDGE_TEXT, assignee=EDGE_TEXT)
@EDGE_SETTINGS
def test_lead_list_text_edges_never_5xx(
    live_api: LiveApi, q: str, category: str, assignee: str
) -> None:
    headers = {"Authorization": f"Bearer {live_api.tokens['member']}"}
    url = f"{live_api.base_url}/api/v1/workspaces/{live_api.workspace_id}/leads"
    params = {"q": q, "filter": f"category:{category}", "assignee": assignee}
    encoded = {k: v.encode("utf-8", "surrogatepass") for k, v in params.items()}
    resp = requests.get(url, params=encoded, headers=headers, timeout=10)
    assert resp.status_code in (200, 400, 422), resp.text
    assert set(resp.json()) == ({"items", "next_cursor"} if resp.ok else {"error"})


@given(category=st.one_of(EDGE_TEXT, st.none()), snoozed_until=EDGE_DATETIME)
@EDGE_SETTINGS
def test_lead_patch_text_and_date_edges_never_5xx(
    live_api: LiveApi, category: str | None, snoozed_until: Any
) -> None:
    headers = {
        "Authorization": f"Bearer {live_api.tokens['admin']}",
        "Content-Type": "application/json",
    }
    url = f"{live_api.base_url}/api/v1/workspaces/{live_api.workspace_id}/leads/{live_api.lead_id}"
    body = _body({"category": category, "snoozed_until": snoozed_until})
    resp = requests.patch(url, data=body, headers=headers, timeout=10)
    assert resp.status_code in (200, 422), resp.text
    if resp.status_code == 422:
        assert resp.json()["error"]["code"] == "validation_error"
    else:
        stored = resp.json()["snoozed_until"]
        if stored is not None:
            moment = datetime.fromisoformat(stored)
            assert datetime(1970, 1, 1, tzinfo=UTC) <= moment < datetime(2200, 1, 1, tzinfo=UTC)


@given(email=EDGE_TEXT, password=EDGE_TEXT)
@EDGE_SETTINGS
def test_login_text_edges_never_5xx(live_api: LiveApi, email: str, password: str) -> None:
    body = _body({"email": email, "password": password})
    resp = requests.post(
        f"{live_api.base_url}/api/v1/auth/login",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert resp.status_code in (401, 422), resp.text
    assert set(resp.json()) == {"error"}
