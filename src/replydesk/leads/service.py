"""The leads domain's commands: the only code that writes leads, messages and lead events.

Leads are matched by their hard identities (``lead_identities``: e-mail, phone, LinkedIn id
and profile URL, provider contact ids), claimed with ``INSERT … ON CONFLICT``, never
find-then-create. Messages are keyed by
their provider id; a message that already exists is not inserted again, but its rollups are
re-applied from the stored row, so replays and out-of-order deliveries converge to the same
lead state (``GREATEST`` is commutative and idempotent). Every command runs in the caller's
transaction. Provider events (``integrations/``) and operator actions (``inbox/``) both
come through here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import ConcurrentUpdate
from replydesk.leads import identity, merge_repository, merges, repository
from replydesk.leads.bodies import render
from replydesk.leads.bodies import visible_text as _visible_text
from replydesk.leads.identity import IdentityKey
from replydesk.leads.repository import MESSAGE_KEYS
from replydesk.leads.vocabulary import (
    STATUS_RANK,
    WEAK_CATEGORIES,
    CategorySource,
    IdentityKind,
    JobType,
    LeadCategory,
    LeadEventKind,
    LeadStatus,
)
from replydesk.queue.service import enqueue

# Sources whose category an operator's change overrides (recorded as a labelled example).
AUTOMATIC_SOURCES = (CategorySource.PROVIDER, CategorySource.RULES, CategorySource.AI)
MANUAL_CONFIDENCE = 1.0


@dataclass(frozen=True)
class LeadProfile:
    """Descriptive fields: they only fill blanks (the first non-empty value is kept)."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Person:
    """The lead an event is about, and the id of the identity its message travels through."""

    lead_id: int
    identity_id: int | None


# Attempts when a concurrent event claimed one of our identities first (each attempt re-reads
# what that event committed; a third conflict in a row is a retryable ConcurrentUpdate).
RESOLVE_ATTEMPTS = 3


def _key_arrays(keys: list[IdentityKey]) -> dict[str, list[str]]:
    return {"kinds": [k.kind.value for k in keys], "values": [k.value for k in keys]}


async def _owners(
    session: AsyncSession, workspace_id: uuid.UUID, keys: list[IdentityKey], *, claim_for: int = 0
) -> dict[IdentityKey, tuple[int, int]]:
    """(identity id, lead id) per key: existing ones, or with ``claim_for`` the ones claimed."""
    sql = repository.CLAIM_IDENTITIES if claim_for else repository.FIND_IDENTITIES
    params = {"ws": workspace_id, "lead_id": claim_for, **_key_arrays(keys)}
    rows = (await session.execute(sql, params)).all()
    return {IdentityKey(IdentityKind(r.kind), r.value): (r.id, r.lead_id) for r in rows}


def identity_columns(keys: list[IdentityKey]) -> dict[str, str | None]:
    """Display columns from the first identity of each kind."""
    values: dict[str, str | None] = dict.fromkeys(repository.IDENTITY_COLUMNS.values())
    for key in keys:
        column = repository.IDENTITY_COLUMNS[key.kind]
        values[column] = values[column] or identity.display(key)
    return values


async def _bridge(
    session: AsyncSession, workspace_id: uuid.UUID, owners: dict[IdentityKey, tuple[int, int]]
) -> int | None:
    """The one lead the owners of an event's identities become (the lowest id), every other
    owner merged into it; locked in id order. None when one of them was merged away meanwhile."""
    lead_ids = sorted({lead_id for _, lead_id in owners.values()})
    locked = await session.execute(
        merge_repository.LOCK_LEADS, {"ws": workspace_id, "ids": lead_ids}
    )
    if len(locked.all()) != len(lead_ids):
        return None
    survivor = lead_ids[0]
    for absorbed in lead_ids[1:]:
        await merges.merge(session, workspace_id, survivor, absorbed, None)
    for key, (identity_id, _) in owners.items():
        owners[key] = (identity_id, survivor)
    return survivor


