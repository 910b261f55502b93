"""HTTP around the app: a real uvicorn server, an HTTPS test client, login, webhook POSTs.

``https_client`` talks https://testserver so Secure cookies are stored and sent back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from replydesk.core.server import server_config
from replydesk.core.settings import Settings
from replydesk.devtools.loopback import LoopbackServer
from tests.support.members import PASSWORD
from tests.support.workspaces import Ws

# A request as some caller: (method, path, JSON body) → response.
Send = Callable[[str, str, dict[str, Any] | None], Awaitable[httpx.Response]]


class UvicornServer(LoopbackServer):
    """A real uvicorn server on a loopback port, run as a task in the test's event loop.

    With ``settings`` it runs the configuration ``replydesk serve`` runs (``server_config``)."""

    def __init__(self, app: FastAPI, settings: Settings | None = None) -> None:
        super().__init__(app)
        if settings is not None:
            config = server_config(app, settings, host="127.0.0.1", port=self.port)
            config.lifespan = "off"  # the test has entered the app's lifespan already
            config.loop = "asyncio"
            self.server = uvicorn.Server(config)

    @property
    def base_url(self) -> str:
        return self.url

    async def __aenter__(self) -> UvicornServer:
        await super().__aenter__()
        return self


@asynccontextmanager
async def https_client(
    app: FastAPI, client_ip: str = "203.0.113.7"
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Sign in; returns the CSRF token."""
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    csrf: str = resp.json()["csrf_token"]
    return csrf


async def post(
    client: httpx.AsyncClient,
    ws: Ws,
    provider: str,
    payload: Any,
    *,
    token: str | None = "",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a webhook payload (dict → JSON, bytes as they are) with the token in ``?token=``."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    params = {"token": ws.token if token == "" else token} if token is not None else {}
    hdrs = {"content-type": "application/json", **(headers or {})}
    return await client.post(ws.url(provider), content=body, params=params, headers=hdrs)


async def until_stored(
    post: Callable[[], Awaitable[httpx.Response]], within_s: float = 60.0
) -> httpx.Response:
    """POST a webhook again until it is stored (202, or 200 for a re-delivery): a warm-up
    before a test's real subject. Under the shipped (tight) ingest budgets a loaded machine's
    first connections to a fresh database can take longer than the budget, answering 503."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        resp = await post()
        if resp.status_code in (200, 202):
            return resp
        assert resp.status_code in (429, 503), resp.text
        assert asyncio.get_running_loop().time() < deadline, f"not stored within {within_s} s"
        await asyncio.sleep(0.5)
