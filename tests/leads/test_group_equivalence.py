"""One group applied set-based equals its items applied one by one (hypothesis, real
PostgreSQL; docs/decisions/0018-set-based-group-processing.md).

Two workspaces get the same history (events one by one), then the same random group: one
workspace in one transaction through ``process_events`` (what the worker does with a claimed
group), the other event by event, one transaction each (the per-item path). Every row of
leads, lead_identities, messages, lead_events and jobs must be equal, except ids and the
times the database stamps (created_at, updated_at, run_at); ids are compared by what they
point at (a lead by its identities, a message by its provider key).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event as sa_event
from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.base import Event as StoredEvent
from replydesk.integrations.processing import process_event, process_events
from tests.leads.test_order_independence import (
    BASE,
    CONTACTS,
    EMAILS,
    OWNER,
    Event,
    _bison,
    streams,
    times,
)
from tests.support.workspaces import new_workspace

PHONES = ["+15125550101", "+15125550177"]


@st.composite
def people(draw: st.DrawFn) -> list[Event]:
    """Sends whose lead carries other names, a company, a phone variable, or an EmailBison
    lead id of another address (then the event bridges two leads: a merge); or an SMS that
    names an e-mail address (an SMS lead and an e-mail lead become one)."""
    n = draw(st.integers(1000, 1100))
    shape = draw(st.integers(0, 5))
    if shape == 0:  # the address alone: a lead created untracked, or marked tracked later
        email = draw(st.sampled_from(EMAILS))
        reply = {
            "id": n,
            "date_received": draw(times),
            "text_body": f"reply {n}",
            "from_email_address": email,
            "from_name": draw(st.sampled_from(["Ann Li", "Bea", ""])),
        }
        return [_bison("UNTRACKED_REPLY_RECEIVED", {"reply": reply})]
    if shape > 1:
        email = draw(st.sampled_from(EMAILS))
        crossed = draw(st.integers(0, 4)) == 0
        lead: dict[str, Any] = {
            "id": draw(st.integers(1, 4)) if crossed else EMAILS.index(email) + 1,
            "email": email,
            "first_name": draw(st.sampled_from(["Ann", "Bea", None])),
            "last_name": draw(st.sampled_from(["Li", None])),
            "company": draw(st.sampled_from(["Acme", "Beta", None])),
        }
        if draw(st.booleans()):
            lead["custom_variables"] = [{"name": "Phone", "value": draw(st.sampled_from(PHONES))}]
        data = {"scheduled_email": {"id": n, "sent_at": draw(times)}, "lead": lead}
        return [_bison(draw(st.sampled_from(["EMAIL_SENT", "LEAD_FIRST_CONTACTED"])), data)]
    contact, phone = draw(st.sampled_from(CONTACTS))
    payload = {
        "type": "InboundMessage",
        "messageId": f"x{n}",
        "messageType": "SMS",
        "dateAdded": draw(times),
        "body": f"sms {n}",
        "from": phone,
        "contactId": contact,
        "email": draw(st.sampled_from(EMAILS)),
    }
    return [("ghl", "InboundMessage", payload)]


@st.composite
def groups(draw: st.DrawFn) -> list[Event]:
    """Up to ~25 events: a stream, sends with varied people, and repeats of some of them."""
    events = draw(streams())
    events += [e for more in draw(st.lists(people(), max_size=6)) for e in more]
    repeats = draw(st.lists(st.sampled_from(range(len(events))), max_size=4))
    events += [events[i] for i in repeats]
    return draw(st.permutations(events))


async def _one_by_one(db: Database, ws: uuid.UUID, events: list[Event]) -> None:
    for provider, event_type, payload in events:
        async with db.session() as session:
            await process_event(
                session,
                workspace_id=ws,
                provider=provider,
                event_type=event_type,
                payload=payload,
                received_at=BASE,
            )


async def _as_group(db: Database, ws: uuid.UUID, events: list[Event]) -> None:
    async with db.session() as session:
        await process_events(session, [StoredEvent(ws, p, t, body, BASE) for p, t, body in events])


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


async def _snapshot(db: Database, ws: uuid.UUID) -> dict[str, Any]:
    """Every row of the lead tables, ids replaced by what they point at."""
    async with db.session() as s:
        p = {"ws": ws}
        idents = _rows(
            await s.execute(
                text(
                    "SELECT id, lead_id, kind, value FROM lead_identities WHERE workspace_id = :ws"
                ),
                p,
            )
        )
        names: dict[int, str] = {}
        for i in sorted(idents, key=lambda r: (r["kind"], r["value"])):
            names.setdefault(i["lead_id"], f"{i['kind']}:{i['value']}")
        ident = {i["id"]: f"{i['kind']}:{i['value']}" for i in idents}
        messages = _rows(
            await s.execute(text("SELECT * FROM messages WHERE workspace_id = :ws"), p)
        )
        keys = (
            "emailbison_reply_id",
            "emailbison_scheduled_email_id",
            "ghl_message_id",
            "unipile_message_id",
        )
        msg = {m["id"]: "/".join(f"{k}={m[k]}" for k in keys if m[k] is not None) for m in messages}
        leads = _rows(await s.execute(text("SELECT * FROM leads WHERE workspace_id = :ws"), p))
        events = _rows(
            await s.execute(text("SELECT * FROM lead_events WHERE workspace_id = :ws"), p)
        )
        jobs = _rows(await s.execute(text("SELECT * FROM jobs WHERE workspace_id = :ws"), p))
        merges = await s.execute(
            text("SELECT count(*) FROM lead_merges WHERE workspace_id = :ws"), p
        )
    stamped = {"id", "workspace_id", "created_at", "updated_at", "run_at"}

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if k not in stamped}
        if "lead_id" in out:
            out["lead_id"] = names.get(out["lead_id"], "?")
        if out.get("identity_id") is not None:
            out["identity_id"] = ident.get(out["identity_id"], "?")
        if out.get("category_message_id") is not None:
            out["category_message_id"] = msg.get(out["category_message_id"], "?")
        return out

    def lead_event(row: dict[str, Any]) -> dict[str, Any]:
        out = clean(row)
        if out["external_id"] is None:  # a merge: stamped now(), data names row ids
            out.pop("occurred_at")
            out["data"] = sorted(out["data"])
        return out

    def job(row: dict[str, Any]) -> dict[str, Any]:
        out = clean(row)
        payload = dict(out["payload"])
        payload["lead_id"] = names.get(payload.get("lead_id", -1), "?")
        payload["message_id"] = msg.get(payload.get("message_id", -1), "?")
        out["payload"] = payload
        out["dedupe_key"] = f"{out['type']}:{payload['message_id']}"
        return out

    def sort(rows: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)

    lead_rows = [{**clean(r), "name": names.get(r["id"], "?")} for r in leads]
    return {
        "leads": sort(lead_rows),
        "lead_identities": sort([clean(r) for r in idents]),
        "messages": sort([clean(r) for r in messages]),
        "lead_events": sort([lead_event(r) for r in events]),
        "jobs": sort([job(r) for r in jobs]),
        "merges": merges.scalar_one(),
    }


async def _workspace(db: Database) -> uuid.UUID:
    ws = await new_workspace(db, unipile_account_provider_id=OWNER, phone_variables=["phone"])
    return ws.id


def test_a_group_equals_its_items_one_by_one(database_url: str) -> None:
    with asyncio.Runner() as runner:
        db = Database.from_settings(Settings(database_url=database_url))

        @settings(
            max_examples=100,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(history=st.one_of(st.just([]), streams()), group=groups())
        def check(history: list[Event], group: list[Event]) -> None:
            async def scenario() -> None:
                grouped, alone = await _workspace(db), await _workspace(db)
                for ws in (grouped, alone):
                    await _one_by_one(db, ws, history)
                await _as_group(db, grouped, group)
                await _one_by_one(db, alone, group)
                assert await _snapshot(db, grouped) == await _snapshot(db, alone)

            runner.run(scenario())

        try:
            check()
        finally:
            runner.run(db.dispose())


async def test_a_group_of_sends_takes_a_few_statements(db: Database) -> None:
    """The set-based path is taken: 20 sends to 4 known leads, about one statement per step
    (not one per event per step)."""
    ws = await _workspace(db)

    def send(n: int, lead: int) -> Event:
        email = EMAILS[lead % len(EMAILS)] if lead < len(EMAILS) else f"l{lead}@x.example"
        data = {
            "scheduled_email": {"id": n, "sent_at": BASE.isoformat()},
            "lead": {"id": 100 + lead, "email": email, "first_name": f"L{lead}"},
        }
        return _bison("EMAIL_SENT", data)

    await _one_by_one(db, ws, [send(n, n) for n in range(4)])
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await _as_group(db, ws, [send(10 + n, n % 4) for n in range(20)])
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    # settings, identities, lock, messages + rollups, jobs (+ BEGIN/COMMIT bookkeeping).
    assert len(statements) <= 8, statements
    snap = await _snapshot(db, ws)
    assert len(snap["messages"]) == 24 and len(snap["jobs"]) == 24
