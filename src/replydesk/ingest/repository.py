"""The statements ingestion runs (the insert, single and grouped; the auth load on a cache
miss, built by the workspaces domain), and how they meet the pool.

Cancellation never reaches SQLAlchemy: a cancelled asyncpg statement makes SQLAlchemy invalidate
the connection with a graceful close that can wait 2 s on a dead socket, which would break the
request's time budget. Instead each statement runs in its own task (``shielded``); a caller that
gives up aborts that task's socket, so the statement fails at once and the task ends by itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from replydesk.core.db_errors import is_bad_row
from replydesk.core.sql import statement
from replydesk.workspaces.service import webhook_auth_query

T = TypeVar("T")

# The hot path: one statement, one round trip (the engine is in autocommit mode, so this is
# also the commit). The statement-level trigger from migration 0001 sends the NOTIFY inside it.
INSERT_EVENT = statement(
    """
    INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, status, payload)
    VALUES (:workspace_id, :provider, :event_type, :dedupe_key, :status, CAST(:payload AS jsonb))
    ON CONFLICT (workspace_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)


@dataclass(frozen=True)
class NewEvent:
    workspace_id: uuid.UUID
    provider: str
    event_type: str
    dedupe_key: str
    status: str
    payload: str  # the raw JSON text; PostgreSQL parses it into jsonb


class Abandoned(Exception):
    """The caller stopped waiting before the statement was sent; nothing was executed."""


class Attempt:
    """One statement's run; ``abandon()`` stops it (or keeps it from starting)."""

    def __init__(self) -> None:
        self.abandoned = False
        self._driver: Any = None

    def attach(self, driver: Any) -> None:
        if self.abandoned:
            raise Abandoned
        self._driver = driver

    def abandon(self) -> None:
        self.abandoned = True
        terminate = getattr(self._driver, "terminate", None)
        if callable(terminate):
            terminate()  # abort the socket: the pending statement fails immediately


# Tasks whose caller gave up: referenced until they finish (each is bounded by the pool, connect
# and command timeouts), and their outcome retrieved so nothing is reported as unhandled.
_abandoned_tasks: set[asyncio.Task[Any]] = set()


def _forget(task: asyncio.Task[Any]) -> None:
    _abandoned_tasks.discard(task)
    if not task.cancelled():
        task.exception()


async def shielded(op: Callable[[Attempt], Awaitable[T]]) -> T:
    """Run ``op`` in its own task; if the caller is cancelled, abandon it instead of cancelling."""
    attempt = Attempt()
    task = asyncio.ensure_future(op(attempt))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        attempt.abandon()
        if not task.done():
            _abandoned_tasks.add(task)
            task.add_done_callback(_forget)
        raise


async def _run(
    engine: AsyncEngine, attempt: Attempt, sql: Any, params: dict[str, Any], *, rows: bool = False
) -> Any:
    """The statement's first row (or all rows), on a connection the attempt can abort."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        attempt.attach(raw.driver_connection)
        try:
            result = await conn.execute(sql, params)
            found = list(result.all()) if rows else result.first()
            await conn.commit()  # a no-op under autocommit; the commit behind a pooler
            return found
        except BaseException as exc:
            # A bad row leaves the connection fine; anything else may have broken it.
            if not is_bad_row(exc) and not conn.invalidated:
                await _discard(conn)
            raise


async def _discard(conn: AsyncConnection) -> None:
    """Invalidate without SQLAlchemy's graceful close (which may wait on a dead socket)."""
    raw = await conn.get_raw_connection()
    terminate = getattr(raw.driver_connection, "terminate", None)
    if callable(terminate):
        terminate()
    await conn.invalidate()


