"""The operator's view of a workspace's webhook events, and replaying one."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput, NotFound
from replydesk.core.redact import redact_value
from replydesk.inbox import cursor, repository
from replydesk.inbox.budget import within_budget
from replydesk.inbox.leads import Page
from replydesk.ingest.models import WebhookEvent
from replydesk.integrations.providers import PROVIDERS
from replydesk.queue import service as queue_service
from replydesk.queue.models import QUEUE_STATUSES

EVENT_CURSOR = "webhook_events"


async def list_events(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    status: str | None,
    provider: str | None,
    after: str | None,
    limit: int,
    timeout_ms: int,
) -> Page:
    """Newest first. Uses (workspace_id, status, id) with a status, (workspace_id, id) without."""
    stmt = select(*repository.EVENT_COLUMNS).where(WebhookEvent.workspace_id == workspace_id)
    if status is not None:
        if status not in QUEUE_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(QUEUE_STATUSES)}")
        stmt = stmt.where(WebhookEvent.status == status)
    if provider is not None:
        if provider not in PROVIDERS:
            raise InvalidInput(f"provider must be one of {', '.join(PROVIDERS)}")
        stmt = stmt.where(WebhookEvent.provider == provider)
    if after is not None:
        _, before_id = cursor.decode(EVENT_CURSOR, after)
        stmt = stmt.where(WebhookEvent.id < before_id)
    stmt = stmt.order_by(WebhookEvent.id.desc()).limit(limit + 1)
    async with within_budget(session, timeout_ms, "the event list"):
        rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
    page = rows[:limit]
    next_cursor = cursor.encode(EVENT_CURSOR, None, page[-1]["id"]) if len(rows) > limit else None
    return Page(page, next_cursor)


async def get_event(
    session: AsyncSession, workspace_id: uuid.UUID, event_id: int
) -> dict[str, Any]:
    return await repository.one_of_workspace(
        session,
        WebhookEvent,
        repository.EVENT_COLUMNS,
        event_id,
        workspace_id,
        "webhook event not found",
    )


async def replay_event(
    session: AsyncSession, workspace_id: uuid.UUID, event_id: int
) -> tuple[dict[str, Any], bool]:
    """Back to pending through the queue engine's ``replay`` (scoped to the workspace)."""
    result = await queue_service.replay(session, event_id, workspace_id=workspace_id)
    if result is None:
        raise NotFound("webhook event not found")
    return await get_event(session, workspace_id, event_id), result.replayed


ATTEMPTS_SHOWN = 200


async def event_detail(
    session: AsyncSession, workspace_id: uuid.UUID, event_id: int, *, reveal: bool
) -> dict[str, Any]:
    """One event with its payload and attempt history (dead-letter inspection). The payload
    is masked (secrets, e-mail local parts) unless ``reveal`` (admins and owners)."""
    columns = (*repository.EVENT_COLUMNS, WebhookEvent.payload)
    event = await repository.one_of_workspace(
        session, WebhookEvent, columns, event_id, workspace_id, "webhook event not found"
    )
    if not reveal:
        event["payload"] = redact_value(None, event["payload"])
    attempts, truncated = await queue_service.attempt_history(
        session, event_id, limit=ATTEMPTS_SHOWN
    )
    return {
        **event,
        "payload_masked": not reveal,
        "attempts_history": attempts,
        "attempts_truncated": truncated,
    }


STATUS_COUNT_CAP = 10_000


async def status_counts(
    session: AsyncSession, workspace_id: uuid.UUID, timeout_ms: int
) -> dict[str, int]:
    """The workspace's webhook events by queue status, each counted up to
    ``STATUS_COUNT_CAP`` (a bounded walk of ``(workspace_id, status, id)``): the queue figures
    of one workspace, where ``queue.service.queue_stats`` is the whole instance's."""
    counts: dict[str, int] = {}
    async with within_budget(session, timeout_ms, "the event counts"):
        for status in QUEUE_STATUSES:
            capped = (
                select(WebhookEvent.id)
                .where(WebhookEvent.workspace_id == workspace_id, WebhookEvent.status == status)
                .limit(STATUS_COUNT_CAP)
                .subquery()
            )
            stmt = select(func.count()).select_from(capped)
            counts[status] = int((await session.execute(stmt)).scalar_one())
    return counts
