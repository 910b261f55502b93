"""Message events: a provider event that stores one message about one person.

Every such event is the same four commands: resolve the person (``service.resolve_lead``),
store the message and fold it into the lead's rollups (``service.record_message``), maybe set
a provider category, enqueue the message's job. ``apply`` runs them for one event;
``apply_group`` runs them for a whole group of events with one statement per step (find the
identities, lock the leads, insert the new leads, claim identities, fill blanks, insert the
messages with their rollups, enqueue the jobs), for the same result as applying the events one
by one in order (tests/leads/test_group_equivalence.py;
docs/decisions/0018-set-based-group-processing.md).

What the set-based path does not do itself, it hands back to ``apply``: a group in which an
event would bridge two leads (a merge) is applied event by event, in the same transaction.
A concurrent claim of one of the group's identities rolls the resolution back to its
savepoint and reads again, like ``resolve_lead``.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import ConcurrentUpdate
from replydesk.leads import group_repository as repo
from replydesk.leads import service
from replydesk.leads.bodies import render
from replydesk.leads.identity import IdentityKey
from replydesk.leads.repository import LEAD_FILL_COLUMNS, MESSAGE_KEYS, PROFILE_COLUMNS
from replydesk.leads.service import (
    RESOLVE_ATTEMPTS,
    LeadProfile,
    NewMessage,
    Person,
    StoredMessage,
    identity_columns,
    message_job,
)
from replydesk.leads.vocabulary import CategorySource, IdentityKind, JobType, LeadCategory
from replydesk.queue.service import enqueue, enqueue_many


@dataclass(frozen=True)
class MessageEvent:
    """What one provider event asks for; ``message.identity_id`` is filled in on the way."""

    workspace_id: uuid.UUID
    keys: list[IdentityKey]  # keys[0]: the identity the message travels through
    profile: LeadProfile
    message: NewMessage
    job: JobType | None  # enqueued once per stored message
    untracked: bool = False
    category: LeadCategory | None = None  # a provider category, once the message is stored
    # Unipile: the chat the message is in, recorded on keys[0]'s identity (a lead sync reads
    # the chat's history by it).
    unipile_chat_id: str | None = None


async def apply(session: AsyncSession, event: MessageEvent) -> StoredMessage:
    """One event, in the caller's transaction."""
    ws = event.workspace_id
    person = await service.resolve_lead(
        session, ws, event.keys, event.profile, untracked=event.untracked
    )
    await _record_chats(session, [event], [person])
    msg = replace(event.message, identity_id=person.identity_id)
    stored = await service.record_message(session, ws, person.lead_id, msg)
    await _set_category(session, event, stored)
    if event.job is not None:
        payload, dedupe_key = message_job(event.job, stored)
        await enqueue(session, event.job.value, payload, dedupe_key, workspace_id=ws)
    return stored


async def apply_group(session: AsyncSession, events: list[MessageEvent]) -> list[StoredMessage]:
    """``apply`` for every event, in order, with one statement per step for the group. An
    event that would bridge two leads (a merge) goes through ``apply`` alone, between the
    set-based runs before and after it."""
    stored: list[StoredMessage] = []
    while events:
        resolved = await _resolve(session, events)
        if resolved is None:  # the first event bridges leads: merges go through resolve_lead
            stored.append(await apply(session, events[0]))
            events = events[1:]
            continue
        people, run = resolved, events[: len(resolved)]
        await _record_chats(session, run, people)
        messages = await _record(session, run, people)
        for event, message in zip(run, messages, strict=True):
            await _set_category(session, event, message)
        await enqueue_many(
            session,
            [
                (e.job.value, *message_job(e.job, s), e.workspace_id)
                for e, s in zip(run, messages, strict=True)
                if e.job is not None
            ],
        )
        stored += messages
        events = events[len(run) :]
    return stored


