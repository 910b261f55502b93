"""The reply composer's hook to the reply service (issue 12 + the replies work in parallel).

The composer on the lead page (a text area labelled Reply, a channel choice, Send) posts to
``POST /w/{ws}/leads/{id}/reply``, which calls ``send`` below; the quarantine "lift" button
posts to ``…/quarantine/{channel}/lift``, which calls ``lift_quarantine``. The reply service
(``POST leads/{id}/replies``: 202, message queued → sent/failed; ``DELETE
leads/{id}/quarantine/{channel}``) is being built separately: until it is wired here both
answer a clear 503 and the composer says sending is not available. Wiring it = replace the
bodies of ``available``, ``send`` and ``lift_quarantine`` with calls to that service (the same
functions its endpoints call); the page needs nothing else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.auth.deps import WorkspaceAccess
from replydesk.core.errors import Unavailable
from replydesk.leads.vocabulary import Channel

NOT_WIRED = "sending replies is not available in this build yet"


def available() -> bool:
    """Whether the composer can send (False until the reply service is wired in)."""
    return False


def channels_for(lead: dict[str, Any]) -> list[str]:
    """The channels a reply can go out on: those the lead has an address for, the channel
    of the newest inbound message first."""
    have = {
        Channel.EMAIL: lead.get("email"),
        Channel.SMS: lead.get("phone_e164"),
        Channel.LINKEDIN: lead.get("linkedin_profile_url"),
    }
    found = [c.value for c, address in have.items() if address]
    newest = lead.get("last_inbound_channel")
    if newest in found:
        found.remove(newest)
        found.insert(0, newest)
    return found


async def send(
    session: AsyncSession, access: WorkspaceAccess, lead_id: int, *, channel: str, text: str
) -> None:
    raise Unavailable(NOT_WIRED, retry_after_s=None)


async def lift_quarantine(
    session: AsyncSession, access: WorkspaceAccess, lead_id: int, channel: Channel
) -> None:
    raise Unavailable("lifting a quarantine is not available in this build yet")
