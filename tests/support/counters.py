"""Inbox counter rows against the reference: the counts query (counter rows + ended snoozes)
and the backlog counted from leads, as {(channel, category): n} without zeros."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.inbox.repository import BACKLOG_COUNTS_SQL, COUNTS_SQL

Groups = dict[tuple[str, str], int]


async def counted_and_reference(db: Database, ws: uuid.UUID) -> tuple[Groups, Groups]:
    """What the counts read answers and what the leads say, in one snapshot."""
    async with db.session() as session:
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        counted = {
            (r.last_inbound_channel, r.category): int(r.n)
            for r in (await session.execute(COUNTS_SQL, {"ws": ws})).all()
            if r.n is not None
        }
        reference = {
            (r.channel, r.category): int(r.n)
            for r in (await session.execute(BACKLOG_COUNTS_SQL, {"ws": ws})).all()
        }
    return counted, reference


async def assert_counters_exact(db: Database, ws: uuid.UUID) -> Groups:
    counted, reference = await counted_and_reference(db, ws)
    assert counted == reference
    return counted
