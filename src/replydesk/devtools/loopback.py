"""A real uvicorn server on a loopback port, run as a task in the caller's event loop (tests,
drills, the provider simulator)."""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType
from typing import Any, Literal

import uvicorn


class LoopbackServer:
    """``async with LoopbackServer(app) as server:`` then talk to ``server.url``.

    ``graceful_s`` bounds how long stopping waits for requests still running (None: forever).
    """

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        lifespan: Literal["on", "off"] = "off",
        graceful_s: int | None = None,
    ) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", port))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            lifespan=lifespan,
            log_config=None,
            access_log=False,
            loop="asyncio",
            timeout_graceful_shutdown=graceful_s,
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LoopbackServer:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        for _ in range(500):
            if self.server.started:
                return self
            if self.task.done():
                self.task.result()
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
