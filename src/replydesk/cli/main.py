"""Entry point: ``replydesk serve | worker | migrate | workspace | queue | version``."""

from __future__ import annotations

import json
import signal
import sys
from typing import Annotated

import typer
import uvicorn

from replydesk import __version__
from replydesk.app import create_app
from replydesk.auth.service import create_workspace
from replydesk.cli.auth_commands import register as register_auth_commands
from replydesk.cli.common import migrated_url, prepare, run_with_db
from replydesk.cli.worker import queue_app, worker_command
from replydesk.core.db import Database
from replydesk.core.logging import get_logger
from replydesk.core.server import JsonErrorsHttpToolsProtocol

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="ReplyDesk reply desk backend.",
)
workspace_app = typer.Typer(no_args_is_help=True, help="Manage workspaces.")
app.add_typer(workspace_app, name="workspace")
register_auth_commands(app)
app.add_typer(queue_app, name="queue")
app.command("worker")(worker_command)
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
    """Migrate, then serve the HTTP API (with an in-process worker unless --no-worker)."""
    settings = prepare()
    migrated_url(settings)
    api = create_app(settings, worker=not no_worker)
    bind_host, bind_port = host or settings.host, port or settings.port
    log.info("serving", url=f"http://{bind_host}:{bind_port}", worker=not no_worker)
    exit_cleanly_on_sigterm()
    uvicorn.run(
        api,
        host=bind_host,
        port=bind_port,
        log_config=None,
        access_log=False,
        http=JsonErrorsHttpToolsProtocol,
    )


def exit_cleanly_on_sigterm() -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    kills the process before atexit runs and the embedded PostgreSQL would be left running.
    Turning SIGTERM into SystemExit lets atexit stop it."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


@workspace_app.command("create")
def workspace_create(
    name: Annotated[str, typer.Argument(help="Display name (need not be unique).")],
    owner_email: Annotated[str, typer.Option("--owner-email", help="Owner's e-mail.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a workspace; prints its id and its tokens (shown this once only)."""
    settings = prepare("warning")

    async def work(db: Database) -> dict[str, str]:
        async with db.session() as session:
            created = await create_workspace(session, name, owner_email)
        return {
            "workspace_id": str(created.workspace_id),
            "webhook_token": created.webhook_token,
            "api_token": created.api_token,
        }

    result = run_with_db(settings, work)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")
        typer.echo("Tokens are shown once; store them now.")


def main() -> None:
    app()
