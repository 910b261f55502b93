"""What the counts property test does through the API and reads back: deliveries through the
real processing code, operator PATCHes, merges, splits, undo, notes/tags/read marks, and
the state a merge or split round trip must give back (tests/inbox/test_counts_property.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.integrations.processing import process_event
from tests.support.counts_history import (
    EMAILS,
    FAR_FUTURE,
    FAR_PAST,
    GHL_CONTACT,
    LINKEDIN_LEAD,
    MODEL_KEY,
    Delivery,
    Groups,
    ModelLead,
    expected_counts,
)

# Lead columns a merge/split round trip must leave as they were (updated_at may move).
STATE_COLUMNS = (
    "id, email, phone_e164, linkedin_provider_id, ghl_contact_id, emailbison_lead_id, "
    "first_name, last_name, status, category, untracked, snoozed_until, open_count, "
    "bounce_count, last_inbound_at, last_outbound_at, last_team_outbound_at, last_message_at, "
    "last_inbound_channel, awaiting_reply"
)
PATCH_BODIES: dict[str, dict[str, Any]] = {
    "snooze": {"snoozed_until": FAR_FUTURE.isoformat()},
    "unsnooze": {"snoozed_until": None},
    "past_snooze": {"snoozed_until": FAR_PAST.isoformat()},
    "close": {"status": "closed"},
    "reopen": {"status": "active"},
    "categorize": {"category": "meeting_request"},
}
IDENTITY_SQL = {
    "email0": ("email", EMAILS[0]),
    "email1": ("email", EMAILS[1]),
    "sms": ("ghl_contact", GHL_CONTACT),
    "linkedin": ("linkedin_id", LINKEDIN_LEAD),
}


async def apply(db: Database, ws: uuid.UUID, d: Delivery) -> None:
    async with db.session() as session:
        await process_event(
            session,
            workspace_id=ws,
            provider=d.provider,
            event_type=d.event_type,
            payload=d.payload,
        )


async def lead_of(db: Database, ws: uuid.UUID, who: str) -> int | None:
    kind, value = IDENTITY_SQL[who]
    async with db.session() as session:
        found = (
            await session.execute(
                text(
                    "SELECT lead_id FROM lead_identities "
                    "WHERE workspace_id = :ws AND kind = :k AND value = :v"
                ),
                {"ws": ws, "k": kind, "v": value},
            )
        ).scalar_one_or_none()
    return None if found is None else int(found)


async def state(client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any) -> Any:
    """Counts, every lead's rollups and fields, and where every message and event lives."""
    counts = (await client.get(f"/api/v1/workspaces/{ws}/inbox/counts", headers=headers)).json()
    async with db.session() as session:
        tables = [
            (await session.execute(text(sql), {"ws": ws})).all()
            for sql in (
                f"SELECT {STATE_COLUMNS} FROM leads WHERE workspace_id = :ws ORDER BY id",
                "SELECT id, lead_id, identity_id FROM messages WHERE workspace_id = :ws "
                "ORDER BY id",
                "SELECT id, lead_id FROM lead_events WHERE workspace_id = :ws ORDER BY id",
                "SELECT id, lead_id FROM lead_identities WHERE workspace_id = :ws ORDER BY id",
                "SELECT id, lead_id, body FROM lead_notes WHERE workspace_id = :ws ORDER BY id",
                "SELECT lead_id, tag_id FROM lead_tags WHERE workspace_id = :ws "
                "ORDER BY lead_id, tag_id",
                "SELECT user_id, lead_id, read_at FROM lead_reads WHERE workspace_id = :ws "
                "ORDER BY user_id, lead_id",
            )
        ]
    return {k: counts[k] for k in (*expected_counts({}), "unread")}, tables