async def resolve_lead(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    keys: list[IdentityKey],
    profile: LeadProfile,
    *,
    untracked: bool = False,
) -> Person:
    """The person any of these hard identities already belongs to, else a new lead.

    ``keys[0]`` is the identity the event's message travels through. When the identities
    point at several leads, the event bridges them: every owner is locked in id order and
    merged into the lowest id (``merges.merge``, recorded with no actor and reversible like
    any merge), and the event goes to that lead. Soft signals (names) never merge here.
    Race-free without check-then-insert: a new lead claims all its keys with ``INSERT … ON
    CONFLICT DO NOTHING`` inside a savepoint; if a concurrent event got one first, the
    savepoint is rolled back and the keys are read again (now committed).
    ``untracked`` stays true only while every event about the lead was an untracked reply.
    """
    if not keys:
        raise ValueError("resolve_lead needs at least one identity")
    fields = {"ws": workspace_id, "untracked": untracked, **asdict(profile)}
    for _ in range(RESOLVE_ATTEMPTS):
        owners = await _owners(session, workspace_id, keys)
        if owners:
            target = await _bridge(session, workspace_id, owners)
            if target is None:
                continue  # merged away meanwhile: its identities moved, read them again
            await session.execute(repository.FILL_PROFILE, {**fields, "id": target})
            missing = [k for k in keys if k not in owners]
            claimed = (
                await _owners(session, workspace_id, missing, claim_for=target) if missing else {}
            )
            if claimed:
                await session.execute(
                    repository.FILL_IDENTITY_COLUMNS,
                    {"id": target, "ws": workspace_id, **identity_columns(list(claimed))},
                )
            if len(claimed) < len(missing):
                continue  # claimed concurrently by another lead: read again, and merge it
            primary = claimed.get(keys[0]) or owners.get(keys[0])
            return Person(target, primary[0] if primary else None)
        savepoint = await session.begin_nested()
        lead_id = int(
            await repository.scalar(
                session, repository.INSERT_LEAD, {**fields, **identity_columns(keys)}
            )
        )
        claimed = await _owners(session, workspace_id, keys, claim_for=lead_id)
        if len(claimed) == len(keys):
            await savepoint.commit()
            return Person(lead_id, claimed[keys[0]][0])
        await savepoint.rollback()
    raise ConcurrentUpdate("lead identities changed concurrently")


@dataclass(frozen=True)
class NewMessage:
    channel: str
    direction: str
    sent_by: str
    occurred_at: datetime
    key_column: str
    key: int | str
    subject: str | None = None
    body: str | None = None  # as before: the provider's text, else its HTML
    body_html: str | None = None  # what the provider sent as HTML
    body_text: str | None = None  # what the provider sent as plain text
    identity_id: int | None = None  # Person.identity_id


@dataclass(frozen=True)
class StoredMessage:
    id: int
    lead_id: int
    channel: str
    direction: str
    sent_by: str
    occurred_at: datetime
    status: str
    created: bool  # False: it existed (a replay, a re-delivery, or the echo of our own send)


async def record_message(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, msg: NewMessage
) -> StoredMessage:
    """Insert the message unless its provider key exists, and fold the stored row into the
    lead's rollups, in the caller's transaction."""
    col = msg.key_column
    if col not in MESSAGE_KEYS:
        raise ValueError(f"not a message key column: {col}")
    rendered = render(msg.channel, msg.body, msg.body_html, msg.body_text)
    params: dict[str, Any] = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "channel": msg.channel,
        "direction": msg.direction,
        "sent_by": msg.sent_by,
        "subject": msg.subject,
        "body": msg.body,
        "body_html": rendered.html,
        "body_text": rendered.text,
        "body_visible": rendered.visible,
        "at": msg.occurred_at,
        "key": msg.key,
        "identity_id": msg.identity_id,
    }
    row = await repository.row(session, repository.INSERT_MESSAGE[col], params)
    created = row is not None
    if row is None:
        row = await repository.row(session, repository.REFOLD_MESSAGE[col], params)
        if row is None:
            raise ConcurrentUpdate("message changed concurrently")
    return StoredMessage(**row._mapping, created=created)


async def raise_status(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, status: LeadStatus
) -> bool:
    """Move the lead up to ``status`` (never down the precedence); True when it changed."""
    params = {
        "id": lead_id,
        "ws": workspace_id,
        "status": status.value,
        "rank": STATUS_RANK[status],
    }
    return await repository.scalar(session, repository.RAISE_STATUS, params) is not None


def visible_text(text: str | None = None, html: str | None = None) -> str:
    """The new text of an e-mail body (HTML converted, quoted history and signature folded
    away by the reply parser), as stored in ``messages.body_visible``."""
    return _visible_text(text, html)


