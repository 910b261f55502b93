"""The provider simulator in-process on a free loopback port, and helpers to drive it over HTTP.

Use the ``sim`` fixture (re-exported by the conftest of tests/integrations and tests/sim).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from replydesk.integrations.provider_client import CallPolicy
from replydesk.sim.server import SimServer

# Realistic-looking keys: the no-secret tests look for them in error texts and logs.
SIM_KEYS = {
    "emailbison": "9|q8kSmhjJRqJVT2kc1M0ezX640PxkSIM",
    "ghl": "pit-6f1c2d3e-4b5a-4c3d-9e8f-simsecret001",
    "unipile": "uNiP1le.SimKey+Secret/0001abcdefXYZ",
}

# Small timeouts and backoffs so retry and timeout tests take well under a second each.
FAST = CallPolicy(
    connect_timeout_s=1.0,
    read_timeout_s=0.4,
    send_timeout_s=0.4,
    budget_s=3.0,
    max_attempts=3,
    backoff_base_s=0.01,
    backoff_cap_s=0.05,
    retry_after_max_s=1.5,
)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(keys=SIM_KEYS) as server:
        yield server


async def add_fault(server: SimServer, **fault: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as c:
        resp = await c.post(f"{server.url}/_sim/faults", json=fault)
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()["fault"]
    return created


async def clear_faults(server: SimServer) -> None:
    async with httpx.AsyncClient() as c:
        resp = await c.delete(f"{server.url}/_sim/faults")
    assert resp.status_code == 200, resp.text


async def sim_requests(
    server: SimServer, provider: str | None = None, endpoint: str | None = None
) -> list[dict[str, Any]]:
    params = {k: v for k, v in {"provider": provider, "endpoint": endpoint}.items() if v}
    async with httpx.AsyncClient() as c:
        resp = await c.get(f"{server.url}/_sim/requests", params=params)
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items
