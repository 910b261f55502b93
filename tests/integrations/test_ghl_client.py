"""GHL client operations against the simulator; upsert answer variants; SMS skips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from replydesk.core.errors import ProviderFailure
from replydesk.integrations.ghl.client import (
    GhlClient,
    SmsHistory,
    SmsSent,
    SmsSkipped,
    normalise_upsert,
)
from replydesk.sim.server import SimServer
from tests.support.logs import LogCapture
from tests.support.sim import FAST, SIM_KEYS, add_fault, sim_requests


@pytest.fixture
async def ghl(sim: SimServer) -> AsyncIterator[GhlClient]:
    async with GhlClient(sim.base_url("ghl"), SIM_KEYS["ghl"], "loc_7Hq2kP", policy=FAST) as c:
        yield c


async def test_upsert_creates_then_updates(ghl: GhlClient, sim: SimServer) -> None:
    created = await ghl.upsert_contact(email="lee.park@contoso.example", first_name="Lee")
    assert created.new is True and created.contact_id and created.trace_id
    again = await ghl.upsert_contact(email="lee.park@contoso.example", phone="+15125550199")
    assert (again.contact_id, again.new) == (created.contact_id, False)
    body = (await sim_requests(sim, "ghl", "contacts.upsert"))[0]["body"]
    assert body == {
        "locationId": "loc_7Hq2kP",
        "email": "lee.park@contoso.example",
        "firstName": "Lee",
        "source": "replydesk",
    }


async def test_upsert_is_idempotent_so_retried(ghl: GhlClient, sim: SimServer) -> None:
    await add_fault(sim, provider="ghl", endpoint="contacts.upsert", status=502, times=1)
    assert (await ghl.upsert_contact(email="a@b.example")).new is True
    assert [e["status"] for e in await sim_requests(sim, "ghl")] == [502, 200]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"new": True, "contact": {"id": "c1"}, "traceId": "t1"}, ("c1", True, "t1")),
        ({"new": "false", "contact": {"id": "c1"}}, ("c1", False, None)),
        ({"contact": {"_id": "c2"}, "traceId": "t2"}, ("c2", None, "t2")),
        ({"id": "c3", "locationId": "l"}, ("c3", None, None)),
        ({"contactId": "c4", "new": False}, ("c4", False, None)),
        ({"succeded": True, "traceId": "t5"}, (None, None, "t5")),
        (["not", "an", "object"], (None, None, None)),
    ],
)
def test_upsert_answer_variants(body: Any, expected: tuple[Any, ...]) -> None:
    assert normalise_upsert(body)[:3] == expected


async def test_upsert_without_contact_id_is_an_error_with_trace(
    ghl: GhlClient, sim: SimServer
) -> None:
    sim.sim.ghl.upsert = _answer_without_contact  # type: ignore[method-assign]
    sim.sim.routes = [*sim.sim.ghl.routes(), *sim.sim.routes]
    with pytest.raises(ProviderFailure) as caught:
        await ghl.upsert_contact(email="x@y.example")
    assert caught.value.trace_id == "trace-no-id" and "traceId trace-no-id" in caught.value.message


async def _answer_without_contact(req: Any) -> Any:
    from replydesk.sim.base import ok

    return ok({"succeded": True, "traceId": "trace-no-id"})


async def test_send_sms_and_find_it(ghl: GhlClient, sim: SimServer) -> None:
    sent = await ghl.send_sms("ct_91XbQe", "Great, talk at 3:30.", phone="+15125550143")
    assert isinstance(sent, SmsSent) and sent.message_id and sent.conversation_id == "cv_33LmZa"
    (entry,) = await sim_requests(sim, "ghl", "conversations.send")
    assert entry["body"] == {
        "type": "SMS",
        "contactId": "ct_91XbQe",
        "message": "Great, talk at 3:30.",
    }
    assert await ghl.find_sent_sms("ct_91XbQe", "Great, talk at 3:30.") == sent.message_id
    assert await ghl.find_sent_sms("ct_91XbQe", "Yes, call me after 3pm") is None  # inbound


async def test_conversation_history(ghl: GhlClient) -> None:
    history = await ghl.conversation_history("ct_91XbQe", phone="+15125550143")
    assert isinstance(history, SmsHistory)
    assert [m["body"] for m in history.messages] == ["Yes, call me after 3pm"]
    assert history.conversation_id == "cv_33LmZa" and history.next_page is False
    none = await ghl.conversation_history("ct_unknown", phone="+15125550100")
    assert isinstance(none, SmsHistory) and none.messages == []


async def test_a_lead_without_phone_skips_sms_at_debug(
    ghl: GhlClient, sim: SimServer, log_capture: LogCapture
) -> None:
    assert isinstance(await ghl.send_sms("ct_91XbQe", "Hi", phone=None), SmsSkipped)
    assert isinstance(await ghl.conversation_history("ct_91XbQe", phone="  "), SmsSkipped)
    assert await sim_requests(sim, "ghl") == []
    skips = [r for r in log_capture.records() if r["event"] == "sms_skipped"]
    assert [(r["level"], r["reason"]) for r in skips] == [("debug", "expected_skip")] * 2
    assert not [r for r in log_capture.records() if r["level"] in ("warning", "error")]


async def test_401_carries_the_trace_id(sim: SimServer) -> None:
    async with GhlClient(sim.base_url("ghl"), "pit-wrong", "loc_7Hq2kP", policy=FAST) as client:
        with pytest.raises(ProviderFailure) as caught:
            await client.upsert_contact(email="a@b.example")
    failure = caught.value
    assert (failure.category, failure.status) == ("provider_auth", 401)
    assert failure.trace_id and f"(traceId {failure.trace_id})" in failure.message
    assert "Invalid JWT" in failure.message and "Private Integration Token" in failure.message
    assert len(await sim_requests(sim, "ghl")) == 1


async def test_sms_to_a_contact_without_phone_at_ghl_is_invalid_recipient(
    ghl: GhlClient, sim: SimServer
) -> None:
    contact = await ghl.upsert_contact(email="nophone@example.com")
    with pytest.raises(ProviderFailure) as caught:
        await ghl.send_sms(contact.contact_id, "Hi", phone="+15125550000")
    assert (caught.value.category, caught.value.status) == ("provider_invalid_recipient", 422)
    assert caught.value.trace_id


async def test_429_without_retry_after_uses_the_rate_limit_window(
    ghl: GhlClient, sim: SimServer
) -> None:
    await add_fault(sim, provider="ghl", endpoint="conversations.send", status=429)
    with pytest.raises(ProviderFailure) as caught:
        await ghl.send_sms("ct_91XbQe", "Hi", phone="+15125550143")
    assert caught.value.category == "provider_rate_limited" and caught.value.retry_after_s is None
