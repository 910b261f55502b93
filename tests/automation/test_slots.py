"""Meeting slots: weekly availability in the workspace's timezone → upcoming UTC starts, the
least-offered chosen; PUT settings/availability validation; meeting-request drafts offering
slots, least-offered first, with the ledger counted in one statement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from replydesk.automation import slots
from replydesk.automation.schemas import AvailabilityIn
from replydesk.core.db import Database
from replydesk.core.settings import Settings
from replydesk.sim.server import SimServer
from tests.automation.drafts_support import KEYS, Desk, draft_settings, reply_payload
from tests.support.events import apply_event
from tests.support.members import new_workspace_owner
from tests.support.queue import fetch
from tests.support.sim import add_fault

MEETING = "Can we set up a call next Tuesday?"
WEEKLY = {"mon": [["09:00", "12:00"]], "tue": [["14:00", "16:00"]]}


def _availability(**extra: Any) -> AvailabilityIn:
    body = {"timezone": "Europe/Berlin", "weekly": WEEKLY, "slot_minutes": 30, **extra}
    return AvailabilityIn.model_validate(body)


def test_upcoming_slots_are_local_windows_in_utc() -> None:
    # Monday 2026-01-26 07:00 UTC = 08:00 in Berlin; the lead time is 2 h.
    now = datetime(2026, 1, 26, 7, 0, tzinfo=UTC)
    found = slots.upcoming(_availability(), now, limit=5)
    assert found[0] == datetime(2026, 1, 26, 9, 0, tzinfo=UTC)  # 10:00 Berlin, ≥ now + 2 h
    assert found[:4] == [datetime(2026, 1, 26, h, m, tzinfo=UTC) for h, m in
                         ((9, 0), (9, 30), (10, 0), (10, 30))]  # fmt: skip
    assert found[4] == datetime(2026, 1, 27, 13, 0, tzinfo=UTC)  # Tue 14:00 Berlin
    assert slots.label(found[4], _availability()) == "Tue 27 Jan, 14:00-14:30 (Europe/Berlin)"
    # Summer time: the same local window is an hour earlier in UTC.
    summer = slots.upcoming(_availability(), datetime(2026, 7, 6, 0, 0, tzinfo=UTC), limit=1)
    assert summer == [datetime(2026, 7, 6, 7, 0, tzinfo=UTC)]


def test_choose_takes_the_least_offered_in_start_order() -> None:
    starts = [datetime(2026, 2, 2, h, tzinfo=UTC) for h in range(8, 14)]
    offered = {starts[0]: 3, starts[1]: 1, starts[3]: 2}
    assert slots.choose(starts, offered) == [starts[2], starts[4], starts[5]]
    assert slots.choose(starts, {s: 1 for s in starts}) == starts[:3]


def test_availability_validation() -> None:
    assert _availability(weekly={"fri": [["22:00", "24:00"]]}).weekly["fri"] == [("22:00", "24:00")]
    for bad in (
        {"timezone": "Mars/Olympus"},
        {"weekly": {"mon": [["10:00", "09:00"]]}},
        {"weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
        {"weekly": {"mon": [["9:00", "12:00"]]}},
        {"weekly": {"funday": [["09:00", "12:00"]]}},
        {"weekly": {}},
        {"slot_minutes": 5},
        {"booking_url": "javascript:alert(1)"},
    ):
        with pytest.raises(ValueError):
            _availability(**bad)


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return draft_settings(database_url, tmp_path)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(keys=KEYS) as server:
        yield server


@pytest.fixture
async def desk(db: Database, settings: Settings, client: httpx.AsyncClient, sim: SimServer) -> Desk:
    owner = await new_workspace_owner(db, "Acme", "owner@acme.example")
    desk = Desk(db, settings, client, owner, sim)
    await desk.providers()
    return desk


async def _put_availability(desk: Desk, body: dict[str, Any]) -> httpx.Response:
    return await desk.client.put(
        desk.owner.url("settings/availability"), json=body, headers=desk.owner.headers
    )


async def test_availability_api(desk: Desk) -> None:
    assert (await desk.get("settings/availability")).status_code == 404
    body = {
        "timezone": "Europe/Berlin",
        "weekly": WEEKLY,
        "slot_minutes": 30,
        "booking_url": "https://cal.example.com/sam",
    }
    resp = await _put_availability(desk, body)
    assert resp.status_code == 200, resp.text
    got = (await desk.get("settings/availability")).json()
    assert got["weekly"] == WEEKLY and got["booking_url"] == body["booking_url"]
    bad = await _put_availability(desk, {**body, "timezone": "Nowhere/Else"})
    assert bad.status_code == 422
    # The automation settings are kept apart (each PUT replaces only its own body).
    assert (await desk.automation({"signature": "— Sam"})).status_code == 200
    assert (await desk.get("settings/availability")).json()["slot_minutes"] == 30


async def _meeting_draft(desk: Desk, n: int) -> dict[str, Any]:
    payload = reply_payload(95000 + n, f"2026-01-2{n + 1}T10:00:00.000000Z", MEETING)
    payload["data"]["reply"]["from_email_address"] = f"m{n}@example.org"
    payload["data"]["lead"].update(id=700 + n, email=f"m{n}@example.org", first_name=f"M{n}")
    await apply_event(desk.db, desk.ws, "emailbison", payload)
    async with desk.worker():
        rows = await desk.wait_drafts(n + 1)
    return rows[n]


async def test_meeting_request_drafts_offer_the_least_offered_slots(desk: Desk) -> None:
    body = {
        "timezone": "Europe/Berlin",
        "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        "slot_minutes": 30,
        "booking_url": "https://cal.example.com/sam",
    }
    assert (await _put_availability(desk, body)).status_code == 200
    first = await _meeting_draft(desk, 0)
    assert first["category"] == "meeting_request" and first["source"] == "template"
    offered = [datetime.fromisoformat(s) for s in _json(first["offered_slots"])]
    assert len(offered) == 3 and offered == sorted(offered)
    assert "Here are a few times that work on my side:" in first["body"]
    assert "https://cal.example.com/sam" in first["body"]
    ledger = await fetch(desk.url, "SELECT slot_start, offered FROM slot_offers ORDER BY 1")
    assert [(r["slot_start"], r["offered"]) for r in ledger] == [(s, 1) for s in offered]

    second = await _meeting_draft(desk, 1)
    again = [datetime.fromisoformat(s) for s in _json(second["offered_slots"])]
    assert len(again) == 3 and not set(again) & set(offered)  # least-offered first
    shown = (await desk.get(f"leads/{second['lead_id']}/drafts")).json()["items"][0]
    assert [datetime.fromisoformat(s) for s in shown["offered_slots"]] == again


async def test_an_ai_meeting_draft_without_times_gets_them_added(desk: Desk) -> None:
    await desk.ai()
    # With an AI the message's category is the AI's (inbound.categorise): a meeting request.
    answer = {"category": "meeting_request", "confidence": 0.95, "out_of_office_until": None}
    await add_fault(desk.sim, provider="openai", endpoint="responses.category", output=answer)
    body = {"timezone": "UTC", "weekly": {"mon": [["00:00", "24:00"]]}, "slot_minutes": 60}
    for day in ("tue", "wed", "thu", "fri", "sat", "sun"):
        body["weekly"][day] = [["00:00", "24:00"]]
    assert (await _put_availability(desk, body)).status_code == 200
    row = await _meeting_draft(desk, 0)
    assert row["source"] == "ai"
    assert "added the open slots and booking link to the meeting request" in row["verifier_notes"]
    assert "Here are a few times that work on my side:" in row["body"]
    sent = desk.sim.sim.requests.list("openai", "responses.draft")[0]
    assert '"open_slots": [' in sent["body"]["input"]


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def test_booking_a_meeting_sets_the_lead_meeting_booked(desk: Desk) -> None:
    lead_id, _ = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", MEETING)
    body = {"start": "2026-01-27T14:00:00+01:00"}
    resp = await desk.post(f"leads/{lead_id}/meeting", body)
    assert resp.status_code == 200, resp.text
    booked = resp.json()
    assert booked["status"] == "meeting_booked" and booked["lead_id"] == lead_id
    assert datetime.fromisoformat(booked["start"]) == datetime(2026, 1, 27, 13, 0, tzinfo=UTC)
    assert booked["booked_by"] == str(desk.owner.user_id)
    again = await desk.post(f"leads/{lead_id}/meeting", body)
    assert again.json()["id"] == booked["id"]  # the same meeting, once
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert lead["status"] == "meeting_booked"
    events = await fetch(
        desk.url, "SELECT kind, data FROM lead_events WHERE lead_id = $1 ORDER BY id", lead_id
    )
    changes = [e["data"] for e in events if e["kind"] == "status_change"]
    assert changes == ['{"to": "meeting_booked", "from": "active"}']
    assert (await desk.post("leads/999999/meeting", body)).status_code == 404
    naive = await desk.post(f"leads/{lead_id}/meeting", {"start": "2026-01-27T14:00:00"})
    assert naive.status_code == 422
