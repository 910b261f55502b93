"""Group commit: rows of concurrent webhooks share INSERTs; answers stay per request."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from replydesk.core.db import Database
from replydesk.core.db_errors import sqlstate
from replydesk.ingest.batcher import GroupCommitter
from replydesk.ingest.repository import NewEvent
from tests.support.http import UvicornServer
from tests.support.rows import count_events, events
from tests.support.samples import sample
from tests.support.workspaces import Ws


def _event(ws: uuid.UUID, key: str, payload: str = '{"a": 1}') -> NewEvent:
    return NewEvent(ws, "unipile", "message_received", f"unipile:{ws}:{key}", "pending", payload)


@pytest.fixture
def engine(db: Database) -> AsyncEngine:
    return db.ingest_engine.execution_options(**db.single_statement_options)


def _committer(engine: AsyncEngine, max_flushes: int = 1) -> GroupCommitter:
    return GroupCommitter(engine, max_rows=100, max_flushes=max_flushes, flush_budget_s=5)


async def test_queued_rows_share_a_statement_and_duplicates_in_a_batch_are_duplicates(
    engine: AsyncEngine, db: Database, ws: Ws
) -> None:
    committer = _committer(engine)
    keys = [f"k{i % 10}" for i in range(40)]  # 10 distinct keys, each sent 4 times
    results = await asyncio.gather(*(committer.insert(_event(ws.id, k)) for k in keys))
    assert committer.flushes == 2  # the first row alone (a slot was free), the rest together
    new = [r for r in results if r is not None]
    assert len(new) == 10 and len(set(new)) == 10
    assert Counter(k for k, r in zip(keys, results, strict=True) if r is not None) == {
        f"k{i}": 1 for i in range(10)
    }
    assert await count_events(db) == 10
    # Already stored: every later send of those keys is a duplicate.
    again = await asyncio.gather(*(committer.insert(_event(ws.id, k)) for k in keys[:10]))
    assert again == [None] * 10


async def test_one_bad_row_fails_alone(engine: AsyncEngine, db: Database, ws: Ws) -> None:
    committer = _committer(engine)
    good = [_event(ws.id, f"g{i}") for i in range(5)]
    nul = _event(ws.id, "nul", '{"a": "\\u0000"}')  # PostgreSQL's jsonb refuses it
    orphan = _event(uuid.uuid4(), "orphan")  # no such workspace: foreign key violation
    first, *rest = await asyncio.gather(
        committer.insert(_event(ws.id, "first")),
        *(committer.insert(e) for e in [*good, nul, orphan]),
        return_exceptions=True,
    )
    assert isinstance(first, int)
    assert all(isinstance(r, int) for r in rest[:5]), rest
    assert isinstance(rest[5], DBAPIError) and sqlstate(rest[5]) == "22P05"
    assert isinstance(rest[6], DBAPIError) and sqlstate(rest[6]) == "23503"
    assert {e["dedupe_key"].rsplit(":", 1)[1] for e in await events(db)} == {
        "first",
        *(f"g{i}" for i in range(5)),
    }


async def test_a_caller_that_gives_up_before_its_flush_writes_nothing(
    engine: AsyncEngine, db: Database, ws: Ws
) -> None:
    committer = _committer(engine)
    first = asyncio.create_task(committer.insert(_event(ws.id, "first")))
    await asyncio.sleep(0)  # the first flush is running: the next row has to queue
    queued = asyncio.create_task(committer.insert(_event(ws.id, "queued")))
    await asyncio.sleep(0)
    queued.cancel()
    assert isinstance(await first, int)
    with pytest.raises(asyncio.CancelledError):
        await queued
    await asyncio.sleep(0.1)
    assert await count_events(db) == 1


async def test_burst_over_http_is_grouped(app: FastAPI, db: Database, ws: Ws) -> None:
    async with UvicornServer(app) as server, httpx.AsyncClient(base_url=server.base_url) as c:

        async def send(n: int) -> httpx.Response:
            payload = sample("emailbison", "email_sent")
            payload["data"]["scheduled_email"]["id"] = n
            return await c.post(
                ws.url("emailbison"),
                params={"token": ws.token},
                content=json.dumps(payload),
                headers={"content-type": "application/json"},
            )

        responses = await asyncio.gather(*(send(n) for n in range(200)))
    assert Counter(r.status_code for r in responses) == {202: 200}
    ids = {r.json()["event_id"] for r in responses}
    assert len(ids) == 200
    assert {e["id"] for e in await events(db)} == ids
    committer = app.state.ingestor.committer
    assert committer.rows == 200
    assert committer.flushes < 200  # rows did share statements
