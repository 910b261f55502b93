"""Unipile client operations and error types against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from replydesk.core.errors import ProviderFailure
from replydesk.integrations.unipile.client import InMail, UnipileClient, seconds_until_tomorrow
from replydesk.sim.server import SimServer
from tests.support.sim import FAST, SIM_KEYS, add_fault, sim_requests


@pytest.fixture
async def unipile(sim: SimServer) -> AsyncIterator[UnipileClient]:
    async with UnipileClient(sim.base_url("unipile"), SIM_KEYS["unipile"], policy=FAST) as client:
        yield client


async def refused(
    unipile: UnipileClient, sim: SimServer, status: int, kind: str
) -> ProviderFailure:
    await add_fault(
        sim, provider="unipile", endpoint="chats.send", status=status, type=f"errors/{kind}"
    )
    with pytest.raises(ProviderFailure) as caught:
        await unipile.send_in_chat("chat_Qw81", "Hello")
    assert len(await sim_requests(sim, "unipile", "chats.send")) == 1  # never retried
    return caught.value


async def test_account_status(unipile: UnipileClient, sim: SimServer) -> None:
    status = await unipile.account_status("acc_LnK4e")
    assert (status.ok, status.statuses, status.provider_id) == (True, ["OK"], "ACoAAOwnerX")
    sim.sim.unipile.accounts["acc_LnK4e"]["sources"][0]["status"] = "CREDENTIALS"
    assert (await unipile.account_status("acc_LnK4e")).ok is False


async def test_send_in_chat_and_find_it(unipile: UnipileClient, sim: SimServer) -> None:
    sent = await unipile.send_in_chat("chat_Qw81", "Tuesday works.")
    assert sent.message_id and sent.chat_id == "chat_Qw81"
    (entry,) = await sim_requests(sim, "unipile", "chats.send")
    assert entry["body"] == {"text": ["Tuesday works."]}  # form field, as documented
    assert await unipile.find_sent_message("chat_Qw81", "Tuesday works.") == sent.message_id
    # The lead's own message with the same words is not ours.
    assert (
        await unipile.find_sent_message(
            "chat_Qw81", "Thanks for reaching out, happy to chat next week."
        )
        is None
    )


async def test_chat_history_follows_the_cursor_within_the_page_bound(
    unipile: UnipileClient, sim: SimServer
) -> None:
    history = await unipile.chat_history("chat_Qw81", limit=1, max_pages=5)
    assert [m["id"] for m in history.messages] == ["umsg_7788", "umsg_7701"]  # newest first
    assert history.complete
    pages = await sim_requests(sim, "unipile", "chats.messages")
    assert [p["query"] for p in pages] == ["limit=1", "limit=1&cursor=1"]
    bounded = await unipile.chat_history("chat_Qw81", limit=1, max_pages=1)
    assert [m["id"] for m in bounded.messages] == ["umsg_7788"] and not bounded.complete


async def test_start_chat_with_attendee_provider_id(unipile: UnipileClient, sim: SimServer) -> None:
    started = await unipile.start_chat("acc_LnK4e", "ACoAANewLead1", "Hi Lee")
    assert started.chat_id and started.message_id
    (entry,) = await sim_requests(sim, "unipile", "chats.start")
    assert entry["body"] == {
        "account_id": ["acc_LnK4e"],
        "attendees_ids": ["ACoAANewLead1"],
        "text": ["Hi Lee"],
    }


async def test_inmail_option(unipile: UnipileClient, sim: SimServer) -> None:
    sent = await unipile.start_chat(
        "acc_LnK4e", "ACoAAOut1", "Hi", inmail=InMail(api="sales_navigator", subject="Intro")
    )
    assert sent.chat_id
    (entry,) = await sim_requests(sim, "unipile", "chats.start")
    assert entry["body"]["linkedin[inmail]"] == ["true"]
    assert entry["body"]["linkedin[api]"] == ["sales_navigator"]
    assert entry["body"]["subject"] == ["Intro"]
    with pytest.raises(ProviderFailure) as caught:  # the simulator's classic seat has no credits
        await unipile.start_chat("acc_LnK4e", "ACoAAOut1", "Hi", inmail=InMail())
    assert (caught.value.category, caught.value.provider_code) == (
        "provider_error",
        "insufficient_credits",
    )


@pytest.mark.parametrize(
    "kind",
    ["invalid_recipient", "user_unreachable", "no_connection_with_recipient", "blocked_recipient"],
)
async def test_422_recipient_types(unipile: UnipileClient, sim: SimServer, kind: str) -> None:
    failure = await refused(unipile, sim, 422, kind)
    assert (failure.category, failure.provider_code, failure.retryable) == (
        "provider_invalid_recipient",
        kind,
        False,
    )
    assert kind in failure.message


@pytest.mark.parametrize("kind", ["limit_exceeded", "cannot_resend_yet"])
async def test_422_daily_limits_wait_until_tomorrow(
    unipile: UnipileClient, sim: SimServer, kind: str
) -> None:
    failure = await refused(unipile, sim, 422, kind)
    assert failure.category == "provider_rate_limited" and failure.retryable
    assert failure.retry_after_s is not None
    assert abs(failure.retry_after_s - seconds_until_tomorrow()) <= 5


@pytest.mark.parametrize(
    ("status", "kind", "category"),
    [
        (401, "disconnected_account", "provider_disconnected"),
        (401, "expired_credentials", "provider_disconnected"),
        (401, "missing_credentials", "provider_auth"),
        (403, "account_restricted", "provider_disconnected"),
        (403, "feature_not_subscribed", "provider_auth"),
        (404, "resource_not_found", "provider_error"),
        (422, "invalid_message", "provider_error"),
    ],
)
async def test_account_and_request_types(
    unipile: UnipileClient, sim: SimServer, status: int, kind: str, category: str
) -> None:
    failure = await refused(unipile, sim, status, kind)
    assert (failure.category, failure.provider_code, failure.retryable) == (category, kind, False)


async def test_a_wrong_key_is_provider_auth(sim: SimServer) -> None:
    async with UnipileClient(sim.base_url("unipile"), "wrong-key-123", policy=FAST) as client:
        with pytest.raises(ProviderFailure) as caught:
            await client.account_status("acc_LnK4e")
    assert (caught.value.category, caught.value.provider_code) == (
        "provider_auth",
        "missing_credentials",
    )


async def test_504_on_a_send_is_ambiguous_then_checked(
    unipile: UnipileClient, sim: SimServer
) -> None:
    await add_fault(
        sim, provider="unipile", endpoint="chats.send", status=504, after_effect=True, times=1
    )
    with pytest.raises(ProviderFailure) as caught:
        await unipile.send_in_chat("chat_Qw81", "Did this arrive?")
    failure = caught.value
    assert (failure.category, failure.unknown_delivery, failure.status) == (
        "provider_timeout",
        True,
        504,
    )
    assert len(await sim_requests(sim, "unipile", "chats.send")) == 1
    assert await unipile.find_sent_message("chat_Qw81", "Did this arrive?") is not None


async def test_504_on_a_read_is_retried(unipile: UnipileClient, sim: SimServer) -> None:
    await add_fault(sim, provider="unipile", endpoint="accounts.get", status=504, times=1)
    assert (await unipile.account_status("acc_LnK4e")).ok
    assert [e["status"] for e in await sim_requests(sim, "unipile")] == [504, 200]
