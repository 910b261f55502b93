"""The time budget of an inbox read: over budget is a 503 that says so, never a hang."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db_errors import is_query_canceled
from replydesk.core.errors import Unavailable
from replydesk.core.logging import get_logger
from replydesk.inbox import repository

log = get_logger(__name__)


@asynccontextmanager
async def within_budget(session: AsyncSession, timeout_ms: int, what: str) -> AsyncIterator[None]:
    """Statements run inside get ``timeout_ms``; a cancellation becomes ``Unavailable``
    naming ``what`` ("the lead list"), logged as ``db_timeout``."""
    await repository.apply_budget(session, timeout_ms)
    try:
        yield
    except DBAPIError as exc:
        if not is_query_canceled(exc):
            raise
        log.warning("inbox_query_timeout", category="db_timeout", query=what)
        raise Unavailable(
            f"{what} took longer than its time budget; narrow the filter or retry",
            retry_after_s=1,
        ) from exc
