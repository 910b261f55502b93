"""Counts correctness over random event histories, applied through the real processing code.

Each example is a random sequence of provider events (EmailBison replies, manual and campaign
sends, unsubscribes, bounces; GHL inbound/outbound SMS from the team or a workflow; Unipile
LinkedIn messages both ways) with timestamps independent of the delivery order, replays of
earlier deliveries, operator PATCHes (snooze, close, category), merges of two leads, and
merges and splits undone at once (which must give back exactly the state before: counts,
rollups, fields and where every message, event and identity lives). Every event goes through
``replydesk.leads.processing.process_event`` in its own transaction, as the worker runs it.

After every step the counts endpoint must equal an independent Python model of the history;
at the end it must also equal the original-style slow query over messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from replydesk.auth.service import create_workspace
from replydesk.core.db import Database
from replydesk.integrations.processing import process_event
from tests.support.http import https_client

T0 = datetime(2026, 1, 23, 18, 0, tzinfo=UTC)
FAR_FUTURE = datetime.now(UTC) + timedelta(days=365)
FAR_PAST = datetime(2020, 1, 1, tzinfo=UTC)
OWN_LINKEDIN = "ACoAAOwnerX"
EMAILS = ("dana@northwind.example", "omar@contoso.example")
PHONE = "+15125550143"
GHL_CONTACT = "ct_91XbQe"
LINKEDIN_LEAD = "ACoAAB1x2y3"
RANK = {"active": 0, "bounced": 1, "unsubscribed": 2, "closed": 3}
# Lead columns a merge/split round trip must leave as they were (updated_at may move).
STATE_COLUMNS = (
    "id, email, phone_e164, linkedin_provider_id, ghl_contact_id, emailbison_lead_id, "
    "first_name, last_name, status, category, untracked, snoozed_until, open_count, "
    "bounce_count, last_inbound_at, last_outbound_at, last_team_outbound_at, last_message_at, "
    "last_inbound_channel, awaiting_reply"
)

# Reference: the original system's shape, a CTE over every message of the workspace.
SLOW_REFERENCE_SQL = text(
    """
    WITH per_lead AS (
        SELECT lead_id,
               max(occurred_at) FILTER (WHERE direction = 'inbound') AS last_in,
               max(occurred_at) FILTER (WHERE direction = 'outbound'
                                          AND sent_by IN ('team', 'ai')) AS last_team
          FROM messages WHERE workspace_id = :ws GROUP BY lead_id
    ), last_channel AS (
        SELECT DISTINCT ON (lead_id) lead_id, channel
          FROM messages WHERE workspace_id = :ws AND direction = 'inbound'
         ORDER BY lead_id, occurred_at DESC, channel DESC
    )
    SELECT l.id, c.channel, l.category
      FROM leads l
      JOIN per_lead m ON m.lead_id = l.id
      LEFT JOIN last_channel c ON c.lead_id = l.id
     WHERE l.workspace_id = :ws
       AND m.last_in IS NOT NULL
       AND (m.last_team IS NULL OR m.last_in > m.last_team)
       AND l.status NOT IN ('unsubscribed', 'closed')
       AND (l.snoozed_until IS NULL OR l.snoozed_until <= now())
    """
)


def _iso(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")


# --- the model -------------------------------------------------------------------------------


@dataclass
class ModelLead:
    messages: dict[str, tuple[str, str, str, int]] = field(default_factory=dict)
    status: str = "active"
    category: str | None = None
    manual: bool = False  # an operator set the category: provider signals never replace it
    snoozed: bool = False

    def attention_channel(self) -> tuple[bool, str | None]:
        inbound = [(t, ch) for ch, d, _, t in self.messages.values() if d == "inbound"]
        team = [t for _, d, by, t in self.messages.values() if d == "outbound" and by == "team"]
        if not inbound:
            return False, None
        last_in, channel = max(inbound)
        waiting = not team or last_in > max(team)
        ok = waiting and self.status not in ("unsubscribed", "closed") and not self.snoozed
        return ok, channel


def expected_counts(model: dict[str, ModelLead]) -> dict[str, Any]:
    by_channel = {"email": 0, "sms": 0, "linkedin": 0}
    by_category: dict[str, int] = {}
    total = 0
    for lead in model.values():
        ok, channel = lead.attention_channel()
        if ok:
            total += 1
            assert channel is not None
            by_channel[channel] += 1
            key = lead.category or "uncategorized"
            by_category[key] = by_category.get(key, 0) + 1
    return {
        "requires_attention": total,
        "by_channel": by_channel,
        "by_category": dict(sorted(by_category.items())),
        "total_leads": len(model),
    }


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    lead: str  # model key
    provider: str
    event_type: str
    payload: dict[str, Any]
    message: tuple[str, str, str, str, int] | None  # (key, channel, direction, sent_by, minute)
    status: str | None = None
    category: str | None = None


def _delivery(kind: str, who: int, minute: int, serial: int) -> Delivery:
    email = EMAILS[who % len(EMAILS)]
    lead = {"email": email, "first_name": "Dana", "last_name": "Reyes"}
    key = f"{kind}:{serial}"
    if kind in ("bison_reply", "bison_interested"):
        event_type = "LEAD_INTERESTED" if kind == "bison_interested" else "LEAD_REPLIED"
        reply = {"id": serial, "date_received": _iso(minute), "from_email_address": email}
        return Delivery(
            email,
            "emailbison",
            event_type,
            {"event": {"type": event_type}, "data": {"reply": reply, "lead": lead}},
            (key, "email", "inbound", "lead", minute),
            category="interested" if kind == "bison_interested" else None,
        )
    if kind == "bison_manual":
        reply = {"id": serial, "date_received": _iso(minute), "primary_to_email_address": email}
        return Delivery(
            email,
            "emailbison",
            "MANUAL_EMAIL_SENT",
            {"event": {"type": "MANUAL_EMAIL_SENT"}, "data": {"reply": reply, "lead": lead}},
            (key, "email", "outbound", "team", minute),
        )
    if kind == "bison_campaign":
        sent = {"id": serial, "sent_at": _iso(minute)}
        return Delivery(
            email,
            "emailbison",
            "EMAIL_SENT",
            {"event": {"type": "EMAIL_SENT"}, "data": {"scheduled_email": sent, "lead": lead}},
            (key, "email", "outbound", "campaign", minute),
        )
    if kind == "bison_unsubscribed":
        return Delivery(
            email,
            "emailbison",
            "LEAD_UNSUBSCRIBED",
            {"event": {"type": "LEAD_UNSUBSCRIBED"}, "data": {"lead": lead}},
            None,
            status="unsubscribed",
            category="unsubscribe",
        )
    if kind == "bison_bounced":
        payload = {
            "event": {"type": "EMAIL_BOUNCED"},
            "data": {"reply": {"id": serial}, "lead": lead},
        }
        return Delivery(email, "emailbison", "EMAIL_BOUNCED", payload, None, status="bounced")
    if kind.startswith("ghl_"):
        inbound = kind == "ghl_in"
        payload = {
            "type": "InboundMessage" if inbound else "OutboundMessage",
            "messageType": "SMS",
            "contactId": GHL_CONTACT,
            "messageId": f"msg_{serial}",
            "dateAdded": _iso(minute),
            "body": "ok",
            ("from" if inbound else "to"): PHONE,
        }
        sent_by = "lead"
        if kind == "ghl_out_team":
            payload["userId"] = "usr_2"
            sent_by = "team"
        elif kind == "ghl_out_workflow":
            sent_by = "campaign"
        return Delivery(
            "sms",
            "ghl",
            str(payload["type"]),
            payload,
            (key, "sms", "inbound" if inbound else "outbound", sent_by, minute),
        )
    inbound = kind == "unipile_in"
    lead_attendee = {"attendee_provider_id": LINKEDIN_LEAD, "attendee_name": "Dana Reyes"}
    own = {"attendee_provider_id": OWN_LINKEDIN, "attendee_name": "Sam Acme"}
    payload = {
        "event": "message_received",
        "message_id": f"umsg_{serial}",
        "timestamp": _iso(minute),
        "message": "hello",
        "sender": lead_attendee if inbound else own,
        "attendees": [own, lead_attendee],
        "account_info": {"user_id": OWN_LINKEDIN},
    }
    return Delivery(
        "linkedin",
        "unipile",
        "message_received",
        payload,
        (
            key,
            "linkedin",
            "inbound" if inbound else "outbound",
            "lead" if inbound else "team",
            minute,
        ),
    )


EVENT_KINDS = (
    "bison_reply",
    "bison_interested",
    "bison_manual",
    "bison_campaign",
    "bison_unsubscribed",
    "bison_bounced",
    "ghl_in",
    "ghl_out_team",
    "ghl_out_workflow",
    "unipile_in",
    "unipile_out",
)
event_op = st.tuples(
    st.just("event"), st.sampled_from(EVENT_KINDS), st.integers(0, 1), st.integers(0, 12)
)
replay_op = st.tuples(st.just("replay"), st.integers(0, 10_000))
patch_op = st.tuples(
    st.just("patch"),
    st.sampled_from(["email0", "email1", "sms", "linkedin"]),
    st.sampled_from(["snooze", "unsnooze", "past_snooze", "close", "reopen", "categorize"]),
)
WHO = st.sampled_from(["email0", "email1", "sms", "linkedin"])
# Operator identity changes: a merge that stands; a merge, and a split, each undone at once
# (the state must come back exactly).
# Two of the leads that exist at that point (by index; skipped with fewer than two).
merge_op = st.tuples(st.just("merge"), st.integers(0, 3), st.integers(1, 3))
roundtrip_op = st.tuples(st.just("roundtrip"), st.integers(0, 3), st.integers(1, 3))
split_op = st.tuples(st.just("split_roundtrip"), WHO)
# What operators add: a note, one of two tags and the caller's read mark on a lead.
annotate_op = st.tuples(st.just("annotate"), WHO, st.integers(0, 1))
history = st.lists(
    st.one_of(event_op, event_op, event_op, replay_op, patch_op, merge_op, roundtrip_op, split_op),
    max_size=30,
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
MODEL_KEY = {"email0": EMAILS[0], "email1": EMAILS[1], "sms": "sms", "linkedin": "linkedin"}


async def _apply(db: Database, ws: uuid.UUID, d: Delivery) -> None:
    async with db.session() as session:
        await process_event(
            session,
            workspace_id=ws,
            provider=d.provider,
            event_type=d.event_type,
            payload=d.payload,
        )


class Groups:
    """Which model lead each identity's events go to (merges join groups)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        while key in self.parent:
            key = self.parent[key]
        return key


