"""``replydesk backup FILE`` and ``replydesk restore FILE [--force]`` (docs/runbook.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from replydesk.cli.common import prepare
from replydesk.core.backup import backup, restore
from replydesk.core.db import resolve_database_url
from replydesk.core.errors import ReplyDeskError


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)


def backup_command(
    file: Annotated[Path, typer.Argument(help="Where to write the dump (pg_dump custom format).")],
) -> None:
    """Dump the database (embedded or DATABASE_URL) into FILE with pg_dump."""
    settings = prepare("warning")
    url = resolve_database_url(settings)
    try:
        size = backup(url, file, embedded=settings.embedded)
    except ReplyDeskError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"backup": str(file), "bytes": size}))


def restore_command(
    file: Annotated[Path, typer.Argument(help="A file written by `replydesk backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that is not empty.")
    ] = False,
) -> None:
    """Restore FILE with pg_restore into an empty database (or any, with --force)."""
    settings = prepare("warning")
    url = resolve_database_url(settings)
    try:
        asyncio.run(restore(url, file, embedded=settings.embedded, force=force))
    except ReplyDeskError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps({"restored": str(file)}))
