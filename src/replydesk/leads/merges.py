"""Merges (an operator's, or the system's when an event bridges leads), splits and their
undoing; merge suggestions.

- **merge** (surviving ← absorbed): every row of ``LEAD_OWNED_TABLES`` moves to the
  surviving lead, its tag links and read marks are copied (``merge_links``), blanks of the
  surviving lead are filled from the absorbed one, rollups and counters are recomputed from
  the rows, the absorbed lead is deleted (the lead totals trigger counts it out) and a
  ``lead_merges`` row records who, when, the absorbed row and the id of every moved row.
  Its id then answers 301 with ``merged_into``.
- **unmerge**: the absorbed lead is restored from its recorded row, exactly the recorded rows
  (and messages that arrived since through its identities) move back, its tags and marks
  come back, the surviving lead's
  columns the merge changed are restored unless an operator changed them since.
- **split**: one identity and the messages that came through it move to a new lead.
  Undoing a split merges the new lead back.

Each merge and split is a timeline entry (``merge`` on the surviving lead, ``split`` on both
leads, data with ``merge_id``); undoing it deletes those entries, so the timeline is as before.

Both leads are locked in id order first (deterministic lock order with concurrent events,
which lock the lead they attach to). Every command runs in the caller's transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import Conflict, InvalidInput, NotFound
from replydesk.leads import merge_links, service
from replydesk.leads import merge_repository as repo
from replydesk.leads.vocabulary import LeadEventKind, MergeKind, SuggestionReason

SUGGESTION_LIMIT = 20
MERGED_CHAIN_LIMIT = 10
# Addresses at these domains say nothing about the company.
FREEMAIL = frozenset(
    {
        "gmail",
        "googlemail",
        "yahoo",
        "outlook",
        "hotmail",
        "live",
        "icloud",
        "me",
        "aol",
        "proton",
        "protonmail",
        "gmx",
        "web",
        "mail",
        "yandex",
    }
)


@dataclass(frozen=True)
class Suggestion:
    other_lead_id: int
    reason: SuggestionReason
    identity_kind: str | None


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(value: Any) -> Any:
    """A jsonb value as read through a text statement (the driver may hand over the text)."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def _lock(session: AsyncSession, ws: uuid.UUID, *ids: int) -> dict[int, dict[str, Any]]:
    """Lock the leads in id order; their rows as JSON. NotFound if one is missing."""
    rows = (await session.execute(repo.LOCK_LEADS, {"ws": ws, "ids": sorted(ids)})).all()
    found = {int(r.id): dict(_loads(r.row)) for r in rows}
    if len(found) != len(set(ids)):
        raise NotFound("lead not found")
    return found


async def _recompute(session: AsyncSession, ws: uuid.UUID, *lead_ids: int) -> None:
    for lead_id in lead_ids:
        await session.execute(repo.RECOMPUTE_ROLLUPS, {"ws": ws, "id": lead_id})


async def _row(session: AsyncSession, ws: uuid.UUID, lead_id: int) -> dict[str, Any]:
    found = (await session.execute(repo.LEAD_ROW, {"ws": ws, "id": lead_id})).scalar_one()
    return dict(_loads(found))


def _decoded(row: Any) -> dict[str, Any]:
    """A ``lead_merges`` row with its JSON columns decoded."""
    out = dict(row._mapping)
    for key in ("moved", "absorbed_row", "surviving_changes"):
        out[key] = _loads(out[key])
    return out


