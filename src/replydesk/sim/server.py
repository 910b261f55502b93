"""Run the simulator: in-process on a free loopback port (tests, drills) or in the foreground
(``replydesk sim --port P``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

import uvicorn

from replydesk.devtools.loopback import LoopbackServer
from replydesk.sim.app import Simulator, create_sim_app

SLACK_WEBHOOK_PATH = "/slack/services/T0SIM0000/B0SIM0000/simSecretPathX1y2Z3"
# A hanging request must not keep a stopping server alive.
GRACEFUL_S = 1


class SimServer(LoopbackServer):
    """``async with SimServer() as sim:`` then point clients at ``sim.base_url(provider)``."""

    def __init__(self, *, port: int = 0, keys: Mapping[str, str] | None = None) -> None:
        self.app = create_sim_app(keys)
        self.sim: Simulator = self.app.state.sim
        super().__init__(self.app, port=port, lifespan="on", graceful_s=GRACEFUL_S)

    def base_url(self, provider: str) -> str:
        """What a client is configured with; Slack's is a whole incoming-webhook URL."""
        if provider == "slack":
            return self.url + SLACK_WEBHOOK_PATH
        return f"{self.url}/{provider}"

    async def __aenter__(self) -> SimServer:
        await super().__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.sim.faults.release_hangs()
        await super().__aexit__(exc_type, exc, tb)


def serve_foreground(host: str, port: int) -> None:
    """Serve until interrupted (the CLI)."""
    config = uvicorn.Config(
        create_sim_app(),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_S,
    )
    uvicorn.Server(config).run()
