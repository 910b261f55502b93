"""Order-independence: a stream of events, and the same stream shuffled and replayed twice,
give identical leads, messages, counters, jobs and rollups (hypothesis, real PostgreSQL).

Events are generated from a set of underlying facts (messages with fixed ids, times and
leads), as providers send them: several events may describe one message (LEAD_REPLIED and
LEAD_INTERESTED for one reply, EMAIL_SENT and LEAD_FIRST_CONTACTED for one send), but one
provider id never means two different messages.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.integrations.processing import process_event
from tests.support.workspaces import new_workspace

Event = tuple[str, str, dict[str, Any]]
OWNER = "ACoAAOwner"
EMAILS = ["ann@acme.example", "bob@acme.example", "cy@beta.example"]
CONTACTS = [("ct_1", "+15125550101"), ("ct_2", "+15125550102")]
PIDS = ["ACoAAL1", "ACoAAL2"]
BASE = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
times = st.integers(0, 5).map(lambda h: (BASE + timedelta(hours=h)).isoformat())


def _bison(kind: str, data: dict[str, Any]) -> Event:
    return ("emailbison", kind, {"event": {"type": kind, "workspace_id": 1}, "data": data})


def _lead(email: str) -> dict[str, Any]:
    name = email.split("@")[0]
    return {"id": EMAILS.index(email) + 1, "email": email, "first_name": name.title()}


@st.composite
def sends(draw: st.DrawFn, se_id: int) -> list[Event]:
    email, when = draw(st.sampled_from(EMAILS)), draw(times)
    data = {"scheduled_email": {"id": se_id, "sent_at": when}, "lead": _lead(email)}
    kinds = draw(st.sets(st.sampled_from(["EMAIL_SENT", "LEAD_FIRST_CONTACTED"]), min_size=1))
    return [_bison(k, data) for k in sorted(kinds)]


@st.composite
def replies(draw: st.DrawFn, reply_id: int) -> list[Event]:
    email, when = draw(st.sampled_from(EMAILS)), draw(times)
    reply = {"id": reply_id, "date_received": when, "text_body": f"reply {reply_id}"}
    kind = draw(st.sampled_from(["tracked", "interested", "untracked", "manual"]))
    if kind == "untracked":
        reply.update(from_email_address=email, from_name=email.split("@")[0].title())
        return [_bison("UNTRACKED_REPLY_RECEIVED", {"reply": reply})]
    if kind == "manual":
        reply["primary_to_email_address"] = email
        return [_bison("MANUAL_EMAIL_SENT", {"reply": reply, "lead": _lead(email)})]
    data = {"reply": reply, "lead": _lead(email)}
    events = [_bison("LEAD_REPLIED", data)]
    if kind == "interested":
        events.append(_bison("LEAD_INTERESTED", data))
    return events


@st.composite
def lead_events(draw: st.DrawFn, n: int) -> list[Event]:
    email = draw(st.sampled_from(EMAILS))
    kind = draw(st.sampled_from(["EMAIL_OPENED", "EMAIL_BOUNCED", "LEAD_UNSUBSCRIBED"]))
    data: dict[str, Any] = {"lead": _lead(email), "campaign_event": {"id": n}}
    if kind == "EMAIL_BOUNCED":
        data["reply"] = {"id": 900_000 + n}
    return [_bison(kind, data)]


@st.composite
def sms(draw: st.DrawFn, n: int) -> list[Event]:
    contact, phone = draw(st.sampled_from(CONTACTS))
    inbound = draw(st.booleans())
    payload: dict[str, Any] = {
        "type": "InboundMessage" if inbound else "OutboundMessage",
        "messageId": f"m{n}",
        "messageType": "SMS",
        "dateAdded": draw(times),
        "body": f"sms {n}",
        ("from" if inbound else "to"): phone,
    }
    if draw(st.booleans()):
        payload["contactId"] = contact
    if not inbound and draw(st.booleans()):
        payload["userId"] = "usr_1"
    return [("ghl", payload["type"], payload)]


@st.composite
def linkedin(draw: st.DrawFn, n: int) -> list[Event]:
    pid = draw(st.sampled_from(PIDS))
    lead = {"attendee_provider_id": pid, "attendee_name": f"Lead {pid[-1]}"}
    own = draw(st.booleans())
    payload = {
        "event": "message_received",
        "message_id": f"u{n}",
        "timestamp": draw(times),
        "message": f"li {n}",
        "sender": {"attendee_provider_id": OWNER} if own else lead,
        "attendees": [lead] if own else [{"attendee_provider_id": OWNER}],
    }
    return [("unipile", "message_received", payload)]


@st.composite
def streams(draw: st.DrawFn) -> list[Event]:
    makers = [sends, replies, lead_events, sms, linkedin]
    chosen = draw(st.lists(st.sampled_from(range(len(makers))), min_size=1, max_size=14))
    events: list[Event] = []
    for n, which in enumerate(chosen):
        events += draw(makers[which](n + 1))
    return events


async def _apply(db: Database, ws: uuid.UUID, events: list[Event]) -> None:
    for provider, event_type, payload in events:
        async with db.session() as session:  # one transaction per event, as the worker does
            await process_event(
                session,
                workspace_id=ws,
                provider=provider,
                event_type=event_type,
                payload=payload,
                received_at=BASE,
            )


LEAD_COLUMNS = (
    "email, phone_e164, linkedin_provider_id, ghl_contact_id, first_name, last_name, "
    "linkedin_profile_url, emailbison_lead_id, status, category, untracked, open_count, "
    "bounce_count, last_inbound_at, last_outbound_at, last_team_outbound_at, last_message_at, "
    "last_inbound_channel"
)
IDENTITY = "coalesce(l.email, l.phone_e164, l.linkedin_provider_id, l.ghl_contact_id)"


async def _snapshot(db: Database, ws: uuid.UUID) -> dict[str, Any]:
    async with db.session() as s:
        leads = await s.execute(
            text(f"SELECT {LEAD_COLUMNS} FROM leads l WHERE workspace_id = :ws ORDER BY 1, 2, 3"),
            {"ws": ws},
        )
        messages = await s.execute(
            text(
                f"SELECT {IDENTITY} AS lead, m.channel, m.direction, m.sent_by, m.body, "
                "m.occurred_at, m.emailbison_reply_id, m.emailbison_scheduled_email_id, "
                "m.ghl_message_id, m.unipile_message_id "
                "FROM messages m JOIN leads l ON l.id = m.lead_id WHERE m.workspace_id = :ws "
                "ORDER BY 5, 6, 7, 8, 9, 10"
            ),
            {"ws": ws},
        )
        jobs = await s.execute(
            text(
                "SELECT j.type, coalesce(m.body, '') AS body, j.status FROM jobs j "
                "JOIN messages m ON m.id = (j.payload->>'message_id')::bigint "
                "WHERE j.workspace_id = :ws ORDER BY 1, 2"
            ),
            {"ws": ws},
        )
        events = await s.execute(
            text(
                f"SELECT e.kind, e.external_id, {IDENTITY} FROM lead_events e "
                "JOIN leads l ON l.id = e.lead_id WHERE e.workspace_id = :ws ORDER BY 1, 2"
            ),
            {"ws": ws},
        )
        # Rollups must equal the aggregates over the messages themselves.
        drift = await s.execute(
            text(
                """
                SELECT l.id FROM leads l LEFT JOIN LATERAL (
                    SELECT max(occurred_at) FILTER (WHERE direction = 'inbound') AS inb,
                           max(occurred_at) FILTER (WHERE direction = 'outbound') AS outb,
                           max(occurred_at) FILTER (WHERE direction = 'outbound'
                                                    AND sent_by IN ('team', 'ai')) AS team,
                           max(occurred_at) AS anyt,
                           (SELECT channel FROM messages i WHERE i.lead_id = l.id
                              AND direction = 'inbound'
                            ORDER BY occurred_at DESC, channel DESC LIMIT 1) AS chan
                    FROM messages m WHERE m.lead_id = l.id
                ) a ON true
                WHERE l.workspace_id = :ws AND (
                    l.last_inbound_at IS DISTINCT FROM a.inb
                    OR l.last_outbound_at IS DISTINCT FROM a.outb
                    OR l.last_team_outbound_at IS DISTINCT FROM a.team
                    OR l.last_message_at IS DISTINCT FROM a.anyt
                    OR l.last_inbound_channel IS DISTINCT FROM a.chan)
                """
            ),
            {"ws": ws},
        )
        assert drift.all() == [], "rollups differ from the messages they summarise"
        return {
            "leads": [tuple(r) for r in leads],
            "messages": [tuple(r) for r in messages],
            "jobs": [tuple(r) for r in jobs],
            "lead_events": [tuple(r) for r in events],
        }


def test_shuffled_and_replayed_stream_gives_identical_state(database_url: str) -> None:
    with asyncio.Runner() as runner:
        db = Database.from_settings(Settings(database_url=database_url))

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(events=streams(), seed=st.integers(0, 2**32 - 1))
        def check(events: list[Event], seed: int) -> None:
            rng = random.Random(seed)
            shuffled, reshuffled = list(events), list(events)
            rng.shuffle(shuffled)
            rng.shuffle(reshuffled)

            async def scenario() -> None:
                in_order = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
                replayed = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
                await _apply(db, in_order, events)
                await _apply(db, replayed, shuffled + reshuffled)
                expected = await _snapshot(db, in_order)
                assert await _snapshot(db, replayed) == expected
                assert expected["messages"] or not any(
                    e[1] not in ("EMAIL_OPENED", "EMAIL_BOUNCED", "LEAD_UNSUBSCRIBED")
                    for e in events
                )

            runner.run(scenario())

        try:
            check()
        finally:
            runner.run(db.dispose())
