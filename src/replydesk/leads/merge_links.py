"""Tag links and read marks through a merge and its undoing.

``lead_tags`` and ``lead_reads`` rows have no id of their own and the absorbed lead's rows go
with it (FK cascade), so a merge copies them to the surviving lead and records them by value
in the merge's ``moved`` JSON:

- ``lead_tags``: the tag ids the merge added to the surviving lead (it had them not);
  ``absorbed_lead_tags``: the absorbed lead's own tag ids.
- ``lead_reads``: per user with a mark on either lead, ``[user_id, absorbed mark, surviving
  mark before, surviving mark after]`` (ISO times or null).

Read marks merge safely: the surviving lead keeps the **earlier** of the two marks, and a
lead that has inbound messages but no mark from the user counts as earliest (unread), so a
merge never marks read a message the user has not read. A lead without inbound messages
cannot be unread, so it does not count.

Undo detaches exactly the tags the merge added, re-attaches the absorbed lead's own (unless
the tag was deleted since), gives the absorbed lead its marks back and puts the surviving
lead's mark back unless the user changed it since. Undoing a split (a merge of the new lead
back) also puts the lead's marks back: it had them before the split.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.leads import merge_repository as repo


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


async def copy_links(
    session: AsyncSession,
    ws: uuid.UUID,
    surviving: dict[str, Any],
    absorbed: dict[str, Any],
) -> dict[str, list[Any]]:
    """Copy the absorbed lead's tags and read marks to the surviving lead (before the absorbed
    lead is deleted); what to record in ``moved``. ``surviving`` and ``absorbed`` are the
    leads' rows as locked (before anything moved)."""
    to, frm = int(surviving["id"]), int(absorbed["id"])
    params = {"ws": ws, "to": to, "from": frm}
    own = [int(t) for t in (await session.execute(repo.TAGS_OF, {"ws": ws, "id": frm})).scalars()]
    added = [int(t) for t in (await session.execute(repo.COPY_TAGS, params)).scalars()]
    marks: dict[str, dict[int, datetime]] = {}
    for row in await session.execute(repo.READS_OF, {"ws": ws, "ids": [to, frm]}):
        marks.setdefault(str(row.user_id), {})[int(row.lead_id)] = row.read_at
    reads: list[list[Any]] = []
    for user_id, by_lead in marks.items():
        mine, theirs = by_lead.get(to), by_lead.get(frm)
        # The surviving lead's own mark is measured against its inbound messages, the
        # absorbed one's against its: a side without inbound messages has nothing unread.
        if theirs is None:
            after = None if absorbed["last_inbound_at"] is not None else mine
        elif mine is None:
            after = None if surviving["last_inbound_at"] is not None else theirs
        else:
            after = min(mine, theirs)
        if after != mine:
            key = {"ws": ws, "id": to, "user_id": user_id}
            if after is None:
                await session.execute(repo.DELETE_READ, key)
            else:
                await session.execute(repo.SET_READ, {**key, "at": after})
        reads.append([user_id, _iso(theirs), _iso(mine), _iso(after)])
    return {"lead_tags": added, "absorbed_lead_tags": own, "lead_reads": reads}


async def restore_links(
    session: AsyncSession, ws: uuid.UUID, surviving: int, absorbed: int, moved: dict[str, Any]
) -> None:
    """Undo ``copy_links`` (the absorbed lead has been restored)."""
    added, own = moved.get("lead_tags", []), moved.get("absorbed_lead_tags", [])
    if added:
        await session.execute(repo.DETACH_TAGS, {"ws": ws, "id": surviving, "ids": added})
    if own:
        await session.execute(repo.ATTACH_TAGS, {"ws": ws, "id": absorbed, "ids": own})
    for user_id, theirs, _, _ in moved.get("lead_reads", []):
        if theirs is not None:
            params = {"ws": ws, "id": absorbed, "user_id": user_id, "at": _time(theirs)}
            await session.execute(repo.SET_READ, params)
    await restore_surviving_marks(session, ws, surviving, moved)


async def restore_surviving_marks(
    session: AsyncSession, ws: uuid.UUID, surviving: int, moved: dict[str, Any]
) -> None:
    """Put back the surviving lead's read marks a merge changed, unless changed since (also
    after the merge that undoes a split: the lead had those marks before it was split)."""
    reads = [r for r in moved.get("lead_reads", []) if r[2] != r[3]]
    if not reads:
        return
    now = {
        str(r.user_id): r.read_at
        for r in await session.execute(repo.READS_OF, {"ws": ws, "ids": [surviving]})
    }
    for user_id, _, before, after in reads:
        if now.get(user_id) != _time(after):
            continue  # the user changed it since
        key = {"ws": ws, "id": surviving, "user_id": user_id}
        if before is None:
            await session.execute(repo.DELETE_READ, key)
        else:
            await session.execute(repo.SET_READ, {**key, "at": _time(before)})