async def _record_chats(
    session: AsyncSession, events: list[MessageEvent], people: list[Person]
) -> None:
    """Each event's Unipile chat on the identity its message travels through; the last event
    naming an identity wins (the order a one-by-one run would leave)."""
    chats: dict[tuple[uuid.UUID, int], str] = {}
    for event, person in zip(events, people, strict=True):
        if event.unipile_chat_id is not None and person.identity_id is not None:
            chats[(event.workspace_id, person.identity_id)] = event.unipile_chat_id
    if chats:
        ordered = sorted(chats.items(), key=lambda c: (str(c[0][0]), c[0][1]))
        await session.execute(
            repo.RECORD_CHATS,
            {
                "ws": [ws for (ws, _), _ in ordered],
                "ids": [identity for (_, identity), _ in ordered],
                "chats": [chat for _, chat in ordered],
            },
        )


async def _set_category(session: AsyncSession, event: MessageEvent, stored: StoredMessage) -> None:
    if event.category is not None:
        await service.set_category(
            session,
            event.workspace_id,
            stored.lead_id,
            event.category,
            source=CategorySource.PROVIDER,
            at=stored.occurred_at,
            message_id=stored.id,
        )


# --- resolution ------------------------------------------------------------------------------

Key = tuple[uuid.UUID, IdentityKind, str]  # an identity within its workspace


def _key(workspace_id: uuid.UUID, key: IdentityKey) -> Key:
    return (workspace_id, key.kind, key.value)


@dataclass
class _Lead:
    """A lead the group's events resolve to: an existing one (``db_id``) or one to create
    (``creator``, the index of the event that creates it)."""

    workspace_id: uuid.UUID
    db_id: int | None = None
    creator: int | None = None
    untracked: bool = True  # AND of the events' flags (an existing lead keeps its own AND it)
    profile: dict[str, Any] = field(default_factory=dict)  # first non-empty value per column

    def add_profile(self, profile: LeadProfile, untracked: bool) -> None:
        self.untracked = self.untracked and untracked
        for column, value in asdict(profile).items():
            if self.profile.get(column) is None:
                self.profile[column] = value


@dataclass
class _Plan:
    leads: list[_Lead]
    targets: list[int]  # per event: index into leads
    claims: list[list[Key]]  # per event: the keys it claims for its target


class _Retry(Exception):
    """Something changed concurrently: roll back to the savepoint and read again."""


def _simulate(events: list[MessageEvent], found: dict[Key, tuple[int, int]]) -> _Plan | None:
    """``resolve_lead`` for each event in order, on what the database holds (``found``) and
    what the earlier events of the group claimed, up to the first event whose identities
    belong to two leads (it would merge them). None when that is the first event."""
    leads: list[_Lead] = []
    by_db_id: dict[int, int] = {}
    owner: dict[Key, int] = {}
    for key, (_, lead_id) in found.items():
        if lead_id not in by_db_id:
            by_db_id[lead_id] = len(leads)
            leads.append(_Lead(key[0], db_id=lead_id))
        owner[key] = by_db_id[lead_id]
    plan = _Plan(leads, [], [])
    for index, event in enumerate(events):
        keys = [_key(event.workspace_id, k) for k in event.keys]
        owners = {owner[k] for k in keys if k in owner}
        if len(owners) > 1:
            break
        if owners:
            target = owners.pop()
        else:
            target = len(leads)
            leads.append(_Lead(event.workspace_id, creator=index, untracked=event.untracked))
        claims = [k for k in keys if k not in owner]
        for k in claims:
            owner[k] = target
        leads[target].add_profile(event.profile, event.untracked)
        plan.targets.append(target)
        plan.claims.append(claims)
    if not plan.targets:
        return None
    # Only the leads the covered events resolve to (later events may name others).
    used = sorted(set(plan.targets))
    remap = {old: new for new, old in enumerate(used)}
    plan.leads = [leads[i] for i in used]
    plan.targets = [remap[t] for t in plan.targets]
    return plan


async def _resolve(session: AsyncSession, events: list[MessageEvent]) -> list[Person] | None:
    """The people of the events up to the first one that would merge leads (None when that
    is the first), written set-based (locks, new leads, claims, filled blanks)."""
    for _ in range(RESOLVE_ATTEMPTS):
        wanted = list(dict.fromkeys(_key(e.workspace_id, k) for e in events for k in e.keys))
        rows = await session.execute(
            repo.FIND_IDENTITIES,
            {
                "ws": [k[0] for k in wanted],
                "kinds": [k[1].value for k in wanted],
                "values": [k[2] for k in wanted],
            },
        )
        found = {(r.workspace_id, IdentityKind(r.kind), r.value): (r.id, r.lead_id) for r in rows}
        plan = _simulate(events, found)
        if plan is None:
            return None
        claiming = any(plan.claims)
        savepoint = await session.begin_nested() if claiming else None
        try:
            people = await _write_people(session, events, plan, found)
        except _Retry:
            if savepoint is not None:
                await savepoint.rollback()
            continue
        if savepoint is not None:
            await savepoint.commit()
        return people
    raise ConcurrentUpdate("lead identities changed concurrently")