def _model_apply(model: dict[str, ModelLead], d: Delivery, groups: Groups) -> None:
    lead = model.setdefault(groups.find(d.lead), ModelLead())
    if d.message is not None:
        key, channel, direction, sent_by, minute = d.message
        lead.messages[key] = (channel, direction, sent_by, minute)
    if d.status is not None and RANK[d.status] > RANK[lead.status]:
        lead.status = d.status
    # Provider categories: never over an operator's; the unsubscribe (at the delivery time,
    # later than every reply here) stays over any interested reply.
    if d.category is not None and not lead.manual and lead.category != "unsubscribe":
        lead.category = d.category


async def _lead_of(db: Database, ws: uuid.UUID, who: str) -> int | None:
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


async def _state(client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any) -> Any:
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


async def _annotate(
    client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any, who: str, tag: int
) -> None:
    """A note, tag ``t<tag>`` and the caller's read mark on who's lead (if it exists)."""
    lead_id = await _lead_of(db, ws, who)
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


async def _pick(db: Database, ws: uuid.UUID, i: int, j: int) -> tuple[str, str] | None:
    """Two different existing leads, as one identity (``WHO``) of each."""
    held: dict[int, str] = {}
    for who in ("email0", "email1", "sms", "linkedin"):
        lead_id = await _lead_of(db, ws, who)
        if lead_id is not None:
            held.setdefault(lead_id, who)
    ids = sorted(held)
    if len(ids) < 2:
        return None
    a = ids[i % len(ids)]
    b = ids[(i + j) % len(ids)]
    return None if a == b else (held[a], held[b])


