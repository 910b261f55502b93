"""Dedupe keys: what makes two deliveries "the same event", per provider and event type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replydesk.core.errors import InvalidInput
from replydesk.integrations.base import Scope
from replydesk.integrations.keys import key_part
from replydesk.integrations.providers import PROVIDERS
from tests.support.samples import sample

NOW = datetime(2026, 1, 23, 18, 13, tzinfo=UTC)


def key(provider: str, payload: dict[str, Any], at: datetime = NOW) -> str:
    return PROVIDERS[provider].parse(payload, Scope(), at).key


def test_emailbison_keys_per_event_type() -> None:
    prefix = "send.example-bison.com:12"
    assert (
        key("emailbison", sample("emailbison", "lead_replied"))
        == f"{prefix}:LEAD_REPLIED:reply:93001"
    )
    assert key("emailbison", sample("emailbison", "email_sent")) == (
        f"{prefix}:EMAIL_SENT:scheduled_email:88001"
    )
    assert key("emailbison", sample("emailbison", "email_opened")) == (
        f"{prefix}:EMAIL_OPENED:campaign_event:4404"
    )
    assert key("emailbison", sample("emailbison", "lead_unsubscribed")) == (
        f"{prefix}:LEAD_UNSUBSCRIBED:lead:501:campaign_event:4403"
    )


def test_emailbison_interested_after_replied_is_a_separate_event() -> None:
    replied = sample("emailbison", "lead_replied")
    interested = sample("emailbison", "lead_interested")
    assert replied["data"]["reply"]["id"] == interested["data"]["reply"]["id"]
    assert key("emailbison", replied) != key("emailbison", interested)


def test_emailbison_type_case_and_id_types_do_not_matter() -> None:
    upper = sample("emailbison", "lead_replied")
    lower = sample("emailbison", "lead_replied")
    lower["event"]["type"] = "lead_replied"
    lower["data"]["reply"]["id"] = "93001"
    lower["event"]["workspace_id"] = "12"
    lower["event"]["instance_url"] = "HTTPS://Send.Example-Bison.com/"
    assert key("emailbison", upper) == key("emailbison", lower)
    parsed = PROVIDERS["emailbison"].parse(lower, Scope(), NOW)
    assert parsed.event_type == "LEAD_REPLIED"


def test_emailbison_opens_are_one_event_per_tracked_open() -> None:
    first = sample("emailbison", "email_opened")
    second = sample("emailbison", "email_opened")
    second["data"]["campaign_event"]["id"] += 1
    assert key("emailbison", first) != key("emailbison", second)


def test_emailbison_ids_are_scoped_by_instance_and_workspace() -> None:
    a = sample("emailbison", "lead_replied")
    b = sample("emailbison", "lead_replied")
    b["event"]["workspace_id"] = 13
    c = sample("emailbison", "lead_replied")
    c["event"]["instance_url"] = "https://other.example"
    assert len({key("emailbison", a), key("emailbison", b), key("emailbison", c)}) == 3


def test_emailbison_mailbox_events_collapse_within_a_time_bucket() -> None:
    payload = {
        "event": {
            "type": "EMAIL_ACCOUNT_DISCONNECTED",
            "instance_url": "x.example",
            "workspace_id": 1,
        },
        "data": {"sender_email": {"id": 9}},
    }
    bucket_start = datetime.fromtimestamp(int(NOW.timestamp()) // 600 * 600, UTC)
    same = key("emailbison", payload, bucket_start + timedelta(seconds=5))
    assert same == key("emailbison", payload, bucket_start + timedelta(seconds=595))
    assert same != key("emailbison", payload, bucket_start + timedelta(seconds=605))
    assert ":sender_email:9:" in same


def test_ghl_keys() -> None:
    inbound = sample("ghl", "inbound_sms")
    assert key("ghl", inbound) == "loc_7Hq2kP:InboundMessage:msg_5Tr8Yu"
    spelled = dict(inbound, type="inboundmessage")
    assert key("ghl", spelled) == key("ghl", inbound)
    moved = dict(inbound, locationId="loc_other")
    assert key("ghl", moved) != key("ghl", inbound)


def test_ghl_without_message_id_hashes_conversation_direction_date_body() -> None:
    base = sample("ghl", "inbound_sms")
    del base["messageId"]
    k = key("ghl", base)
    assert k.startswith("loc_7Hq2kP:InboundMessage:sha256:")
    assert key("ghl", dict(base, status="read")) == k  # fields outside the hash do not matter
    for field, value in [
        ("conversationId", "cv_other"),
        ("direction", "outbound"),
        ("dateAdded", "2026-01-23T18:21:11.000Z"),
        ("body", "other text"),
    ]:
        assert key("ghl", dict(base, **{field: value})) != k, field


def test_unipile_events_on_one_message_do_not_collide() -> None:
    received = sample("unipile", "message_received")
    read = dict(received, event="message_read")
    thumbs = dict(
        received,
        event="message_reaction",
        reaction="👍",
        reaction_sender={"attendee_provider_id": "A"},
    )
    heart = dict(thumbs, reaction="❤️")
    other_person = dict(thumbs, reaction_sender={"attendee_provider_id": "B"})
    keys = [key("unipile", p) for p in (received, read, thumbs, heart, other_person)]
    assert len(set(keys)) == 5
    assert keys[0] == "acc_LnK4e:message_received:umsg_7788"
    assert keys[1] == "acc_LnK4e:message_read:umsg_7788"
    # A re-delivered reaction is the same event.
    assert key("unipile", dict(thumbs)) == keys[2]


def test_unknown_types_are_identified_by_content() -> None:
    a = {"event": "mail_received", "account_id": "acc", "email_id": "1"}
    b = {"email_id": "1", "account_id": "acc", "event": "mail_received"}  # key order differs
    c = dict(a, email_id="2")
    assert key("unipile", a) == key("unipile", b) != key("unipile", c)
    assert PROVIDERS["unipile"].parse(a, Scope(), NOW).status == "ignored"


def test_key_components_cannot_run_together() -> None:
    assert key_part("a:b") == "a%3Ab" and key_part("100%") == "100%25"
    one = {"type": "InboundMessage", "locationId": "loc:1", "messageId": "m"}
    two = {"type": "InboundMessage", "locationId": "loc", "messageId": "1:m"}
    assert key("ghl", one) != key("ghl", two)


@pytest.mark.parametrize(
    ("provider", "payload", "message"),
    [
        (
            "emailbison",
            {"event": {"type": "LEAD_REPLIED"}, "data": {"reply": {}}},
            "data.reply.id is required for LEAD_REPLIED events",
        ),
        ("ghl", {"type": "OutboundMessage"}, "locationId is required"),
        (
            "unipile",
            {"event": "message_read", "account_id": "a"},
            "message_id is required for message_read events",
        ),
    ],
)
def test_missing_ids_are_named(provider: str, payload: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        key(provider, payload)
