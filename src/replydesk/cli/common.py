"""Helpers shared by CLI commands: settings, logging, a database for one command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from replydesk.core.db import Database, resolve_database_url
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
    upgrade(url)
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