async def _merge(
    client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any, a: str, b: str
) -> dict[str, Any] | None:
    """POST merge of b's lead into a's; None when they are one lead or one is unknown."""
    into, other = await _lead_of(db, ws, a), await _lead_of(db, ws, b)
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


async def _undo(
    client: httpx.AsyncClient, ws: uuid.UUID, headers: Any, record: dict[str, Any]
) -> None:
    resp = await client.post(
        f"/api/v1/workspaces/{ws}/leads/{record['surviving_lead_id']}/unmerge",
        json={"merge_id": record["id"]},
        headers=headers,
    )
    assert resp.status_code == 200, resp.text


async def _split(
    client: httpx.AsyncClient, db: Database, ws: uuid.UUID, headers: Any, who: str
) -> dict[str, Any] | None:
    """Split who's identity off its lead; None when it is unknown or the lead's only one."""
    lead_id = await _lead_of(db, ws, who)
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


def _model_merge(model: dict[str, ModelLead], groups: Groups, a: str, b: str) -> None:
    """As leads.merges.merge: messages together, the higher status, the survivor's snooze,
    its category else the absorbed one's."""
    keep, gone = groups.find(MODEL_KEY[a]), groups.find(MODEL_KEY[b])
    absorbed = model.pop(gone)
    survivor = model[keep]
    survivor.messages.update(absorbed.messages)
    if RANK[absorbed.status] > RANK[survivor.status]:
        survivor.status = absorbed.status
    if survivor.category is None:
        survivor.category, survivor.manual = absorbed.category, absorbed.manual
    groups.parent[gone] = keep


