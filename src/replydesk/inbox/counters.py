"""``replydesk inbox recount``: check the inbox counter rows against the leads and fix drift.

The counter rows (``inbox_counters``) are kept by triggers on ``leads`` (migration 0014),
so they drift only if those were bypassed (triggers disabled, a restore of one table). A
recount compares, in one snapshot, the rows with the leads they count (an index scan of
the workspace's backlog, O(backlog): an operator's command, never a request path) and adds
the difference to its own slot, so writers committing meanwhile stay exact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db import Database
from replydesk.core.errors import NotFound
from replydesk.core.logging import get_logger
from replydesk.inbox import repository

log = get_logger(__name__)

WORKSPACE_PAGE = 500
NO_WORKSPACE = uuid.UUID(int=0)


@dataclass(frozen=True)
class Drift:
    """One (channel, category) whose counter sum differed from the leads; now fixed."""

    workspace_id: uuid.UUID
    channel: str
    category: str
    counted: int  # what the counter rows said
    actual: int  # what the leads say (the counters now say this)


async def recount(session: AsyncSession, workspace_id: uuid.UUID) -> list[Drift]:
    """Fix the workspace's counter rows in this transaction; returns what differed."""
    await session.execute(repository.SET_TIMEOUT_SQL, {"ms": "0"})
    rows = (await session.execute(repository.RECOUNT_SQL, {"ws": workspace_id})).all()
    found = [
        Drift(workspace_id, r.channel, r.category, int(r.counted), int(r.actual)) for r in rows
    ]
    if found:
        log.warning(
            "inbox_counters_drift_fixed",
            workspace_id=str(workspace_id),
            groups=len(found),
            delta=sum(d.actual - d.counted for d in found),
        )
    return found


async def recount_workspaces(
    db: Database, workspace_id: uuid.UUID | None = None
) -> tuple[int, list[Drift]]:
    """Recount one workspace, or every one (each in its own transaction); returns how many
    were checked and the drift fixed."""
    if workspace_id is not None:
        async with db.session() as session:
            if (await session.execute(repository.WORKSPACE_EXISTS, {"ws": workspace_id})).first():
                return 1, await recount(session, workspace_id)
        raise NotFound(f"no workspace {workspace_id}")
    checked, drift, after = 0, [], NO_WORKSPACE
    while True:
        async with db.session() as session:
            params = {"after": after, "limit": WORKSPACE_PAGE}
            ids = list((await session.execute(repository.WORKSPACE_IDS_AFTER, params)).scalars())
        for ws in ids:
            async with db.session() as session:
                drift += await recount(session, ws)
        checked += len(ids)
        if len(ids) < WORKSPACE_PAGE:
            return checked, drift
        after = ids[-1]
