"""A lead's timeline: messages, events and notes in one keyset-paged stream.

Order: (occurred_at, tier, id) with tier 0 message, 1 event, 2 note (a note's time is its
``created_at``). Like the conversation, the newest page comes first and each page is oldest
→ newest; ``next_cursor`` walks back in time and encodes the tier, so ties are exact.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.core.errors import InvalidInput
from replydesk.inbox import cursor, repository
from replydesk.inbox.budget import within_budget
from replydesk.inbox.leads import Page, backward_page, get_lead_id

TIMELINE_CURSOR = "timeline"
KINDS = ("message", "event", "note")  # by tier

_MESSAGE_FIELDS = (
    "channel",
    "direction",
    "sent_by",
    "subject",
    "body",
    "body_html",
    "body_text",
    "body_visible",
    "status",
    "failure_category",
    "failure_message",
    "unknown_delivery",
)


def _item(row: dict[str, Any], lead_id: int) -> dict[str, Any]:
    kind = KINDS[row["tier"]]
    item: dict[str, Any] = {"kind": kind, "id": row["id"], "occurred_at": row["occurred_at"]}
    if kind == "message":
        fields = {name: row[name] for name in _MESSAGE_FIELDS}
        item["message"] = {"id": row["id"], "occurred_at": row["occurred_at"], **fields}
    elif kind == "event":
        item["event"] = {
            "id": row["id"],
            "kind": row["event_kind"],
            "actor_user_id": row["actor_user_id"],
            "data": row["data"],
            "occurred_at": row["occurred_at"],
        }
    else:
        item["note"] = {
            "id": row["id"],
            "lead_id": lead_id,
            "author_user_id": row["actor_user_id"],
            "body": row["note_body"],
            "created_at": row["occurred_at"],
            "updated_at": row["updated_at"],
        }
    return item


async def timeline(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    lead_id: int,
    after: str | None,
    limit: int,
    timeout_ms: int,
) -> Page:
    await get_lead_id(session, workspace_id, lead_id)
    params: dict[str, Any] = {"ws": workspace_id, "lead_id": lead_id, "n": limit + 1}
    sql = repository.TIMELINE_FIRST
    if after is not None:
        at, tier, row_id = cursor.decode_tiered(TIMELINE_CURSOR, after)
        if at is None or tier >= len(KINDS):
            raise InvalidInput("cursor is not a timeline cursor")
        params |= {"at": at, "tier": tier, "id": row_id}
        sql = repository.TIMELINE_AFTER
    async with within_budget(session, timeout_ms, "the timeline"):
        rows = [dict(r) for r in (await session.execute(sql, params)).mappings()]
    page = backward_page(rows, limit, TIMELINE_CURSOR, tiered=True)
    return Page([_item(row, lead_id) for row in page.items], page.next_cursor)
