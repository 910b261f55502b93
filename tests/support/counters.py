"""Inbox counter rows against the reference: the counts query (counter rows + ended snoozes)
and the backlog counted from leads, as {(channel, category): n} without zeros."""

from __future__ import annotations

import uuid

from replydesk.core.db import Database
from replydesk.inbox.repository import BACKLOG_COUNTS_SQL, COUNTS_SQL

Groups = dict[tuple[str, str], int]


async def counted_and_reference(db: Database, ws: uuid.UUID) -> tuple[Groups, Groups]:
    """What the counts read answers and what the leads say, in one snapshot."""
    async with db.session() as session:
        # Set before the transaction begins: behind a transaction-mode pooler the app's first
        # statement of every transaction is its SET LOCAL (core/db.py), so a SET TRANSACTION
        # here would come too late.
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
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
