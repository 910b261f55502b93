"""Message events as plans: what a provider event asks of the leads domain, read without
writing, so a group of them can be applied set-based (``leads.message_events.apply_group``).

A provider's message event types have a *planner* (``Planner``): payload + workspace
settings → a ``MessageEvent`` (or an ``EventOutcome`` saying it is skipped). Its per-event
handler is the same planner followed by ``message_events.apply`` (``planned``), so the two
paths read every payload with the same code.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.integrations.base import Event, EventHandler, EventOutcome
from replydesk.integrations.outcome import outcome
from replydesk.leads import message_events
from replydesk.leads.message_events import MessageEvent
from replydesk.workspaces import service as workspaces


class Lookups:
    """Workspace settings the planners read, once per workspace per group (they are not
    written by events, so one read serves the whole transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._identity: dict[uuid.UUID, workspaces.IdentitySettings] = {}
        self._own_linkedin: dict[uuid.UUID, str | None] = {}

    async def identity_settings(self, workspace_id: uuid.UUID) -> workspaces.IdentitySettings:
        if workspace_id not in self._identity:
            self._identity[workspace_id] = await workspaces.identity_settings(
                self.session, workspace_id
            )
        return self._identity[workspace_id]

    async def unipile_own_provider_id(self, workspace_id: uuid.UUID) -> str | None:
        if workspace_id not in self._own_linkedin:
            self._own_linkedin[workspace_id] = await workspaces.unipile_own_provider_id(
                self.session, workspace_id
            )
        return self._own_linkedin[workspace_id]


# Raises InvalidInput for a payload that can never be processed, like a handler.
Planner = Callable[[Event, Lookups], Awaitable[MessageEvent | EventOutcome]]


def planned(planner: Planner) -> EventHandler:
    """The per-event handler of a planned event type."""

    async def handle(session: AsyncSession, event: Event) -> EventOutcome:
        plan = await planner(event, Lookups(session))
        if isinstance(plan, EventOutcome):
            return plan
        return outcome(await message_events.apply(session, plan))

    handle.__doc__ = planner.__doc__
    return handle
