"""Entry point: ``replydesk serve | worker | migrate | workspace | webhook-token | user | token |
queue | integrations | sim | triage | backup | restore | version``."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from typing import Annotated

import typer

from replydesk import __version__
from replydesk.app import create_app
from replydesk.cli.auth_commands import register as register_auth_commands
from replydesk.cli.backup_commands import register as register_backup_commands
from replydesk.cli.common import exit_cleanly_on_sigterm, migrated_url, prepare
from replydesk.cli.demo_commands import register as register_demo_command
from replydesk.cli.inbox_commands import register as register_inbox_commands
from replydesk.cli.integration_commands import register as register_integration_commands
from replydesk.cli.sim_commands import sim_app
from replydesk.cli.triage_commands import register as register_triage_commands
from replydesk.cli.worker import queue_app, worker_command
from replydesk.cli.worker_process import worker_process
from replydesk.cli.workspace_commands import register as register_workspace_commands
from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.metrics import configure_metrics
from replydesk.core.server import serving
from replydesk.core.settings import Settings
from replydesk.web import first_run
from replydesk.web.first_run import FirstRun

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="ReplyDesk reply desk backend.",
)
register_workspace_commands(app)
register_auth_commands(app)
app.add_typer(queue_app, name="queue")
register_integration_commands(app)
app.add_typer(sim_app, name="sim")
register_triage_commands(app)
register_inbox_commands(app)
app.command("worker")(worker_command)
register_backup_commands(app)
register_demo_command(app)
log = get_logger("replydesk.cli")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def migrate() -> None:
    """Apply database migrations (safe to run from several processes at once)."""
    settings = prepare()
    migrated_url(settings)
    typer.echo("database is at the latest migration")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run a queue worker in-process.")
    ] = False,
) -> None:
    """Migrate, then serve the HTTP API with a queue worker (a child process, or in-process
    with REPLYDESK_SERVE_WORKER=inline) unless --no-worker."""
    settings = prepare()
    url = migrated_url(settings)
    configure_metrics(settings, "api")
    bind_host, bind_port = host or settings.host, port or settings.port
    setup = asyncio.run(_first_run(settings, url, f"http://{bind_host}:{bind_port}"))
    mode = "none" if no_worker else settings.serve_worker
    api = create_app(settings, worker=mode == "inline", first_run=setup)
    log.info(
        "serving",
        url=f"http://{bind_host}:{bind_port}",
        worker=mode,
        trusted_proxies=settings.trusted_proxy_list,
    )
    exit_cleanly_on_sigterm()
    with ExitStack() as stack:  # the worker stops before the embedded database (atexit)
        if mode == "process":
            stack.enter_context(worker_process(settings, url))
        serving(api, settings, host=bind_host, port=bind_port).run()


async def _first_run(settings: Settings, url: str, public_url: str) -> FirstRun:
    """On a database without users: a one-time setup link, printed (web/first_run.py)."""
    db = Database.from_settings(settings, url)
    try:
        return await first_run.prepare(db, public_url)
    finally:
        await db.dispose()


def main() -> None:
    app()
