"""One stored webhook event → leads, messages, rollups and follow-up jobs (no network calls).

``process_event`` is the entry point (the queue handler calls it; tests and replays may too);
``process_events`` applies a group of events in one transaction, set-based where it can.
It runs in the caller's transaction and is idempotent: processing the same event twice, or a
set of events in any order, leaves the same leads, messages, counters and rollups.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.integrations.base import Event, EventOutcome
from replydesk.integrations.outcome import outcome
from replydesk.integrations.planning import Lookups
from replydesk.integrations.providers import PROVIDERS
from replydesk.leads import message_events
from replydesk.leads.message_events import MessageEvent


async def process_event(
    session: AsyncSession,
    *,
    workspace_id: uuid.UUID,
    provider: str,
    event_type: str,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> EventOutcome:
    """Apply one event in the caller's transaction.

    Raises ``InvalidInput`` for a payload that can never be processed (e.g. no lead e-mail);
    returns ``EventOutcome(skipped=…)`` for events with nothing to do.
    """
    spec = PROVIDERS.get(provider)
    if spec is None:
        return EventOutcome(skipped=f"no handler for {provider} {event_type}")
    event_type = spec.canonical_type(event_type)
    handler = spec.handlers.get(event_type)
    if handler is None:
        return EventOutcome(skipped=f"no handler for {provider} {event_type}")
    event = Event(workspace_id, provider, event_type, payload, received_at or datetime.now(UTC))
    return await handler(session, event)


def lead_identity(provider: str, payload: Mapping[str, Any]) -> str:
    """Which lead an event is about, cheaply and without the database: used only to order
    work so concurrent transactions lock leads in one global order."""
    spec = PROVIDERS.get(provider)
    return spec.lead_key(payload) if spec is not None else ""


async def process_events(session: AsyncSession, events: list[Event]) -> list[EventOutcome]:
    """``process_event`` for each event, in order, in the caller's transaction: runs of
    message events (types with a planner) are applied set-based, one statement per step for
    the run (``leads.message_events.apply_group``); any other event ends the run and is
    applied alone. The result is that of processing the events one by one in this order."""
    lookups = Lookups(session)
    outcomes: list[EventOutcome | None] = [None] * len(events)
    run: list[tuple[int, MessageEvent]] = []

    async def flush() -> None:
        stored = await message_events.apply_group(session, [plan for _, plan in run])
        for (index, _), message in zip(run, stored, strict=True):
            outcomes[index] = outcome(message)
        run.clear()

    for index, event in enumerate(events):
        spec = PROVIDERS.get(event.provider)
        event_type = spec.canonical_type(event.event_type) if spec else event.event_type
        planner = spec.planners.get(event_type) if spec else None
        if planner is None:
            await flush()
            outcomes[index] = await process_event(
                session,
                workspace_id=event.workspace_id,
                provider=event.provider,
                event_type=event.event_type,
                payload=event.payload,
                received_at=event.received_at,
            )
            continue
        plan = await planner(replace(event, event_type=event_type), lookups)
        if isinstance(plan, EventOutcome):
            outcomes[index] = plan  # skipped: nothing written
        else:
            run.append((index, plan))
    await flush()
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(events)
    return done
