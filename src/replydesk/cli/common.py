"""Helpers shared by CLI commands: settings, logging, a database for one command."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

from replydesk.core.db import Database, direct_url, resolve_database_url
from replydesk.core.errors import ReplyDeskError
from replydesk.core.logging import configure_logging
from replydesk.core.migrate import upgrade
from replydesk.core.settings import Settings, get_settings

T = TypeVar("T")


def prepare(level: str | None = None) -> Settings:
    settings = get_settings()
    configure_logging(level or settings.log_level)
    return settings


def migrated_url(settings: Settings) -> str:
    url = resolve_database_url(settings)
    upgrade(direct_url(settings, url))
    return url


def run_with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one async unit of work against a migrated database, then close the pools."""
    url = migrated_url(settings)

    async def runner() -> T:
        db = Database.from_settings(settings, url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(runner())


def run_work(work: Callable[[Database], Awaitable[T]]) -> T:
    """``run_with_db`` for a command: a domain error is one ``error: …`` line and exit 1."""
    settings = prepare("warning")
    try:
        return run_with_db(settings, work)
    except ReplyDeskError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def emit(result: dict[str, Any], as_json: bool, note: str | None = None) -> None:
    """One result: JSON, or ``key: value`` lines (and a note)."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    for key, value in result.items():
        typer.echo(f"{key}: {value}")
    if note:
        typer.echo(note)


def emit_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """A listing: a JSON array, or one ``key=value …`` line per row."""
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        typer.echo(" ".join(f"{k}={v}" for k, v in row.items()))


def exit_cleanly_on_sigterm() -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that
    kills the process before atexit runs and the embedded PostgreSQL would be left running.
    Turning SIGTERM into SystemExit lets atexit stop it."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
