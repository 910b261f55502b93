"""Provider events applied by the real processing code, one transaction each (as a worker)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from replydesk.core.db import Database
from replydesk.integrations.processing import EventOutcome, process_event
from tests.support.samples import event_type_of

RECEIVED_AT = datetime(2026, 1, 24, tzinfo=UTC)


async def apply_event(
    db: Database, ws: uuid.UUID, provider: str, payload: dict[str, Any]
) -> EventOutcome:
    async with db.session() as session:
        return await process_event(
            session,
            workspace_id=ws,
            provider=provider,
            event_type=event_type_of(provider, payload),
            payload=payload,
            received_at=RECEIVED_AT,
        )