async def _patch(
    client: httpx.AsyncClient,
    db: Database,
    ws: uuid.UUID,
    headers: dict[str, str],
    who: str,
    action: str,
    model: dict[str, ModelLead],
    groups: Groups,
) -> None:
    lead_id = await _lead_of(db, ws, who)
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


# Every person known first (four leads), then histories rich in merges and round trips.
FOUR_LEADS: list[tuple[Any, ...]] = [
    ("event", "bison_reply", 0, 1),
    ("event", "bison_reply", 1, 2),
    ("event", "ghl_in", 0, 3),
    ("event", "unipile_in", 0, 4),
]
merge_history = st.lists(
    st.one_of(
        event_op, patch_op, annotate_op, merge_op, roundtrip_op, roundtrip_op, split_op, split_op
    ),
    min_size=3,
    max_size=20,
)


@given(ops=history)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_counts_match_the_history_and_the_slow_reference(
    app: FastAPI, db: Database, ops: list[tuple[Any, ...]]
) -> None:
    await _check_history(app, db, ops)


@given(ops=merge_history)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_counts_stay_exact_through_merges_splits_and_unmerges(
    app: FastAPI, db: Database, ops: list[tuple[Any, ...]]
) -> None:
    await _check_history(app, db, FOUR_LEADS + ops)


async def _check_history(app: FastAPI, db: Database, ops: list[tuple[Any, ...]]) -> None:
    """Apply ``ops``; counts equal the model after every step and the slow query at the end;
    every merge or split undone at once gives back exactly the state before it (notes, tags
    and read marks included)."""
    async with db.session() as session:
        created = await create_workspace(session, "Prop", "sam@acme.example")
    ws = created.workspace_id
    headers = {"Authorization": f"Bearer {created.api_token}"}
    model: dict[str, ModelLead] = {}
    groups = Groups()
    delivered: list[Delivery] = []
    async with https_client(app) as client:
        for serial, op in enumerate(ops, start=1):
            d: Delivery | None = None
            if op[0] == "merge":
                pair = await _pick(db, ws, op[1], op[2])
                if pair is not None:
                    assert await _merge(client, db, ws, headers, *pair) is not None
                    _model_merge(model, groups, *pair)
                    event("merged")
            elif op[0] in ("roundtrip", "split_roundtrip"):
                before = await _state(client, db, ws, headers)
                record = None
                if op[0] == "roundtrip":
                    pair = await _pick(db, ws, op[1], op[2])
                    if pair is not None:
                        record = await _merge(client, db, ws, headers, *pair)
                else:
                    record = await _split(client, db, ws, headers, op[1])
                if record is not None:
                    event(f"{op[0]} undone")
                    await _undo(client, ws, headers, record)
                    assert await _state(client, db, ws, headers) == before, ops
            elif op[0] == "annotate":
                await _annotate(client, db, ws, headers, op[1], op[2])
            elif op[0] == "event":
                _, kind, who, minute = op
                d = _delivery(kind, who, minute, serial)
                delivered.append(d)
            elif op[0] == "replay":
                if not delivered:
                    continue
                d = delivered[op[1] % len(delivered)]
            else:
                await _patch(client, db, ws, headers, op[1], op[2], model, groups)
            if d is not None:
                await _apply(db, ws, d)
                _model_apply(model, d, groups)
            resp = await client.get(f"/api/v1/workspaces/{ws}/inbox/counts", headers=headers)
            assert resp.status_code == 200
            body = resp.json()
            assert body["stale"] is False
            assert {k: body[k] for k in expected_counts(model)} == expected_counts(model), ops

        async with db.session() as session:
            rows = (await session.execute(SLOW_REFERENCE_SQL, {"ws": ws})).all()
        final = (await client.get(f"/api/v1/workspaces/{ws}/inbox/counts", headers=headers)).json()
        listed = (
            await client.get(
                f"/api/v1/workspaces/{ws}/leads",
                params={"filter": "requires_attention", "limit": 200},
                headers=headers,
            )
        ).json()
    assert final["requires_attention"] == len(rows)
    for channel in ("email", "sms", "linkedin"):
        assert final["by_channel"][channel] == sum(1 for r in rows if r.channel == channel)
    categories: dict[str, int] = {}
    for r in rows:
        categories[r.category or "uncategorized"] = (
            categories.get(r.category or "uncategorized", 0) + 1
        )
    assert final["by_category"] == dict(sorted(categories.items()))
    assert sorted(item["id"] for item in listed["items"]) == sorted(r.id for r in rows)