async def _record(session: AsyncSession, **values: Any) -> dict[str, Any]:
    params = {"identity_id": None, "absorbed_row": None, "changes": None, **values}
    params["moved"] = _json(params["moved"])
    for key in ("absorbed_row", "changes"):
        params[key] = None if params[key] is None else _json(params[key])
    return _decoded((await session.execute(repo.INSERT_MERGE, params)).one())


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{column: [before, after]} of the columns an undo restores."""
    return {
        c: [before.get(c), after.get(c)]
        for c in repo.RESTORED_COLUMNS
        if before.get(c) != after.get(c)
    }


async def _undo_changes(
    session: AsyncSession, ws: uuid.UUID, lead_id: int, changes: dict[str, list[Any]]
) -> None:
    """Put back what a merge or split changed on ``lead_id``, unless changed since."""
    current = await _row(session, ws, lead_id)
    undo = {c: ba[0] for c, ba in changes.items() if current.get(c) == ba[1]}
    if undo:
        await session.execute(
            repo.set_columns(sorted(undo)), {"ws": ws, "id": lead_id, "row": _json(undo)}
        )


async def _timeline(
    session: AsyncSession,
    ws: uuid.UUID,
    lead_id: int,
    kind: LeadEventKind,
    actor: uuid.UUID | None,
    data: dict[str, Any],
) -> None:
    await service.record_timeline_event(session, ws, lead_id, kind, actor_user_id=actor, data=data)


async def _forget(session: AsyncSession, ws: uuid.UUID, merge_id: int) -> None:
    """Remove a merge's (or split's) own timeline entries: undone, the timeline is as before
    (the audit stays in ``lead_merges``: ``undone_at``, ``undone_by_user_id``)."""
    await session.execute(repo.DELETE_MERGE_EVENTS, {"ws": ws, "merge_id": str(merge_id)})


async def merge(
    session: AsyncSession, ws: uuid.UUID, surviving: int, absorbed: int, actor: uuid.UUID | None
) -> dict[str, Any]:
    """Merge ``absorbed`` into ``surviving``; the ``lead_merges`` row."""
    if surviving == absorbed:
        raise InvalidInput("other_lead_id must be another lead")
    rows = await _lock(session, ws, surviving, absorbed)
    moved: dict[str, list[Any]] = {}
    params = {"ws": ws, "to": surviving, "from": absorbed}
    for table in repo.LEAD_OWNED_TABLES:
        result = await session.execute(repo.move_all(table), params)
        moved[table] = [int(i) for i in result.scalars()]
    moved.update(await merge_links.copy_links(session, ws, rows[surviving], rows[absorbed]))
    await session.execute(repo.ABSORB_FIELDS, params)
    await session.execute(repo.MOVE_SUGGESTIONS, params)
    await _recompute(session, ws, surviving)
    changes = _changes(rows[surviving], await _row(session, ws, surviving))
    await session.execute(repo.DELETE_LEAD, {"ws": ws, "id": absorbed})
    record = await _record(
        session,
        ws=ws,
        kind=MergeKind.MERGE.value,
        surviving=surviving,
        absorbed=absorbed,
        actor=actor,
        moved=moved,
        absorbed_row=rows[absorbed],
        changes=changes,
    )
    data = {"merge_id": record["id"], "absorbed_lead_id": absorbed}
    await _timeline(session, ws, surviving, LeadEventKind.MERGE, actor, data)
    return record


async def split(
    session: AsyncSession, ws: uuid.UUID, lead_id: int, identity_id: int, actor: uuid.UUID | None
) -> dict[str, Any]:
    """Move one identity and the messages that came through it to a new lead."""
    before = (await _lock(session, ws, lead_id))[lead_id]
    found = (
        await session.execute(repo.IDENTITY_OF, {"ws": ws, "lead_id": lead_id, "id": identity_id})
    ).one_or_none()
    if found is None:
        raise NotFound("identity not found")
    held = (await session.execute(repo.IDENTITIES_OF, {"ws": ws, "id": lead_id})).all()
    if len(held) < 2:
        raise Conflict("this is the lead's only identity: nothing to split it from")
    new_id = int(
        (await session.execute(repo.INSERT_SPLIT_LEAD, {"ws": ws, "id": lead_id})).scalar_one()
    )
    await session.execute(repo.MOVE_IDENTITY, {"ws": ws, "to": new_id, "id": identity_id})
    messages = await session.execute(
        repo.MOVE_IDENTITY_MESSAGES, {"ws": ws, "to": new_id, "from": lead_id, "ids": [identity_id]}
    )
    moved = {"messages": [int(i) for i in messages.scalars()], "lead_identities": [identity_id]}
    for touched in (lead_id, new_id):
        await session.execute(repo.REFRESH_DISPLAY, {"ws": ws, "id": touched})
    await _recompute(session, ws, lead_id, new_id)
    record = await _record(
        session,
        ws=ws,
        kind=MergeKind.SPLIT.value,
        changes=_changes(before, await _row(session, ws, lead_id)),
        surviving=lead_id,
        absorbed=new_id,
        identity_id=identity_id,
        actor=actor,
        moved=moved,
    )
    data = {"merge_id": record["id"], "identity_id": identity_id}
    await _timeline(
        session, ws, lead_id, LeadEventKind.SPLIT, actor, {**data, "new_lead_id": new_id}
    )
    await _timeline(
        session, ws, new_id, LeadEventKind.SPLIT, actor, {**data, "split_from_lead_id": lead_id}
    )
    return record


async def unmerge(
    session: AsyncSession, ws: uuid.UUID, lead_id: int, merge_id: int, actor: uuid.UUID | None
) -> dict[str, Any]:
    """Undo merge or split ``merge_id`` of ``lead_id`` (its surviving lead); the record."""
    record = (await session.execute(repo.LOCK_MERGE, {"ws": ws, "id": merge_id})).one_or_none()
    if record is None or record.surviving_lead_id != lead_id:
        raise NotFound("merge not found")
    if record.undone_at is not None:
        raise Conflict("this merge was already undone")
    if record.kind == MergeKind.SPLIT:
        back = await merge(session, ws, lead_id, record.absorbed_lead_id, actor)
        await _forget(session, ws, back["id"])
        await merge_links.restore_surviving_marks(session, ws, lead_id, back["moved"])
        await _undo_changes(session, ws, lead_id, _loads(record.surviving_changes) or {})
    else:
        await _restore(session, ws, record)
    await _forget(session, ws, merge_id)
    return _decoded(
        (await session.execute(repo.MARK_UNDONE, {"ws": ws, "id": merge_id, "actor": actor})).one()
    )


async def _restore(session: AsyncSession, ws: uuid.UUID, record: Any) -> None:
    surviving, absorbed = int(record.surviving_lead_id), int(record.absorbed_lead_id)
    into = await merged_into(session, ws, surviving)
    if into is not None:
        raise Conflict(f"lead {surviving} was merged into lead {into} since: undo that first")
    await _lock(session, ws, surviving)
    await session.execute(repo.RESTORE_LEAD, {"ws": ws, "row": _json(_loads(record.absorbed_row))})
    params = {"ws": ws, "to": absorbed, "from": surviving}
    moved: dict[str, list[Any]] = _loads(record.moved)
    for table in repo.LEAD_OWNED_TABLES:
        ids = moved.get(table, [])
        if ids:
            await session.execute(repo.move_back(table), {**params, "ids": ids})
    await merge_links.restore_links(session, ws, surviving, absorbed, moved)
    # Messages that arrived meanwhile through the absorbed lead's identities go with them.
    identities = moved.get("lead_identities", [])
    if identities:
        await session.execute(repo.MOVE_IDENTITY_MESSAGES, {**params, "ids": identities})
    await _undo_changes(session, ws, surviving, _loads(record.surviving_changes) or {})
    await _recompute(session, ws, surviving, absorbed)


async def merged_into(session: AsyncSession, ws: uuid.UUID, lead_id: int) -> int | None:
    """The lead a merged-away id now lives in (following later merges), else None."""
    found: int | None = None
    current = lead_id
    for _ in range(MERGED_CHAIN_LIMIT):
        nxt = (
            await session.execute(repo.MERGED_INTO, {"ws": ws, "id": current})
        ).scalar_one_or_none()
        if nxt is None:
            break
        found = current = int(nxt)
    return found


async def merges_of(session: AsyncSession, ws: uuid.UUID, lead_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(repo.MERGES_OF, {"ws": ws, "id": lead_id, "limit": 100})
    return [_decoded(r) for r in rows]


async def identities_of(session: AsyncSession, ws: uuid.UUID, lead_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(repo.IDENTITIES_OF, {"ws": ws, "id": lead_id})
    return [dict(r._mapping) for r in rows]


def _company_tokens(email: str | None, company: str | None) -> set[str]:
    tokens = set()
    if company:
        tokens.add(re.sub(r"[^a-z0-9]", "", company.lower()))
    if email and "@" in email:
        label = email.rsplit("@", 1)[1].split(".")[0]
        if label not in FREEMAIL:
            tokens.add(re.sub(r"[^a-z0-9]", "", label))
    return {t for t in tokens if t}


def _compatible(a: set[str], b: set[str]) -> bool:
    """No company signal on one side, or one's company/domain contains the other's."""
    return not a or not b or any(x in y or y in x for x in a for y in b)


async def suggestions(session: AsyncSession, ws: uuid.UUID, lead_id: int) -> list[Suggestion]:
    """Leads that may be the same person: ones an event's identities pointed at together,
    then the same full name with a compatible company or e-mail domain. Never merged here."""
    params = {"ws": ws, "id": lead_id, "limit": SUGGESTION_LIMIT}
    out = {
        int(r.other_lead_id): Suggestion(
            int(r.other_lead_id), SuggestionReason(r.reason), r.identity_kind
        )
        for r in await session.execute(repo.STORED_SUGGESTIONS, params)
    }
    me = (await session.execute(repo.LEAD_NAME, params)).one_or_none()
    if me is not None and me.first_name and me.last_name:
        mine = _company_tokens(me.email, me.company)
        for other in await session.execute(repo.SAME_NAME, {**params, "name": me.full_name}):
            if other.id not in out and _compatible(
                mine, _company_tokens(other.email, other.company)
            ):
                out[int(other.id)] = Suggestion(int(other.id), SuggestionReason.SAME_NAME, None)
    return list(out.values())[:SUGGESTION_LIMIT]