async def set_category(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    category: LeadCategory | str,
    *,
    source: CategorySource = CategorySource.PROVIDER,
    confidence: float | None = None,
    at: datetime | None = None,
    message_id: int | None = None,
) -> bool:
    """An automatic category (a provider signal, the rules, AI), in the caller's transaction;
    True when the lead's category changed. Never overwrites an operator's (manual) category;
    ``at`` (the message's or signal's time) orders competing automatic categories: the
    newest wins, except that out_of_office/other never replace a substantive category."""
    if source == CategorySource.MANUAL:
        raise ValueError("manual categories go through update_lead")
    category = LeadCategory(category)
    params = {
        "id": lead_id,
        "ws": workspace_id,
        "category": category.value,
        "source": source.value,
        "confidence": confidence,
        "at": at,
        "message_id": message_id,
        "weak": category in WEAK_CATEGORIES,
    }
    return await repository.scalar(session, repository.SET_AUTOMATIC_CATEGORY, params) is not None


async def record_out_of_office(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, at: datetime, until: date | None
) -> bool:
    """The lead's newest inbound message at ``at`` is an out-of-office auto-reply stating
    ``until`` (or no date): the lead leaves "requires attention" until it writes again."""
    params = {"id": lead_id, "ws": workspace_id, "at": at, "until": until}
    return await repository.scalar(session, repository.RECORD_OUT_OF_OFFICE, params) is not None


