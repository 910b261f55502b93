"""The reply request: refuse what cannot be sent, else insert the queued message and enqueue its
send in the caller's transaction. No provider call here (the ``reply.send`` job calls it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import Conflict, InvalidInput, NotFound
from replydesk.core.settings import Settings
from replydesk.integrations.credentials import service as credentials
from replydesk.integrations.outbound.schemas import ReplyIn
from replydesk.integrations.outbound.vocabulary import CHANNEL_PROVIDER, GATED, JobType
from replydesk.leads import replies
from replydesk.leads import service as leads
from replydesk.leads.replies import AlreadyAnswered, IdempotencyKeyReused
from replydesk.leads.vocabulary import Channel
from replydesk.queue.service import enqueue

# Attempts of a send job for failures of our own (database, bugs); provider outcomes are
# recorded on the message, and waits are new jobs, not attempts.
SEND_MAX_ATTEMPTS = 5
ADDRESS_NAMES = {
    Channel.EMAIL: "e-mail address",
    Channel.SMS: "phone number",
    Channel.LINKEDIN: "LinkedIn id (attendee provider id)",
}


class IntegrationNotConfigured(Conflict):
    code = "integration_not_configured"


class IntegrationDisconnected(Conflict):
    code = "integration_disconnected"


class RecipientUnreachable(Conflict):
    code = "recipient_unreachable"


class Unsubscribed(Conflict):
    code = "unsubscribed"


# Called in a manual reply's transaction before the reply is inserted, with (workspace, lead,
# the inbound message it answers): returns why the reply must be refused (that message was
# answered by an approved draft) or None. The automation domain supersedes the lead's pending
# drafts there; the composition root wires it (integrations cannot import automation).
ManualReplyHook = Callable[[AsyncSession, uuid.UUID, int, int], Awaitable[str | None]]
_MANUAL_REPLY_HOOKS: list[ManualReplyHook] = []


def on_manual_reply(hook: ManualReplyHook) -> None:
    """Register a hook (idempotent: the same hook once)."""
    if hook not in _MANUAL_REPLY_HOOKS:
        _MANUAL_REPLY_HOOKS.append(hook)


async def _manual_refusal(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, answered: int
) -> str | None:
    for hook in _MANUAL_REPLY_HOOKS:
        refusal = await hook(session, workspace_id, lead_id, answered)
        if refusal is not None:
            return refusal
    return None


async def _queue_manual(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    body: ReplyIn,
    idempotency_key: str | None,
) -> replies.QueuedReply:
    """A manual reply answers the lead's newest inbound message: its pending drafts are
    superseded (the hooks), and an approved draft that answered it refuses the reply (409
    ``already_answered``). A second manual reply to the same message is a follow-on (it
    answers nothing). The unique key on ``answers_message_id`` decides races."""
    answered = await replies.newest_inbound(session, workspace_id, lead_id)
    if answered is None:  # nothing to answer: a new conversation
        return await replies.queue_reply(
            session, workspace_id, lead_id, body.channel, body.body, body.subject, idempotency_key
        )
    for _ in range(2):
        refusal = await _manual_refusal(session, workspace_id, lead_id, answered)
        if refusal is not None:
            raise AlreadyAnswered(refusal)
        holder = await replies.answered_by(session, workspace_id, answered)
        try:
            return await replies.queue_reply(
                session,
                workspace_id,
                lead_id,
                body.channel,
                body.body,
                body.subject,
                idempotency_key,
                answers=answered if holder is None else None,
            )
        except AlreadyAnswered:
            continue  # a concurrent reply took the message: which one decides (again)
    raise AlreadyAnswered("this lead's newest message was answered concurrently: try again")


def send_dedupe_key(message_id: int, holds: int) -> str:
    """One send job per message and hold: a held send's next job has the next key."""
    return f"{JobType.REPLY_SEND}:{message_id}:h{holds}"


async def enqueue_send(
    session: AsyncSession, workspace_id: uuid.UUID, message_id: int, holds: int, **kw: Any
) -> int | None:
    return await enqueue(
        session,
        JobType.REPLY_SEND.value,
        {"message_id": message_id},
        send_dedupe_key(message_id, holds),
        workspace_id=workspace_id,
        max_attempts=SEND_MAX_ATTEMPTS,
        **kw,
    )


