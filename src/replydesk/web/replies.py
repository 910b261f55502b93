"""The reply composer's calls into the reply service (``integrations.outbound``).

The composer on the lead page (a text area labelled Reply, a channel choice, an optional
subject, Send) posts to ``POST /w/{ws}/leads/{id}/reply``, which calls ``send``: the same
``request_reply`` as ``POST leads/{id}/replies`` (message queued, ``reply.send`` job), so every
refusal (not configured, gated, quarantined, no address) is the API's. The quarantine "lift"
button calls the same ``lift_quarantine`` as ``DELETE leads/{id}/quarantine/{channel}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.deps import WorkspaceAccess
from replydesk.core.errors import InvalidInput
from replydesk.core.settings import Settings
from replydesk.integrations.outbound import service as outbound
from replydesk.integrations.outbound.schemas import ReplyIn
from replydesk.leads import replies as lead_replies
from replydesk.leads.vocabulary import Channel


def available() -> bool:
    """Whether the composer can send (the reply service is part of this build)."""
    return True


def channels_for(lead: dict[str, Any]) -> list[str]:
    """The channels a reply can go out on: those the lead has an address for, the channel
    of the newest inbound message first."""
    have = {
        Channel.EMAIL: lead.get("email"),
        Channel.SMS: lead.get("phone_e164"),
        Channel.LINKEDIN: lead.get("linkedin_profile_url") or lead.get("linkedin_provider_id"),
    }
    found = [c.value for c, address in have.items() if address]
    newest = lead.get("last_inbound_channel")
    if newest in found:
        found.remove(newest)
        found.insert(0, newest)
    return found


async def channel_states(
    session: AsyncSession, access: WorkspaceAccess, lead_id: int
) -> list[dict[str, Any]]:
    """The lead's channel states as the page lists them: ``[{channel, state, reason, since}]``."""
    states = await lead_replies.channel_states(session, access.workspace_id, lead_id)
    return [{"channel": channel, **state} for channel, state in states.items()]


async def send(
    session: AsyncSession,
    settings: Settings,
    access: WorkspaceAccess,
    lead_id: int,
    *,
    channel: str,
    text: str,
    subject: str | None = None,
) -> None:
    try:
        body = ReplyIn.model_validate({"channel": channel, "body": text, "subject": subject})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}") from None
    await outbound.request_reply(session, settings, access.workspace_id, lead_id, body, None)


async def lift_quarantine(
    session: AsyncSession, access: WorkspaceAccess, lead_id: int, channel: Channel
) -> None:
    await outbound.lift_quarantine(session, access.workspace_id, lead_id, channel, access.user_id)
