"""EmailBison client operations against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from replydesk.core.errors import ProviderFailure
from replydesk.integrations.emailbison.client import AUTH_REMEDY, EmailBisonClient
from replydesk.sim.server import SimServer
from tests.support.sim import FAST, SIM_KEYS, add_fault, sim_requests

DANA = "dana.reyes@northwind.example"


@pytest.fixture
async def bison(sim: SimServer) -> AsyncIterator[EmailBisonClient]:
    async with EmailBisonClient(
        sim.base_url("emailbison"), SIM_KEYS["emailbison"], policy=FAST
    ) as client:
        yield client


async def test_reply_in_thread_appears_in_the_thread(bison: EmailBisonClient) -> None:
    sent = await bison.reply_in_thread(93001, "Tuesday 10am works.", sender_email_id=9, to=[DANA])
    assert sent.reply_id is not None
    thread = await bison.reply_thread(93001)
    assert thread.current["id"] == 93001
    assert [m["id"] for m in thread.newer] == [sent.reply_id]
    assert thread.newer[0]["primary_to_email_address"] == DANA
    assert await bison.find_sent_in_thread(93001, "Tuesday 10am works.") == sent.reply_id
    assert await bison.find_sent_in_thread(93001, "something else") is None


async def test_reply_payload_uses_the_documented_fields(
    bison: EmailBisonClient, sim: SimServer
) -> None:
    await bison.reply_in_thread(93001, "Hi", sender_email_id=9, to=[DANA], bcc=["ops@acme.example"])
    (entry,) = await sim_requests(sim, "emailbison", "replies.reply")
    assert entry["path"] == "/api/replies/93001/reply"
    assert entry["body"] == {
        "message": "Hi",
        "sender_email_id": 9,
        "to_emails": [{"name": "", "email_address": DANA}],
        "bcc_emails": [{"name": "", "email_address": "ops@acme.example"}],
    }


async def test_new_email_and_sent_emails_of_a_lead(bison: EmailBisonClient) -> None:
    sent = await bison.send_new_email(
        subject="New topic", message="Hello", sender_email_id=9, to=[DANA]
    )
    assert sent.reply_id is not None and sent.raw["email_subject"] == "New topic"
    emails = await bison.sent_emails(501)
    assert [e["lead_id"] for e in emails] == [501] and emails[0]["status"] == "sent"


async def test_list_replies_since_a_cursor(bison: EmailBisonClient, sim: SimServer) -> None:
    first = await bison.list_replies_since(None)
    assert [r["id"] for r in first.replies] == [93001, 93002, 93003]
    assert (first.cursor, first.complete) == (93003, True)
    for n in range(20):  # more than one page (15 per page) of new replies
        await bison.send_new_email(subject=f"s{n}", message=f"m{n}", sender_email_id=9, to=[DANA])
    since = await bison.list_replies_since(first.cursor)
    assert len(since.replies) == 20 and since.complete
    assert [r["id"] for r in since.replies] == sorted(r["id"] for r in since.replies)
    assert since.cursor == since.replies[-1]["id"]
    nothing = await bison.list_replies_since(since.cursor)
    assert (nothing.replies, nothing.cursor, nothing.complete) == ([], since.cursor, True)
    bounded = await bison.list_replies_since(first.cursor, max_pages=1)
    assert len(bounded.replies) == 15 and bounded.complete is False
    pages = [e["query"] for e in await sim_requests(sim, "emailbison", "replies.list")]
    assert pages[-1] == "page=1" and "page=2" in pages


async def test_401_names_host_endpoint_and_the_remedy(sim: SimServer) -> None:
    async with EmailBisonClient(
        sim.base_url("emailbison"), "9|wrongKeyForThisHost", policy=FAST
    ) as client:
        with pytest.raises(ProviderFailure) as caught:
            await client.reply_thread(93001)
    failure = caught.value
    assert (failure.category, failure.status, failure.retryable) == ("provider_auth", 401, False)
    assert failure.message == (
        f"emailbison GET /api/replies/{{id}}/conversation-thread on 127.0.0.1:{sim.port} answered "
        f"401: not authenticated (Unauthenticated.) — {AUTH_REMEDY}"
    )
    assert "wrongKey" not in failure.message
    assert len(await sim_requests(sim, "emailbison")) == 1  # never retried


async def test_422_bad_address_is_an_invalid_recipient(bison: EmailBisonClient) -> None:
    with pytest.raises(ProviderFailure) as caught:
        await bison.reply_in_thread(93001, "Hi", sender_email_id=9, to=["not-an-address"])
    assert (caught.value.category, caught.value.status) == ("provider_invalid_recipient", 422)
    assert caught.value.retryable is False


async def test_404_unknown_reply(bison: EmailBisonClient) -> None:
    with pytest.raises(ProviderFailure) as caught:
        await bison.reply(4242)
    assert (caught.value.category, caught.value.status) == ("provider_error", 404)
    assert "does not exist on this host" in caught.value.message


async def test_ambiguous_send_then_check_the_thread(
    bison: EmailBisonClient, sim: SimServer
) -> None:
    # Delivered, then the answer never comes: the client must not send twice.
    await add_fault(
        sim, provider="emailbison", endpoint="replies.reply", hang=True, after_effect=True, times=1
    )
    with pytest.raises(ProviderFailure) as caught:
        await bison.reply_in_thread(93002, "See you Monday.", sender_email_id=9, to=[DANA])
    assert caught.value.unknown_delivery and caught.value.category == "provider_timeout"
    assert await bison.find_sent_in_thread(93002, "See you Monday.") is not None
    assert len(await sim_requests(sim, "emailbison", "replies.reply")) == 1
    # Not delivered at all: the check finds nothing, the caller marks it failed.
    await add_fault(sim, provider="emailbison", endpoint="replies.reply", hang=True, times=1)
    with pytest.raises(ProviderFailure):
        await bison.reply_in_thread(93003, "Lost one.", sender_email_id=9, to=[DANA])
    assert await bison.find_sent_in_thread(93003, "Lost one.") is None