async def record_unsubscribe(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    external_id: str,
    *,
    occurred_at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """The lead asked to hear no more: status unsubscribed (unless closed, which ranks
    higher) and one ``unsubscribe`` timeline event per ``external_id``. True when new."""
    added = await record_timeline_event(
        session,
        workspace_id,
        lead_id,
        LeadEventKind.UNSUBSCRIBE,
        data=data,
        occurred_at=occurred_at,
        external_id=external_id,
    )
    await raise_status(session, workspace_id, lead_id, LeadStatus.UNSUBSCRIBED)
    return added


async def is_unsubscribed(session: AsyncSession, workspace_id: uuid.UUID, lead_id: int) -> bool:
    """Whether sends to this lead must be refused (``409 unsubscribed``): its status is
    unsubscribed or its category is unsubscribe (a closed lead that asked to unsubscribe
    keeps status closed). False for a lead outside the workspace (the caller answers 404).
    An operator re-opens sends by setting both status and category."""
    params = {"id": lead_id, "ws": workspace_id}
    return bool(await repository.scalar(session, repository.IS_UNSUBSCRIBED, params))


@dataclass(frozen=True)
class InboundText:
    """What post-processing reads of a stored message."""

    id: int
    lead_id: int
    channel: str
    direction: str
    subject: str | None
    body: str | None
    body_html: str | None
    body_text: str | None
    body_visible: str | None
    occurred_at: datetime


async def message_text(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> InboundText | None:
    found = await repository.row(
        session, repository.INBOUND_MESSAGE, {"id": message_id, "ws": workspace_id}
    )
    return None if found is None else InboundText(**found._mapping)


async def count_lead_event(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    kind: LeadEventKind,
    external_id: str,
    occurred_at: datetime | None,
) -> bool:
    """Record the event once and bump its counter only then; True when it was new."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "kind": kind.value,
        "external_id": external_id,
        "at": occurred_at,
    }
    return await repository.scalar(session, repository.COUNT_LEAD_EVENT[kind], params) is not None


async def record_timeline_event(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    kind: LeadEventKind,
    *,
    actor_user_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    external_id: str | None = None,
) -> bool:
    """Add an event to the lead's timeline, in the caller's transaction; True when added.

    Any domain may call it (provider events, operator changes, merges). With
    ``external_id`` (a provider event: the id part of its webhook dedupe key) the event is
    recorded once, however often it is delivered; without one every call is an entry.
    ``occurred_at`` defaults to now; ``data`` is JSON (kind-specific, e.g. from/to). A lead
    that is not in the workspace records nothing (False).
    """
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "kind": kind.value,
        "external_id": external_id,
        "actor": actor_user_id,
        "data": json.dumps(data or {}),
        "at": occurred_at,
    }
    return await repository.scalar(session, repository.RECORD_EVENT, params) is not None


# Operator fields whose changes are timeline events (snoozes are not).
_CHANGE_EVENTS = {
    "status": LeadEventKind.STATUS_CHANGE,
    "category": LeadEventKind.CATEGORY_CHANGE,
    "assignee_user_id": LeadEventKind.ASSIGNEE_CHANGE,
}


def _json_value(value: Any) -> str | None:
    return None if value is None else str(value)


async def update_lead(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    values: dict[str, Any],
    *,
    actor_user_id: uuid.UUID | None = None,
) -> None:
    """An operator's change to status, category, snooze or assignee (already validated).
    Idempotent: a repeat changes nothing, not even ``updated_at``, and records no event.
    Each changed status, category or assignee is a timeline event {"from", "to"}."""
    params = {"id": lead_id, "ws": workspace_id}
    before = await repository.row(session, repository.LOCK_OPERATOR_FIELDS, params)
    if before is None:
        return
    values = dict(values)
    if "category" in values:
        await _manual_category(session, workspace_id, lead_id, before, values, actor_user_id)
    await repository.update_fields(session, workspace_id, lead_id, values)
    for column, kind in _CHANGE_EVENTS.items():
        if column not in values:
            continue
        old, new = _json_value(getattr(before, column)), _json_value(values[column])
        if old != new:
            await record_timeline_event(
                session,
                workspace_id,
                lead_id,
                kind,
                actor_user_id=actor_user_id,
                data={"from": old, "to": new},
            )


async def _manual_category(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    before: Any,
    values: dict[str, Any],
    actor_user_id: uuid.UUID | None,
) -> None:
    """An operator's category is ``manual`` (automation never overwrites it; clearing it,
    null, hands the category back to automation). Replacing an automatic category with a
    different one is kept as a labelled example in ``category_overrides``."""
    category = values["category"]
    if category is not None:
        category = LeadCategory(category).value
    values["category"] = category
    values["category_source"] = None if category is None else CategorySource.MANUAL.value
    values["category_confidence"] = None if category is None else MANUAL_CONFIDENCE
    if (before.category, before.category_source) != (category, values["category_source"]):
        await session.execute(repository.STAMP_CATEGORY, {"id": lead_id, "ws": workspace_id})
    if (
        category is not None
        and before.category is not None
        and before.category != category
        and before.category_source in AUTOMATIC_SOURCES
    ):
        await session.execute(
            repository.INSERT_OVERRIDE,
            {
                "ws": workspace_id,
                "lead_id": lead_id,
                "message_id": before.category_message_id,
                "automatic_category": before.category,
                "automatic_source": before.category_source,
                "automatic_confidence": before.category_confidence,
                "manual_category": category,
                "actor": actor_user_id,
            },
        )


def message_job(job_type: JobType, stored: StoredMessage) -> tuple[dict[str, Any], str]:
    """The payload and dedupe key of ``job_type`` for a stored message (once per message):
    a follow-up start carries the sender, a post-processing job the channel."""
    extra = (
        {"sent_by": stored.sent_by}
        if job_type is JobType.FOLLOWUP_START
        else {"channel": stored.channel}
    )
    return {"lead_id": stored.lead_id, "message_id": stored.id, **extra}, f"{job_type}:{stored.id}"


async def _message_job(
    session: AsyncSession, workspace_id: uuid.UUID, stored: StoredMessage, job_type: JobType
) -> None:
    """Enqueue ``job_type`` for a stored message, once per message (dedupe key)."""
    payload, dedupe_key = message_job(job_type, stored)
    await enqueue(session, job_type.value, payload, dedupe_key, workspace_id=workspace_id)


async def start_followup(
    session: AsyncSession, workspace_id: uuid.UUID, stored: StoredMessage
) -> None:
    """An outbound message may start (or stop) a follow-up sequence."""
    await _message_job(session, workspace_id, stored, JobType.FOLLOWUP_START)


async def postprocess_inbound(
    session: AsyncSession, workspace_id: uuid.UUID, stored: StoredMessage
) -> None:
    """An inbound message is analysed after it is stored (categorisation, drafts)."""
    await _message_job(session, workspace_id, stored, JobType.INBOUND_POSTPROCESS)


async def lead_identities(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> dict[str, list[str]] | None:
    """The lead's identity values by kind (oldest first), or None when the workspace has no
    such lead."""
    rows = (
        await session.execute(repository.LEAD_IDENTITIES, {"ws": workspace_id, "lead": lead_id})
    ).all()
    if not rows:
        return None
    found: dict[str, list[str]] = {}
    for r in rows:
        if r.kind is not None:
            found.setdefault(str(r.kind), []).append(str(r.value))
    return found


async def linkedin_chats(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> list[tuple[str, str]]:
    """(LinkedIn provider id, Unipile chat id) of each of the lead's LinkedIn identities a
    chat is known for (a webhook, a pulled message or our own reply recorded it)."""
    rows = await session.execute(repository.LINKEDIN_CHATS, {"ws": workspace_id, "lead": lead_id})
    return [(str(r.value), str(r.unipile_chat_id)) for r in rows]