async def _write_people(
    session: AsyncSession,
    events: list[MessageEvent],
    plan: _Plan,
    found: dict[Key, tuple[int, int]],
) -> list[Person]:
    leads = plan.leads
    existing = sorted({lead.db_id for lead in leads if lead.db_id is not None})
    current: dict[int, Any] = {}
    if existing:
        workspaces = sorted({str(lead.workspace_id) for lead in leads})
        rows = await session.execute(repo.LOCK_LEADS, {"ws": workspaces, "ids": existing})
        current = {r.id: r for r in rows}
        if len(current) != len(existing):
            raise _Retry  # merged away meanwhile: its identities moved
    lead_ids = {i: lead.db_id for i, lead in enumerate(leads) if lead.db_id is not None}
    inserted: dict[int, dict[str, Any]] = {}
    created = [i for i, lead in enumerate(leads) if lead.creator is not None]
    if created:
        for i in created:
            creator = events[leads[i].creator or 0]
            inserted[i] = {**identity_columns(creator.keys), **leads[i].profile}
        params: dict[str, Any] = {
            "ws": [leads[i].workspace_id for i in created],
            "untracked": [leads[i].untracked for i in created],
        }
        for column in LEAD_FILL_COLUMNS:
            params[column] = [inserted[i].get(column) for i in created]
        for row in await session.execute(repo.INSERT_LEADS, params):
            lead_ids[created[row.ord - 1]] = row.id
    identities = {k: ident for k, (ident, _) in found.items()}
    claim_rank: dict[Key, int] = {}
    claims = [(k, lead_ids[plan.targets[i]]) for i, keys in enumerate(plan.claims) for k in keys]
    if claims:
        rows = await session.execute(
            repo.CLAIM_IDENTITIES,
            {
                "ws": [k[0] for k, _ in claims],
                "lead_ids": [lead for _, lead in claims],
                "kinds": [k[1].value for k, _ in claims],
                "values": [k[2] for k, _ in claims],
            },
        )
        for rank, r in enumerate(rows):
            key = (r.workspace_id, IdentityKind(r.kind), r.value)
            identities[key], claim_rank[key] = r.id, rank
        if len(claim_rank) != len(claims):
            raise _Retry  # claimed concurrently by another lead: read again
    await _fill(session, events, plan, lead_ids, current, inserted, claim_rank)
    return [
        Person(lead_ids[plan.targets[i]], identities[_key(e.workspace_id, e.keys[0])])
        for i, e in enumerate(events[: len(plan.targets)])
    ]


async def _fill(
    session: AsyncSession,
    events: list[MessageEvent],
    plan: _Plan,
    lead_ids: dict[int, int],
    current: dict[int, Any],
    inserted: dict[int, dict[str, Any]],
    claim_rank: dict[Key, int],
) -> None:
    """Blanks filled as the events one by one would: each event's profile, and the display
    column of the first identity of each kind it claimed (in claim order) for a lead it did
    not create. Only leads where a blank is actually filled are updated."""
    fills: dict[int, dict[str, Any]] = {i: dict(lead.profile) for i, lead in enumerate(plan.leads)}
    for index, keys in enumerate(plan.claims):
        target = plan.targets[index]
        if plan.leads[target].creator == index or not keys:
            continue
        ordered = sorted(keys, key=lambda k: claim_rank[k])
        columns = identity_columns([IdentityKey(k[1], k[2]) for k in ordered])
        for column, value in columns.items():
            if fills[target].get(column) is None:
                fills[target][column] = value
    rows: list[tuple[int, int, bool, dict[str, Any]]] = []
    for i, lead in enumerate(plan.leads):
        before: dict[str, Any]
        if lead.db_id is not None:
            row = current[lead.db_id]
            before = {c: getattr(row, c) for c in LEAD_FILL_COLUMNS}
            untracked_changes = row.untracked and not lead.untracked
        else:
            before, untracked_changes = inserted[i], False
        if untracked_changes or any(
            before.get(c) is None and fills[i].get(c) is not None for c in LEAD_FILL_COLUMNS
        ):
            rows.append((i, lead_ids[i], lead.untracked, fills[i]))
    if not rows:
        return
    params: dict[str, Any] = {
        "ids": [lead_id for _, lead_id, _, _ in rows],
        "untracked": [untracked for _, _, untracked, _ in rows],
        "ws": sorted({str(plan.leads[i].workspace_id) for i, _, _, _ in rows}),
    }
    for column in LEAD_FILL_COLUMNS:
        values = [f.get(column) for _, _, _, f in rows]
        params[column] = [None if v is None else str(v) for v in values]
    await session.execute(repo.FILL_LEADS, params)


