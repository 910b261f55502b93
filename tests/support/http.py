"""HTTP around the app: a real uvicorn server, an HTTPS test client, login, webhook POSTs.

``https_client`` talks https://testserver so Secure cookies are stored and sent back.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.support.members import PASSWORD
from tests.support.workspaces import Ws

# A request as some caller: (method, path, JSON body) → response.
Send = Callable[[str, str, dict[str, Any] | None], Awaitable[httpx.Response]]


class UvicornServer:
    """A real uvicorn server on a loopback port, run as a task in the test's event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app, lifespan="off", log_config=None, access_log=False, loop="asyncio"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> UvicornServer:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        for _ in range(200):
            if self.server.started:
                return self
            await asyncio.sleep(0.01)
        raise RuntimeError("uvicorn did not start")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        self.sock.close()


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