async def request_reply(
    session: AsyncSession,
    settings: Settings,
    workspace_id: uuid.UUID,
    lead_id: int,
    body: ReplyIn,
    idempotency_key: str | None,
    *,
    answering: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """The queued message (as the API shows it) and whether it is new. A repeated
    Idempotency-Key returns the first message whatever changed since (gates included).

    ``answering``: the inbound message an approved draft answers (409 ``already_answered``
    when another reply answers it). Without it this is a manual reply: it answers the lead's
    newest inbound message (``_queue_manual``)."""
    if len(body.body) > settings.reply_body_max_length:
        raise InvalidInput(f"body must be at most {settings.reply_body_max_length} characters")
    if idempotency_key is not None:
        earlier = await replies.reply_for_key(session, workspace_id, idempotency_key)
        if earlier is not None:
            message_id, earlier_lead, channel = earlier
            if earlier_lead != lead_id or channel != body.channel.value:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was already used for another reply (another lead "
                    "or channel): send a new key for a new reply"
                )
            return await _shown(session, workspace_id, message_id), False
    target = await replies.reply_target(session, workspace_id, lead_id)
    if target is None:
        raise NotFound("lead not found")
    channel = body.channel
    if await leads.is_unsubscribed(session, workspace_id, lead_id):
        raise Unsubscribed(
            "the lead asked to unsubscribe: nothing more is sent to them (an operator who is "
            "sure it was a mistake can set the lead's status and category back)"
        )
    if not target.addresses[channel.value]:
        raise InvalidInput(
            f"the lead has no {ADDRESS_NAMES[channel]}: it cannot be answered by {channel}"
        )
    if channel.value in target.quarantined:
        raise RecipientUnreachable(
            f"the lead's {channel} channel is quarantined "
            f"({target.quarantined[channel.value]}): the provider said this recipient cannot "
            f"be reached; lift it with DELETE leads/{lead_id}/quarantine/{channel} once fixed"
        )
    provider = CHANNEL_PROVIDER[channel]
    gate = await credentials.gate(session, workspace_id, provider)
    if gate is None:
        raise IntegrationNotConfigured(
            f"{provider} is not configured in this workspace: {channel} replies need it "
            f"(PUT integrations/{provider})"
        )
    if gate.status in GATED:
        why = f": {gate.message}" if gate.message else ""
        raise IntegrationDisconnected(
            f"{provider} is {gate.status}{why} — {channel} replies resume when a check "
            f"succeeds (POST integrations/{provider}/check)"
        )
    if (
        channel is Channel.EMAIL
        and body.subject is None
        and await replies.latest_email_reply(session, workspace_id, lead_id) is None
    ):
        raise InvalidInput(
            "subject is required: the lead has no e-mail reply to answer in its thread, "
            "so this is a new e-mail"
        )
    if answering is not None:
        queued = await replies.queue_reply(
            session,
            workspace_id,
            lead_id,
            channel,
            body.body,
            body.subject,
            idempotency_key,
            answers=answering,
        )
    else:
        queued = await _queue_manual(session, workspace_id, lead_id, body, idempotency_key)
    if queued.created:
        await enqueue_send(session, workspace_id, queued.id, 0)
    return await _shown(session, workspace_id, queued.id), queued.created


async def _shown(session: AsyncSession, workspace_id: uuid.UUID, message_id: int) -> dict[str, Any]:
    shown = await replies.reply_message(session, workspace_id, message_id)
    if shown is None:
        raise NotFound("message not found")
    return shown


async def lift_quarantine(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    channel: Channel,
    actor_user_id: uuid.UUID | None,
) -> dict[str, Any]:
    """Lift the channel's quarantine (idempotent); the lead's channel states."""
    if await replies.reply_target(session, workspace_id, lead_id) is None:
        raise NotFound("lead not found")
    await replies.lift_quarantine(session, workspace_id, lead_id, channel, actor_user_id)
    return await replies.channel_states(session, workspace_id, lead_id)