assert set(PROFILE_COLUMNS) == set(asdict(LeadProfile()))


# --- messages --------------------------------------------------------------------------------

MessageKey = tuple[uuid.UUID, str, str]  # workspace, key column, provider id as text


def _message_key(event: MessageEvent) -> MessageKey:
    col = event.message.key_column
    if col not in MESSAGE_KEYS:
        raise ValueError(f"not a message key column: {col}")
    return (event.workspace_id, col, str(event.message.key))


def _stored(row: Any, created: bool) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        lead_id=row.lead_id,
        channel=row.channel,
        direction=row.direction,
        sent_by=row.sent_by,
        occurred_at=row.occurred_at,
        status=row.status,
        created=created,
    )


def _by_key(rows: Any) -> dict[MessageKey, Any]:
    found: dict[MessageKey, Any] = {}
    for r in rows:
        for col in MESSAGE_KEYS:
            value = getattr(r, col)
            if value is not None:
                found[(r.workspace_id, col, str(value))] = r
    return found


async def _record(
    session: AsyncSession, events: list[MessageEvent], people: list[Person]
) -> list[StoredMessage]:
    """``record_message`` for every event: the first event of each provider key inserts it
    (in key order, so concurrent groups wait on each other's keys in one order); a later one,
    or one whose key exists, gets the stored row, folded into the rollups again."""
    keys = [_message_key(e) for e in events]
    first: dict[MessageKey, int] = {}
    for index, key in enumerate(keys):
        first.setdefault(key, index)
    order = sorted(first, key=lambda k: (str(k[0]), k[1], k[2]))
    params: dict[str, list[Any]] = {
        name: []
        for name in (
            "ws", "lead_ids", "channels", "directions", "sent_by", "subjects", "bodies",
            "bodies_html", "bodies_text", "bodies_visible", "at", "identity_ids", *MESSAGE_KEYS,
        )
    }  # fmt: skip
    for key in order:
        index = first[key]
        msg, person = events[index].message, people[index]
        rendered = render(msg.channel, msg.body, msg.body_html, msg.body_text)
        values = (
            key[0], person.lead_id, msg.channel, msg.direction, msg.sent_by, msg.subject,
            msg.body, rendered.html, rendered.text, rendered.visible, msg.occurred_at,
            person.identity_id,
        )  # fmt: skip
        for name, value in zip(params, values, strict=False):
            params[name].append(value)
        for col in MESSAGE_KEYS:
            params[col].append(msg.key if col == msg.key_column else None)
    new = _by_key(await session.execute(repo.INSERT_MESSAGES, params))
    missing = [k for k in order if k not in new]
    old: dict[MessageKey, Any] = {}
    if missing:
        refold: dict[str, list[Any]] = {}
        for col in MESSAGE_KEYS:
            mine = [k for k in missing if k[1] == col]
            refold[f"ws_{col}"] = [k[0] for k in mine]
            refold[col] = [events[first[k]].message.key for k in mine]
        old = _by_key(await session.execute(repo.REFOLD_MESSAGES, refold))
        if any(k not in old for k in missing):
            raise ConcurrentUpdate("message changed concurrently")
    return [
        _stored(new[k], first[k] == i) if k in new else _stored(old[k], False)
        for i, k in enumerate(keys)
    ]
