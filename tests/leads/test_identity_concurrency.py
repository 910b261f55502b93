"""One person arriving on three channels at once, through the real queue and workers.

Two workers (4 transactions in flight each, groups of several events per transaction) apply
bursts of deliveries in which each person writes by e-mail, SMS and LinkedIn at the same time,
each event delivered several times. No check-then-insert anywhere: identities are claimed
with INSERT … ON CONFLICT in (kind, value) order, a lost race is re-read, and an event whose
identities belong to several leads merges them (locked in id order).
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from replydesk.app import build_registry
from replydesk.core.db import Database
from tests.support.queue import (
    fast_settings,
    fetch,
    insert_events,
    running_worker,
    status_counts,
    wait_until,
)
from tests.support.workspaces import new_workspace

OWNER = "ACoAAOwnerX"
PEOPLE = 12
DELIVERIES = 3


def _phone(n: int) -> str:
    return f"+1512555{n:04d}"


def _bison(kind: str, n: int, event_id: int) -> tuple[str, str, dict[str, Any]]:
    lead = {
        "id": 7000 + n,
        "email": f"person{n}@corp{n}.example",
        "first_name": f"P{n}",
        "custom_variables": [
            {"name": "phone", "value": _phone(n)[2:]},  # national format, default region US
            {"name": "linkedin", "value": f"https://www.linkedin.com/in/person-{n}/"},
        ],
    }
    data: dict[str, Any] = {"lead": lead}
    if kind == "EMAIL_SENT":
        data["scheduled_email"] = {"id": event_id, "sent_at": "2026-01-20T09:00:00Z"}
    else:
        data["reply"] = {"id": event_id, "date_received": "2026-01-20T10:00:00Z"}
    return ("emailbison", kind, {"event": {"type": kind}, "data": data})


def _sms(n: int) -> tuple[str, str, dict[str, Any]]:
    payload = {
        "type": "InboundMessage",
        "messageId": f"sms{n}",
        "messageType": "SMS",
        "contactId": f"ct{n}",
        "from": _phone(n),
        "dateAdded": "2026-01-20T10:01:00Z",
        "body": "call me",
    }
    return ("ghl", "InboundMessage", payload)


def _linkedin(n: int) -> tuple[str, str, dict[str, Any]]:
    sender = {
        "attendee_provider_id": f"ACoAAP{n}",
        "attendee_name": f"P{n} Person",
        "attendee_profile_url": f"https://linkedin.com/in/Person-{n}",
    }
    payload = {
        "event": "message_received",
        "message_id": f"li{n}",
        "timestamp": "2026-01-20T10:02:00Z",
        "message": "hello",
        "sender": sender,
        "attendees": [{"attendee_provider_id": OWNER}],
    }
    return ("unipile", "message_received", payload)


def _burst(seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    """Every person's e-mail reply, SMS and LinkedIn message, each delivered several times,
    in a shuffled order."""
    burst = [
        event
        for n in range(PEOPLE)
        for event in (_bison("LEAD_REPLIED", n, 500 + n), _sms(n), _linkedin(n))
    ] * DELIVERIES
    random.Random(seed).shuffle(burst)
    return burst


async def _drain(db: Database, database_url: str) -> None:
    async def done() -> bool:
        rows = await fetch(
            database_url,
            "SELECT 1 FROM webhook_events WHERE status IN ('pending', 'running') UNION ALL "
            "SELECT 1 FROM jobs WHERE status IN ('pending', 'running')",
        )
        return not rows

    settings = fast_settings(
        database_url, worker_concurrency=4, worker_group_size=5, worker_event_group_size=5
    )
    async with (
        running_worker(db, build_registry(), settings, worker_id="w1"),
        running_worker(db, build_registry(), settings, worker_id="w2"),
    ):
        await wait_until(done, timeout_s=120)


async def _people(database_url: str, ws: uuid.UUID) -> list[Any]:
    return await fetch(
        database_url,
        "SELECT l.id, array_agg(DISTINCT m.channel ORDER BY m.channel) AS channels, "
        "count(m.id) AS messages FROM leads l LEFT JOIN messages m ON m.lead_id = l.id "
        "WHERE l.workspace_id = $1 GROUP BY l.id ORDER BY l.id",
        ws,
    )


async def test_known_lead_writing_on_three_channels_at_once_is_one_person(
    db: Database, database_url: str
) -> None:
    """The campaign reached each person first (their EmailBison lead carries phone and
    LinkedIn URL); then every person replies by e-mail, SMS and LinkedIn at the same moment."""
    ws = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
    await insert_events(database_url, ws, [_bison("EMAIL_SENT", n, 100 + n) for n in range(PEOPLE)])
    await _drain(db, database_url)
    burst = _burst(9)
    await insert_events(database_url, ws, burst)
    await _drain(db, database_url)
    assert await status_counts(database_url, "webhook_events") == {"succeeded": PEOPLE + len(burst)}
    people = await _people(database_url, ws)
    assert len(people) == PEOPLE
    for person in people:
        assert list(person["channels"]) == ["email", "linkedin", "sms"]
        assert person["messages"] == 4  # campaign send, e-mail reply, SMS, LinkedIn
    assert await fetch(database_url, "SELECT * FROM lead_merge_suggestions") == []
    totals = await fetch(
        database_url,
        "SELECT sum(lead_count) AS n FROM workspace_lead_totals WHERE workspace_id = $1",
        ws,
    )
    assert totals[0]["n"] == PEOPLE


@pytest.mark.parametrize("seed", [4, 5, 6])
async def test_new_person_on_three_channels_at_once_is_one_person(
    db: Database, database_url: str, seed: int
) -> None:
    """Nobody known yet: e-mail (carrying phone and LinkedIn URL), SMS and LinkedIn arrive at
    once, several times. The SMS and LinkedIn events share no identity with each other, so
    when both commit before any e-mail event they are two leads, and the e-mail event bridges
    them: it merges them (a system merge, recorded in ``lead_merges``). Whatever the
    interleaving: exactly one lead per person, every identity and message on it, no
    suggestion left."""
    ws = (await new_workspace(db, unipile_account_provider_id=OWNER)).id
    burst = _burst(seed)
    await insert_events(database_url, ws, burst)
    await _drain(db, database_url)
    assert await status_counts(database_url, "webhook_events") == {"succeeded": len(burst)}
    people = await _people(database_url, ws)
    assert len(people) == PEOPLE
    for person in people:
        assert list(person["channels"]) == ["email", "linkedin", "sms"]
        assert person["messages"] == 3
    identities = await fetch(
        database_url,
        "SELECT lead_id, count(*) AS n FROM lead_identities WHERE workspace_id = $1 "
        "GROUP BY lead_id",
        ws,
    )
    # e-mail, bison id, phone, URL, contact, LinkedIn id: all six on the person's one lead
    assert sorted(r["n"] for r in identities) == [6] * PEOPLE
    assert await fetch(database_url, "SELECT * FROM lead_merge_suggestions") == []
    merges = await fetch(
        database_url, "SELECT actor_user_id, undone_at FROM lead_merges WHERE workspace_id = $1", ws
    )
    assert all(m["actor_user_id"] is None and m["undone_at"] is None for m in merges)
    totals = await fetch(
        database_url,
        "SELECT sum(lead_count) AS n FROM workspace_lead_totals WHERE workspace_id = $1",
        ws,
    )
    assert totals[0]["n"] == PEOPLE
    print(f"seed {seed}: {len(merges)} system merges")  # how often a bridge merged two leads
