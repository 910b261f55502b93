"""Run the simulator: in-process on a free loopback port (tests, drills) or in the foreground
(``replydesk sim --port P``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

from replydesk.sim.app import Simulator, create_sim_app

SLACK_WEBHOOK_PATH = "/slack/services/T0SIM0000/B0SIM0000/simSecretPathX1y2Z3"


def _config(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> uvicorn.Config:
    # A hanging request must not keep a stopping server alive.
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )


class SimServer:
    """``async with SimServer() as sim:`` then point clients at ``sim.base_url(provider)``."""

    def __init__(self, *, port: int = 0, keys: Mapping[str, str] | None = None) -> None:
        self.app = create_sim_app(keys)
        self.sim: Simulator = self.app.state.sim
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", port))
        self.port = int(self._sock.getsockname()[1])
        self._server = uvicorn.Server(_config(self.app))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        """What a client is configured with; Slack's is a whole incoming-webhook URL."""
        if provider == "slack":
            return self.url + SLACK_WEBHOOK_PATH
        return f"{self.url}/{provider}"

    async def __aenter__(self) -> SimServer:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        for _ in range(500):
            if self._server.started:
                return self
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError("simulator did not start")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.sim.faults.release_hangs()
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)
        self._sock.close()


def serve_foreground(host: str, port: int) -> None:
    """Serve until interrupted (the CLI)."""
    uvicorn.Server(_config(create_sim_app(), host, port)).run()
