"""Queue handlers of the integrations: every known provider event type, applied by
``processing.process_event`` inside the worker's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.integrations.base import Event
from replydesk.integrations.processing import lead_identity, process_event, process_events
from replydesk.integrations.providers import PROVIDERS
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import WEBHOOK_EVENTS, ClaimedItem
from replydesk.queue.registry import Registry


async def handle_webhook_event(session: AsyncSession, item: ClaimedItem) -> str | None:
    if item.workspace_id is None:
        raise PermanentError("webhook event without a workspace")
    outcome = await process_event(
        session,
        workspace_id=item.workspace_id,
        provider=item.fields["provider"],
        event_type=item.fields["event_type"],
        payload=item.payload,
        received_at=item.fields["received_at"],
    )
    return outcome.skipped


async def handle_webhook_events(
    session: AsyncSession, items: list[ClaimedItem]
) -> list[str | None]:
    """A group of claimed events in one transaction, set-based where it can
    (``processing.process_events``)."""
    events = []
    for item in items:
        if item.workspace_id is None:
            raise PermanentError("webhook event without a workspace")
        events.append(
            Event(
                item.workspace_id,
                item.fields["provider"],
                item.fields["event_type"],
                item.payload,
                item.fields["received_at"],
            )
        )
    return [outcome.skipped for outcome in await process_events(session, events)]


def lead_order_key(item: ClaimedItem) -> str:
    """The lead an event will lock, as a sortable string (see queue.registry.OrderKey)."""
    return lead_identity(item.fields["provider"], item.payload)


def register(registry: Registry) -> None:
    for provider in PROVIDERS.values():
        for event_type in provider.handlers:
            registry.add(
                WEBHOOK_EVENTS.name,
                f"{provider.name}:{event_type}",
                handle_webhook_event,
                order_key=lead_order_key,
                apply_group=handle_webhook_events,
            )
