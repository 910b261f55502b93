"""Our replies: the outbound messages the team writes in ReplyDesk (part of the leads domain,
the only writer of ``messages`` and ``lead_channel_quarantines``; statements in
``leads.repository``).

A reply is inserted ``queued`` and folded into the rollups at once (the team answered: the
lead leaves "requires attention"). Its send job (``integrations.outbound``) marks it ``sent``
with the provider's id, which the webhook echo then matches (``service.record_message`` finds
the id: no second message), or ``failed``: no longer the team's answer, so the lead needs
attention again. A recipient the provider refuses quarantines the lead's channel.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.db_errors import sqlstate
from replydesk.core.errors import Conflict, NotFound
from replydesk.core.log_categories import LogCategory
from replydesk.core.logging import get_logger
from replydesk.leads import repository
from replydesk.leads.repository import MESSAGE_KEYS
from replydesk.leads.vocabulary import Channel, ChannelState

log = get_logger(__name__)

# Tries when a concurrent echo holds the provider id (each try sees what it committed).
ATTACH_ATTEMPTS = 3


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class AlreadyAnswered(Conflict):
    """Another reply (an approved draft, an auto-send, a manual reply) answers the same
    inbound message: at most one send per inbound message (the database's unique key)."""

    code = "already_answered"


# The unique key of "one reply answers one inbound message" (migration 0017).
ANSWERS_KEY = "uq_messages_workspace_id_answers_message_id"


@dataclass(frozen=True)
class QueuedReply:
    id: int
    created: bool  # False: the same Idempotency-Key was sent before; this is that message
    answers_message_id: int | None = None


def _constraint(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        name = getattr(seen, "constraint_name", None)
        if isinstance(name, str):
            return name
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return None


async def newest_inbound(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> int | None:
    """The lead's newest inbound message id (what a manual reply answers), if any."""
    params = {"ws": workspace_id, "lead_id": lead_id}
    found = await repository.scalar(session, repository.NEWEST_INBOUND, params)
    return int(found) if found is not None else None


async def answered_by(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> int | None:
    """The reply (not failed) that answers this inbound message, if any."""
    params = {"ws": workspace_id, "answers": message_id}
    found = await repository.scalar(session, repository.ANSWERED_BY, params)
    return int(found) if found is not None else None


async def queue_reply(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    channel: Channel,
    body: str,
    subject: str | None,
    idempotency_key: str | None,
    answers: int | None = None,
) -> QueuedReply:
    """Insert a queued reply of the team, in the caller's transaction (which also enqueues
    its send). With ``idempotency_key`` a repeat inserts nothing and returns the first
    message (the unique key decides, never a read before the insert). ``answers``: the
    inbound message it answers; when another reply answers it already the unique key refuses
    (``AlreadyAnswered``, the savepoint keeps the caller's transaction usable)."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "channel": channel.value,
        "subject": subject,
        "body": body,
        "identity_kind": repository.REPLY_IDENTITY[channel].value,
        "idempotency_key": idempotency_key,
        "answers": answers,
    }
    try:
        if answers is None:
            new_id = await repository.scalar(session, repository.INSERT_REPLY, params)
        else:
            async with session.begin_nested():
                new_id = await repository.scalar(session, repository.INSERT_REPLY, params)
    except IntegrityError as exc:
        if sqlstate(exc) != "23505" or _constraint(exc) != ANSWERS_KEY:
            raise
        if idempotency_key is not None:  # a repeat of the request that answered it
            earlier = await repository.row(session, repository.REPLY_BY_IDEMPOTENCY_KEY, params)
            if earlier is not None and earlier.lead_id == lead_id:
                return QueuedReply(int(earlier.id), created=False)
        raise AlreadyAnswered(
            f"message {answers} of this lead is answered already (another reply or an "
            "approved draft): at most one send per inbound message"
        ) from None
    if new_id is not None:
        return QueuedReply(int(new_id), created=True, answers_message_id=answers)
    if idempotency_key is not None:
        earlier = await repository.row(session, repository.REPLY_BY_IDEMPOTENCY_KEY, params)
        if earlier is not None:
            if earlier.lead_id != lead_id or earlier.channel != channel.value:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used for another reply (another lead "
                    "or channel): send a new key for a new reply"
                )
            return QueuedReply(int(earlier.id), created=False)
    raise NotFound("lead not found")


async def reply_for_key(
    session: AsyncSession, workspace_id: uuid.UUID, idempotency_key: str
) -> tuple[int, int, str] | None:
    """(message id, lead id, channel) of the reply sent earlier with this key, if any (a
    shortcut for repeats; the insert itself is still decided by the unique key)."""
    params = {"ws": workspace_id, "idempotency_key": idempotency_key}
    row = await repository.row(session, repository.REPLY_BY_IDEMPOTENCY_KEY, params)
    return (int(row.id), int(row.lead_id), str(row.channel)) if row is not None else None


async def reply_message(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> dict[str, Any] | None:
    """The message as the API shows it (``leads.schemas.MessageOut`` reads it)."""
    params = {"ws": workspace_id, "id": message_id}
    row = await repository.row(session, repository.REPLY_MESSAGE, params)
    return dict(row._mapping) if row is not None else None


@dataclass(frozen=True)
class ReplySubject:
    """What a send job reads about its message and lead (one short read)."""

    message_id: int
    lead_id: int
    channel: str
    subject: str | None
    body: str
    status: str
    send_started_at: datetime | None
    send_holds: int
    created_at: datetime
    email: str | None
    phone_e164: str | None
    linkedin_provider_id: str | None
    ghl_contact_id: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    answer_reply_id: int | None  # e-mail: the lead's newest EmailBison reply, to answer in


async def reply_subject(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int
) -> ReplySubject | None:
    params = {"ws": workspace_id, "id": message_id}
    row = await repository.row(session, repository.SEND_SUBJECT, params)
    if row is None:
        return None
    answer = None
    if row.channel == Channel.EMAIL:
        answer = await latest_email_reply(session, workspace_id, row.lead_id)
    values = dict(row._mapping)
    values["message_id"] = values.pop("id")
    values["body"] = values["body"] or ""
    return ReplySubject(**values, answer_reply_id=answer)


async def latest_email_reply(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> int | None:
    """The lead's newest inbound EmailBison reply id (None: a reply is a new e-mail)."""
    params = {"ws": workspace_id, "lead_id": lead_id}
    found = await repository.scalar(session, repository.LATEST_EMAIL_REPLY, params)
    return int(found) if found is not None else None


async def start_reply_send(session: AsyncSession, workspace_id: uuid.UUID, message_id: int) -> bool:
    """Mark a send as leaving (commit before the call); False when the message is not queued
    or a send of it is already in flight (then the provider is checked, never sent again)."""
    params = {"ws": workspace_id, "id": message_id}
    return await repository.scalar(session, repository.START_SEND, params) is not None


async def hold_reply_send(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int, category: str, message: str
) -> int | None:
    """The send waits (rate limit, a gate, a provider error): nothing in flight any more, one
    more hold; the hold count (for the next job's dedupe key), None when not queued."""
    params = {"ws": workspace_id, "id": message_id, "category": category, "message": message}
    holds = await repository.scalar(session, repository.HOLD_SEND, params)
    return int(holds) if holds is not None else None


async def mark_reply_sent(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    message_id: int,
    lead_id: int,
    channel: str,
    key_column: str | None,
    key: int | str | None,
) -> bool:
    """The provider took the reply: ``sent``, with its id so the webhook echo is matched to
    this message (``record_message`` finds the id: no second message). An echo stored first
    (its webhook won the race) is removed and its id moves here; the unique key decides, so a
    concurrent echo either waits for this or is removed by the next try."""
    params: dict[str, Any] = {
        "ws": workspace_id,
        "id": message_id,
        "lead_id": lead_id,
        "channel": channel,
        "key": key,
    }
    if key_column is None or key is None:
        return await repository.scalar(session, repository.MARK_SENT_WITHOUT_ID, params) is not None
    if key_column not in MESSAGE_KEYS:
        raise ValueError(f"not a message key column: {key_column}")
    for _ in range(ATTACH_ATTEMPTS):
        dropped = (await session.execute(repository.DROP_ECHO[key_column], params)).all()
        if dropped:
            log.debug("reply_echo_merged", message_id=message_id, echo_ids=[r.id for r in dropped])
        try:
            async with session.begin_nested():
                done = await repository.scalar(session, repository.MARK_SENT[key_column], params)
            return done is not None
        except IntegrityError as exc:
            if sqlstate(exc) != "23505":
                raise
    # The id is held by a row that is not this lead's echo: keep the message, without the id.
    log.warning(
        "reply_provider_id_taken",
        category=LogCategory.OTHER,
        error_class="echo_conflict",
        message_id=message_id,
        key_column=key_column,
    )
    return await repository.scalar(session, repository.MARK_SENT_WITHOUT_ID, params) is not None


async def record_linkedin_chat(
    session: AsyncSession, workspace_id: uuid.UUID, provider_id: str, chat_id: str
) -> None:
    """The Unipile chat our LinkedIn reply went into (``POST /api/v1/chats`` answers it), on
    the LinkedIn identity it was sent to: a lead sync pulls that chat's history."""
    params = {"ws": workspace_id, "value": provider_id, "chat": chat_id}
    await session.execute(repository.RECORD_LINKEDIN_CHAT, params)


async def mark_reply_failed(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    message_id: int,
    category: str,
    message: str,
    *,
    unknown_delivery: bool = False,
) -> bool:
    """The reply failed for good: ``failed`` with why; it no longer counts as the team's
    answer, so the lead is back in "requires attention" (``awaiting_reply`` is generated from
    the recomputed rollup, and the counts read it)."""
    params = {
        "ws": workspace_id,
        "id": message_id,
        "category": category,
        "message": message,
        "unknown_delivery": unknown_delivery,
    }
    lead_id = await repository.scalar(session, repository.MARK_FAILED, params)
    if lead_id is None:
        return False
    await session.execute(repository.REFOLD_TEAM_OUTBOUND, {"lead_id": lead_id, "ws": workspace_id})
    return True


async def quarantine_channel(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    channel: Channel,
    reason: str,
    message_id: int | None,
) -> bool:
    """The provider said this lead cannot be reached on ``channel``: replies on it are
    refused until lifted. Once per failed message; True when recorded now."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "channel": channel.value,
        "reason": reason,
        "message_id": message_id,
    }
    return await repository.scalar(session, repository.QUARANTINE, params) is not None


async def lift_quarantine(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    channel: Channel,
    actor_user_id: uuid.UUID | None,
) -> int:
    """Lift every standing quarantine of the lead's channel; how many were lifted."""
    params = {
        "ws": workspace_id,
        "lead_id": lead_id,
        "channel": channel.value,
        "actor": actor_user_id,
    }
    return len((await session.execute(repository.LIFT_QUARANTINE, params)).all())


async def channel_states(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> dict[str, dict[str, Any]]:
    """``{channel: {"state", "reason", "since"}}`` for every channel."""
    params = {"ws": workspace_id, "lead_id": lead_id}
    rows = {r.channel: r for r in await session.execute(repository.CHANNEL_QUARANTINES, params)}
    states: dict[str, dict[str, Any]] = {}
    for channel in Channel:
        row = rows.get(channel.value)
        states[channel.value] = (
            {"state": ChannelState.QUARANTINED.value, "reason": row.reason, "since": row.created_at}
            if row is not None
            else {"state": ChannelState.OK.value, "reason": None, "since": None}
        )
    return states


@dataclass(frozen=True)
class ReplyTarget:
    """A lead's addresses per channel and whether the channel is quarantined."""

    lead_id: int
    addresses: dict[str, str | None]
    quarantined: dict[str, str]  # channel → reason


async def reply_target(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int
) -> ReplyTarget | None:
    params = {"ws": workspace_id, "lead_id": lead_id}
    row = await repository.row(session, repository.REPLY_ADDRESSES, params)
    if row is None:
        return None
    states = await channel_states(session, workspace_id, lead_id)
    return ReplyTarget(
        lead_id,
        {
            Channel.EMAIL.value: row.email,
            Channel.SMS.value: row.phone_e164,
            Channel.LINKEDIN.value: row.linkedin_provider_id,
        },
        {c: str(v["reason"]) for c, v in states.items() if v["state"] == ChannelState.QUARANTINED},
    )
