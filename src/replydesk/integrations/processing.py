"""One stored webhook event → leads, messages, rollups and follow-up jobs (no network calls).

``process_event`` is the entry point (the queue handler calls it; tests and replays may too).
It runs in the caller's transaction and is idempotent: processing the same event twice, or a
set of events in any order, leaves the same leads, messages, counters and rollups.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.integrations.base import Event, EventOutcome
from replydesk.integrations.providers import PROVIDERS


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
