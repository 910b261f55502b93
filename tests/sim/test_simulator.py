"""The provider simulator itself: error bodies, fault switches, request log, auth, the CLI."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from replydesk.sim.server import SimServer
from tests.support.cli import clean_env, run_replydesk
from tests.support.sim import SIM_KEYS, add_fault, clear_faults, sim_requests

AUTH = {
    "emailbison": {"Authorization": f"Bearer {SIM_KEYS['emailbison']}"},
    "ghl": {"Authorization": f"Bearer {SIM_KEYS['ghl']}", "Version": "2021-07-28"},
    "unipile": {"X-API-KEY": SIM_KEYS["unipile"]},
}
READS = {
    "emailbison": ("GET", "/emailbison/api/replies/93001", "replies.get"),
    "ghl": ("GET", "/ghl/conversations/search?contactId=ct_91XbQe", "conversations.search"),
    "unipile": ("GET", "/unipile/api/v1/accounts/acc_LnK4e", "accounts.get"),
}


@pytest.fixture
async def http(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.url, timeout=5) as client:
        yield client


async def read(http: httpx.AsyncClient, provider: str, **kw: Any) -> httpx.Response:
    method, path, _ = READS[provider]
    return await http.request(method, path, headers=AUTH[provider], **kw)


@pytest.mark.parametrize("status", [401, 403, 404, 422, 429, 500, 503])
async def test_error_bodies_are_each_providers_own(
    sim: SimServer, http: httpx.AsyncClient, status: int
) -> None:
    for provider in READS:
        await add_fault(sim, provider=provider, status=status, retry_after=3, times=1)
        resp = await read(http, provider)
        assert resp.status_code == status and resp.headers["retry-after"] == "3"
        body = resp.json()
        if provider == "emailbison":
            assert isinstance(body["message"], str)
        elif provider == "ghl":
            assert body["statusCode"] == status and body["message"] and body["traceId"]
        else:
            assert body["status"] == status and body["type"].startswith("errors/")
            assert body["title"] and body["detail"]
    await add_fault(sim, provider="slack", status=404)
    resp = await http.post(sim.base_url("slack"), json={"text": "x"})
    assert (resp.status_code, resp.text) == (404, "no_service")


async def test_unipile_fault_picks_the_error_type(sim: SimServer, http: httpx.AsyncClient) -> None:
    await add_fault(
        sim,
        provider="unipile",
        endpoint="accounts.get",
        status=401,
        type="errors/disconnected_account",
    )
    body = (await read(http, "unipile")).json()
    assert body["type"] == "errors/disconnected_account"
    assert body["detail"] == "The account appears to be disconnected from the provider service."


@pytest.mark.parametrize(
    "fault",
    [
        {"provider": "nope", "status": 500},
        {"provider": "ghl", "status": 200},
        {"provider": "ghl"},
        {"provider": "ghl", "status": 500, "colour": "red"},
        [1],
    ],
)
async def test_bad_faults_are_refused(http: httpx.AsyncClient, fault: Any) -> None:
    resp = await http.post("/_sim/faults", json=fault)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "invalid_fault"
    assert resp.json()["error"]["message"]


async def test_times_endpoint_scope_and_clearing(sim: SimServer, http: httpx.AsyncClient) -> None:
    await add_fault(sim, provider="emailbison", endpoint="replies.thread", status=500)
    await add_fault(sim, provider="emailbison", endpoint="replies.get", status=503, times=2)
    statuses = [(await read(http, "emailbison")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [f["endpoint"] for f in (await http.get("/_sim/faults")).json()["items"]] == [
        "replies.thread"
    ]
    assert (await http.delete("/_sim/faults")).json() == {"cleared": 1}
    assert (await http.get("/_sim/faults")).json() == {"items": []}


async def test_latency_and_a_hang_released_by_clearing(
    sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider="ghl", latency_ms=300, times=1)
    started = time.monotonic()
    assert (await read(http, "ghl")).status_code == 200
    assert time.monotonic() - started >= 0.29
    await add_fault(sim, provider="ghl", hang=True, status=504, times=1)
    hanging = asyncio.create_task(read(http, "ghl"))
    await asyncio.sleep(0.3)
    assert not hanging.done()
    await clear_faults(sim)
    assert (await asyncio.wait_for(hanging, 5)).status_code == 504


async def test_after_effect_performs_the_send_then_fails(
    sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider="unipile", endpoint="chats.send", status=504, after_effect=True)
    resp = await http.post(
        "/unipile/api/v1/chats/chat_Qw81/messages", data={"text": "hi"}, headers=AUTH["unipile"]
    )
    assert resp.status_code == 504
    assert sim.sim.unipile.messages["chat_Qw81"][-1]["text"] == "hi"


@pytest.mark.parametrize("provider", list(READS))
async def test_credentials_are_required(
    sim: SimServer, http: httpx.AsyncClient, provider: str
) -> None:
    method, path, _ = READS[provider]
    assert (await http.request(method, path)).status_code == 401
    wrong = {k: v[:-3] + "bad" for k, v in AUTH[provider].items() if k != "Version"}
    if provider == "ghl":
        wrong["Version"] = "2021-07-28"
    assert (await http.request(method, path, headers=wrong)).status_code == 401
    assert (await read(http, provider)).status_code == 200


async def test_ghl_requires_the_version_header(http: httpx.AsyncClient) -> None:
    resp = await http.get(
        "/ghl/conversations/search", headers={"Authorization": AUTH["ghl"]["Authorization"]}
    )
    assert resp.status_code == 400 and "Version" in resp.json()["message"]


async def test_unknown_route_is_a_provider_404(http: httpx.AsyncClient) -> None:
    resp = await http.get("/emailbison/api/nothing", headers=AUTH["emailbison"])
    assert resp.status_code == 404 and "could not be found" in resp.json()["message"]


async def test_request_log_filters_masks_and_clears(
    sim: SimServer, http: httpx.AsyncClient
) -> None:
    await add_fault(sim, provider="unipile", status=500, times=1)
    await read(http, "unipile")
    await read(http, "emailbison")
    (entry,) = await sim_requests(sim, "unipile")
    assert (entry["endpoint"], entry["status"], entry["fault"]) == ("accounts.get", 500, 1)
    assert entry["headers"]["x-api-key"] == "…" + SIM_KEYS["unipile"][-4:]
    assert SIM_KEYS["unipile"] not in str(await sim_requests(sim))
    assert [e["provider"] for e in await sim_requests(sim)] == ["unipile", "emailbison"]
    assert (await http.delete("/_sim/requests")).status_code == 204
    assert await sim_requests(sim) == []


def test_cli_serves_the_simulator() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "replydesk", "sim", "--port", str(port)],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        for _ in range(100):
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1).json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert body is not None and body["ok"] is True
        assert body["base_urls"]["unipile"] == f"http://127.0.0.1:{port}/unipile"
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_traffic_refuses_bad_options() -> None:
    result = run_replydesk(
        "sim",
        "traffic",
        "--target",
        "http://127.0.0.1:9",
        "--workspace",
        "w",
        "--token",
        "t",
        "--providers",
        "smtp",
        env=clean_env(),
    )
    assert result.returncode == 2 and "providers must be" in result.stderr