async def annotate(
    client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any, who: str, tag: int
) -> None:
    """A note, tag ``t<tag>`` and the caller's read mark on who's lead (if it exists)."""
    lead_id = await lead_of(db, ws, who)
    if lead_id is None:
        return
    base = f"/api/v1/workspaces/{ws}"
    note = await client.post(f"{base}/leads/{lead_id}/notes", json={"body": who}, headers=headers)
    assert note.status_code == 201, note.text
    tags = (await client.get(f"{base}/tags", headers=headers)).json()["items"]
    tag_id = next((t["id"] for t in tags if t["name"] == f"t{tag}"), None)
    if tag_id is None:
        created = await client.post(f"{base}/tags", json={"name": f"t{tag}"}, headers=headers)
        assert created.status_code == 201, created.text
        tag_id = created.json()["id"]
    for resp in (
        await client.put(f"{base}/leads/{lead_id}/tags/{tag_id}", headers=headers),
        await client.post(f"{base}/leads/{lead_id}/read", headers=headers),
    ):
        assert resp.status_code == 204, resp.text


async def pick(db: Database, ws: uuid.UUID, i: int, j: int) -> tuple[str, str] | None:
    """Two different existing leads, as one identity (``WHO``) of each."""
    held: dict[int, str] = {}
    for who in ("email0", "email1", "sms", "linkedin"):
        lead_id = await lead_of(db, ws, who)
        if lead_id is not None:
            held.setdefault(lead_id, who)
    ids = sorted(held)
    if len(ids) < 2:
        return None
    a = ids[i % len(ids)]
    b = ids[(i + j) % len(ids)]
    return None if a == b else (held[a], held[b])


async def merge(
    client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any, a: str, b: str
) -> dict[str, Any] | None:
    """POST merge of b's lead into a's; None when they are one lead or one is unknown."""
    into, other = await lead_of(db, ws, a), await lead_of(db, ws, b)
    if into is None or other is None or into == other:
        return None
    resp = await client.post(
        f"/api/v1/workspaces/{ws}/leads/{into}/merge",
        json={"other_lead_id": other},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    record: dict[str, Any] = resp.json()["merge"]
    return record


async def undo(
    client: httpx.AsyncClient, ws: uuid.UUID, headers: Any, record: dict[str, Any]
) -> None:
    resp = await client.post(
        f"/api/v1/workspaces/{ws}/leads/{record['surviving_lead_id']}/unmerge",
        json={"merge_id": record["id"]},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text


async def split(
    client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any, who: str
) -> dict[str, Any] | None:
    """Split who's identity off its lead; None when it is unknown or the lead's only one."""
    lead_id = await lead_of(db, ws, who)
    if lead_id is None:
        return None
    kind, value = IDENTITY_SQL[who]
    listed = await client.get(
        f"/api/v1/workspaces/{ws}/leads/{lead_id}/identities", headers=headers
    )
    items = listed.json()["items"]
    if len(items) < 2:
        return None
    identity = next(i["id"] for i in items if (i["kind"], i["value"]) == (kind, value))
    resp = await client.post(
        f"/api/v1/workspaces/{ws}/leads/{lead_id}/split",
        json={"identity_id": identity},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    record: dict[str, Any] = resp.json()["merge"]
    return record


async def patch(
    client: httpx.AsyncClient,
    db: Database,
    ws: uuid.UUID,
    headers: dict[str, str],
    who: str,
    action: str,
    model: dict[str, ModelLead],
    groups: Groups,
) -> None:
    lead_id = await lead_of(db, ws, who)
    if lead_id is None:
        return
    body = PATCH_BODIES[action]
    resp = await client.patch(
        f"/api/v1/workspaces/{ws}/leads/{lead_id}", json=body, headers=headers
    )
    assert resp.status_code == 200, resp.text
    lead = model[groups.find(MODEL_KEY[who])]
    if action in ("snooze", "unsnooze", "past_snooze"):
        lead.snoozed = action == "snooze"
    elif action in ("close", "reopen"):
        lead.status = "closed" if action == "close" else "active"
    else:
        lead.category = "meeting_request"
        lead.manual = True