async def insert_event(engine: AsyncEngine, event: NewEvent) -> int | None:
    """The new row's id, or None when the dedupe key already exists."""
    params = {
        "workspace_id": event.workspace_id,
        "provider": event.provider,
        "event_type": event.event_type,
        "dedupe_key": event.dedupe_key,
        "status": event.status,
        "payload": event.payload,
    }
    row = await shielded(lambda attempt: _run(engine, attempt, INSERT_EVENT, params))
    return None if row is None else int(row[0])


async def load_workspace_auth(engine: AsyncEngine, workspace_id: uuid.UUID) -> Any:
    """The workspace's auth row (a Row) or None."""
    query = webhook_auth_query(workspace_id)
    return await shielded(lambda attempt: _run(engine, attempt, query, {}))


# Group commit: several webhooks' rows in one statement (one commit, one WAL flush, one
# NOTIFY). In-statement duplicates are skipped by ON CONFLICT DO NOTHING (the first one wins);
# RETURNING dedupe_key tells which rows are new.
INSERT_EVENTS = statement(
    """
    INSERT INTO webhook_events (workspace_id, provider, event_type, dedupe_key, status, payload)
    SELECT w, p, e, k, s, CAST(j AS jsonb)
    FROM unnest(
        CAST(:workspace_ids AS uuid[]), CAST(:providers AS text[]), CAST(:event_types AS text[]),
        CAST(:dedupe_keys AS text[]), CAST(:statuses AS text[]), CAST(:payloads AS text[])
    ) AS t(w, p, e, k, s, j)
    ON CONFLICT (workspace_id, dedupe_key) DO NOTHING
    RETURNING dedupe_key, id
    """
)


async def insert_events(engine: AsyncEngine, events: list[NewEvent]) -> dict[str, int]:
    """Insert many events in one statement; ``{dedupe_key: id}`` of the rows that were new."""
    params = {
        "workspace_ids": [e.workspace_id for e in events],
        "providers": [e.provider for e in events],
        "event_types": [e.event_type for e in events],
        "dedupe_keys": [e.dedupe_key for e in events],
        "statuses": [e.status for e in events],
        "payloads": [e.payload for e in events],
    }
    found = await shielded(lambda attempt: _run(engine, attempt, INSERT_EVENTS, params, rows=True))
    return {str(key): int(event_id) for key, event_id in found}


# The outage spool's replay (ingest/spooling.py): like INSERT_EVENTS, with the time each event
# arrived (not the time of the replay), so received_at tells when the provider sent it.
INSERT_SPOOLED_EVENTS = statement(
    """
    INSERT INTO webhook_events
        (workspace_id, provider, event_type, dedupe_key, status, payload, received_at)
    SELECT w, p, e, k, s, CAST(j AS jsonb), r
    FROM unnest(
        CAST(:workspace_ids AS uuid[]), CAST(:providers AS text[]), CAST(:event_types AS text[]),
        CAST(:dedupe_keys AS text[]), CAST(:statuses AS text[]), CAST(:payloads AS text[]),
        CAST(:received_ats AS timestamptz[])
    ) AS t(w, p, e, k, s, j, r)
    ON CONFLICT (workspace_id, dedupe_key) DO NOTHING
    RETURNING dedupe_key, id
    """
)


async def insert_spooled_events(
    engine: AsyncEngine, events: list[tuple[NewEvent, datetime]]
) -> dict[str, int]:
    """Insert spooled events (each with its arrival time); ``{dedupe_key: id}`` of new rows."""
    params = {
        "workspace_ids": [e.workspace_id for e, _ in events],
        "providers": [e.provider for e, _ in events],
        "event_types": [e.event_type for e, _ in events],
        "dedupe_keys": [e.dedupe_key for e, _ in events],
        "statuses": [e.status for e, _ in events],
        "payloads": [e.payload for e, _ in events],
        "received_ats": [at for _, at in events],
    }
    found = await shielded(
        lambda attempt: _run(engine, attempt, INSERT_SPOOLED_EVENTS, params, rows=True)
    )
    return {str(key): int(event_id) for key, event_id in found}
