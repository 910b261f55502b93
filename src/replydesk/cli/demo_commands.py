"""``replydesk demo``: the embedded database, the simulator and a webhook stream (cli/demo.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from replydesk.cli.common import exit_cleanly_on_sigterm, prepare
from replydesk.cli.demo import DemoOptions, run_demo


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    rate: Annotated[
        float, typer.Option(help="Webhooks per second after the opening set (0: none).")
    ] = 0.5,
    seed: Annotated[int | None, typer.Option(help="Random seed of the stream.")] = None,
) -> None:
    """A living demo inbox: prints its URL and login; Ctrl-C stops it and deletes its data."""
    if rate < 0 or not 0 < port < 65536:
        raise typer.BadParameter("rate must be at least 0 and port in 1-65535")
    exit_cleanly_on_sigterm()  # so the embedded database is stopped and its folder deleted
    run_demo(prepare("warning"), DemoOptions(host=host, port=port, rate=rate, seed=seed))
