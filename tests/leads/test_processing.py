"""Event processing, event by event, against real PostgreSQL (no worker involved)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from replydesk.core.db import Database
from replydesk.core.errors import InvalidInput
from replydesk.queue.errors import classify
from tests.support.events import apply_event as run
from tests.support.rows import fetch_rows
from tests.support.samples import sample
from tests.support.workspaces import new_workspace


async def lead(db: Database, lead_id: int) -> dict[str, Any]:
    return (await fetch_rows(db, "SELECT * FROM leads WHERE id = :id", id=lead_id))[0]


def at(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value.replace("Z", "+00:00"))


async def test_email_sent_creates_lead_campaign_message_rollup_and_followup_job(
    db: Database,
) -> None:
    ws = (await new_workspace(db)).id
    payload = sample("emailbison", "email_sent")
    first = await run(db, ws, "emailbison", payload)
    assert first.message_created and first.lead_id and first.message_id
    row = await lead(db, first.lead_id)
    assert row["email"] == "dana.reyes@northwind.example"
    assert (row["first_name"], row["last_name"], row["company"]) == ("Dana", "Reyes", "Northwind")
    assert row["emailbison_lead_id"] == 501
    assert row["last_outbound_at"] == at("2026-01-23T18:13:05Z")
    assert row["last_message_at"] == at("2026-01-23T18:13:05Z")
    assert row["last_team_outbound_at"] is None  # a campaign send is not the team answering
    assert row["last_inbound_at"] is None
    msgs = await fetch_rows(db, "SELECT * FROM messages WHERE workspace_id = :ws", ws=ws)
    assert len(msgs) == 1
    assert msgs[0]["emailbison_scheduled_email_id"] == 88001
    assert (msgs[0]["direction"], msgs[0]["sent_by"], msgs[0]["channel"]) == (
        "outbound",
        "campaign",
        "email",
    )
    jobs = await fetch_rows(db, "SELECT type, dedupe_key, payload, status FROM jobs")
    assert jobs == [
        {
            "type": "followup.start",
            "dedupe_key": f"followup.start:{first.message_id}",
            "payload": {
                "lead_id": first.lead_id,
                "message_id": first.message_id,
                "sent_by": "campaign",
            },
            "status": "pending",
        }
    ]
    # LEAD_FIRST_CONTACTED for the same scheduled e-mail, and a replay: nothing new.
    again = copy.deepcopy(payload)
    again["event"]["type"] = "LEAD_FIRST_CONTACTED"
    for p in (payload, again):
        out = await run(db, ws, "emailbison", p)
        assert (out.message_id, out.message_created) == (first.message_id, False)
    assert len(await fetch_rows(db, "SELECT id FROM messages")) == 1
    assert len(await fetch_rows(db, "SELECT id FROM jobs")) == 1
    assert len(await fetch_rows(db, "SELECT id FROM leads")) == 1


async def test_manual_send_counts_as_team_answer(db: Database) -> None:
    ws = (await new_workspace(db)).id
    out = await run(db, ws, "emailbison", sample("emailbison", "manual_email_sent"))
    row = await lead(db, out.lead_id or 0)
    assert row["email"] == "dana.reyes@northwind.example"  # data.lead, not the sender mailbox
    assert row["last_team_outbound_at"] == at("2026-01-23T18:20:00Z")
    assert row["last_outbound_at"] == at("2026-01-23T18:20:00Z")
    msg = (await fetch_rows(db, "SELECT * FROM messages"))[0]
    assert (msg["emailbison_reply_id"], msg["sent_by"], msg["direction"]) == (
        93070,
        "team",
        "outbound",
    )
    assert msg["body"] == "Tuesday 10am works. Invite on its way."
    jobs = await fetch_rows(db, "SELECT type FROM jobs")
    assert jobs == [{"type": "followup.start"}]


async def test_reply_then_interested_is_one_message_and_sets_category(db: Database) -> None:
    ws = (await new_workspace(db)).id
    replied = await run(db, ws, "emailbison", sample("emailbison", "lead_replied"))
    row = await lead(db, replied.lead_id or 0)
    assert row["category"] is None
    assert row["last_inbound_at"] == at("2026-01-23T18:20:00Z")
    assert row["last_inbound_channel"] == "email"
    interested = await run(db, ws, "emailbison", sample("emailbison", "lead_interested"))
    assert interested.message_id == replied.message_id and not interested.message_created
    row = await lead(db, replied.lead_id or 0)
    assert row["category"] == "interested"
    msgs = await fetch_rows(db, "SELECT direction, sent_by, emailbison_reply_id FROM messages")
    assert msgs == [{"direction": "inbound", "sent_by": "lead", "emailbison_reply_id": 93001}]
    jobs = await fetch_rows(db, "SELECT type, dedupe_key FROM jobs")
    assert jobs == [
        {"type": "inbound.postprocess", "dedupe_key": f"inbound.postprocess:{replied.message_id}"}
    ]


async def test_untracked_reply_creates_flagged_lead_until_a_tracked_event(db: Database) -> None:
    ws = (await new_workspace(db)).id
    payload = sample("emailbison", "untracked_reply_received")
    out = await run(db, ws, "emailbison", payload)
    row = await lead(db, out.lead_id or 0)
    assert row["email"] == "d.reyes@northwind-group.example"
    assert row["untracked"] is True
    assert (row["first_name"], row["last_name"]) == ("Dana", "Reyes")
    # A campaign event about the same address: the lead is tracked from now on.
    sent = sample("emailbison", "email_sent")
    sent["data"]["lead"]["email"] = "  D.Reyes@Northwind-Group.example "
    out2 = await run(db, ws, "emailbison", sent)
    assert out2.lead_id == out.lead_id
    assert (await lead(db, out.lead_id or 0))["untracked"] is False
    # Another untracked reply does not flag it again.
    payload["data"]["reply"]["id"] = 93051
    await run(db, ws, "emailbison", payload)
    assert (await lead(db, out.lead_id or 0))["untracked"] is False


async def test_opens_count_once_per_campaign_event(db: Database) -> None:
    ws = (await new_workspace(db)).id
    payload = sample("emailbison", "email_opened")
    out = await run(db, ws, "emailbison", payload)
    await run(db, ws, "emailbison", payload)  # replay
    second = copy.deepcopy(payload)
    second["data"]["campaign_event"]["id"] = 4405
    await run(db, ws, "emailbison", second)
    await run(db, ws, "emailbison", second)
    row = await lead(db, out.lead_id or 0)
    assert row["open_count"] == 2
    assert row["last_message_at"] is None  # an open is not a message


async def test_bounce_and_unsubscribe_status_precedence_is_order_free(db: Database) -> None:
    bounced, unsub = (
        sample("emailbison", "email_bounced"),
        sample("emailbison", "lead_unsubscribed"),
    )
    finals = []
    for order in ((bounced, unsub), (unsub, bounced)):
        ws = (await new_workspace(db)).id
        for p in (*order, *order):  # each twice
            out = await run(db, ws, "emailbison", p)
        row = await lead(db, out.lead_id or 0)
        finals.append((row["status"], row["bounce_count"]))
        assert await fetch_rows(db, "SELECT id FROM messages WHERE workspace_id = :ws", ws=ws) == []
    assert finals == [("unsubscribed", 1), ("unsubscribed", 1)]


async def test_invalid_payload_is_permanent(db: Database) -> None:
    ws = (await new_workspace(db)).id
    payload = sample("emailbison", "email_sent")
    payload["data"]["lead"]["email"] = "not an address"
    with pytest.raises(InvalidInput) as exc:
        await run(db, ws, "emailbison", payload)
    assert classify(exc.value) == (True, "invalid_payload")
    assert "data.lead.email" in str(exc.value)
    payload = sample("emailbison", "lead_replied")
    payload["data"]["reply"]["id"] = "12x"
    with pytest.raises(InvalidInput, match=r"data\.reply\.id"):
        await run(db, ws, "emailbison", payload)


async def test_unknown_event_type_is_skipped(db: Database) -> None:
    ws = (await new_workspace(db)).id
    payload = {"event": {"type": "EMAIL_ACCOUNT_ADDED"}, "data": {"sender_email": {"id": 1}}}
    out = await run(db, ws, "emailbison", payload)
    assert out.skipped == "no handler for emailbison EMAIL_ACCOUNT_ADDED"


async def test_ghl_sms_thread_is_one_lead_and_echo_is_dropped(db: Database) -> None:
    ws = (await new_workspace(db)).id
    inbound = await run(db, ws, "ghl", sample("ghl", "inbound_sms"))
    outbound = await run(db, ws, "ghl", sample("ghl", "outbound_sms"))
    assert inbound.lead_id == outbound.lead_id
    row = await lead(db, inbound.lead_id or 0)
    assert (row["ghl_contact_id"], row["phone_e164"]) == ("ct_91XbQe", "+15125550143")
    assert row["last_inbound_at"] == at("2026-01-23T18:21:10Z")
    assert row["last_team_outbound_at"] == at("2026-01-23T18:22:00Z")  # userId = staff
    assert row["last_inbound_channel"] == "sms"
    # Our own send (e.g. an AI reply sent through the API) echoed back as OutboundMessage.
    async with db.session() as session:
        await session.execute(
            text(
                "INSERT INTO messages (workspace_id, lead_id, channel, direction, sent_by, body, "
                "occurred_at, ghl_message_id) VALUES (:ws, :lead, 'sms', 'outbound', 'ai', "
                "'sent by us', '2026-01-23T18:30:00Z', 'msg_ours')"
            ),
            {"ws": ws, "lead": inbound.lead_id},
        )
    echo = sample("ghl", "outbound_sms")
    echo.update(messageId="msg_ours", body="sent by us", dateAdded="2026-01-23T18:30:01Z")
    echo.pop("userId")
    out = await run(db, ws, "ghl", echo)
    assert not out.message_created
    msgs = await fetch_rows(db, "SELECT sent_by FROM messages WHERE ghl_message_id = 'msg_ours'")
    assert msgs == [{"sent_by": "ai"}]
    assert len(await fetch_rows(db, "SELECT id FROM messages")) == 3
    jobs = await fetch_rows(db, "SELECT type FROM jobs")
    assert jobs == [{"type": "inbound.postprocess"}]  # inbound only


async def test_ghl_lead_found_by_phone_then_gets_contact_id(db: Database) -> None:
    ws = (await new_workspace(db)).id
    first = sample("ghl", "inbound_sms")
    del first["contactId"]
    first["from"] = "(512) 555-0143"
    a = await run(db, ws, "ghl", first)
    b = await run(db, ws, "ghl", sample("ghl", "outbound_sms"))
    assert a.lead_id == b.lead_id
    row = await lead(db, a.lead_id or 0)
    assert (row["ghl_contact_id"], row["phone_e164"]) == ("ct_91XbQe", "+15125550143")


async def test_ghl_campaign_outbound_and_non_sms(db: Database) -> None:
    ws = (await new_workspace(db)).id
    auto = sample("ghl", "outbound_sms")
    auto.pop("userId")
    out = await run(db, ws, "ghl", auto)
    sql = "SELECT sent_by FROM messages WHERE id = :id"
    msg = (await fetch_rows(db, sql, id=out.message_id))[0]
    assert msg["sent_by"] == "campaign"
    assert (await lead(db, out.lead_id or 0))["last_team_outbound_at"] is None
    email = sample("ghl", "inbound_sms")
    email.update(messageType="Email", messageId="msg_email")
    skipped = await run(db, ws, "ghl", email)
    assert skipped.skipped == "GHL Email message: only SMS is handled"


async def test_unipile_inbound_and_own_messages(db: Database) -> None:
    ws = (await new_workspace(db, unipile_account_provider_id="ACoAAOwnerX")).id
    inbound = await run(db, ws, "unipile", sample("unipile", "message_received"))
    row = await lead(db, inbound.lead_id or 0)
    assert row["linkedin_provider_id"] == "ACoAAB1x2y3"
    assert row["linkedin_profile_url"] == "https://www.linkedin.com/in/dana-reyes-example"
    assert row["last_inbound_at"] == at("2026-01-23T18:25:00Z")
    # The account itself wrote (from another device): outbound, by the team, to the lead.
    own = sample("unipile", "message_received")
    own.update(message_id="umsg_7789", timestamp="2026-01-23T18:40:00Z", message="Great!")
    own["sender"] = {"attendee_provider_id": "ACoAAOwnerX", "attendee_name": "Sam Acme"}
    own["attendees"] = [
        {"attendee_provider_id": "ACoAAOwnerX"},
        {"attendee_provider_id": "ACoAAB1x2y3", "attendee_name": "Dana Reyes"},
    ]
    out = await run(db, ws, "unipile", own)
    assert out.lead_id == inbound.lead_id
    msg = (
        await fetch_rows(
            db, "SELECT direction, sent_by FROM messages WHERE id = :id", id=out.message_id
        )
    )[0]
    assert msg == {"direction": "outbound", "sent_by": "team"}
    row = await lead(db, inbound.lead_id or 0)
    assert row["last_team_outbound_at"] == at("2026-01-23T18:40:00Z")
    assert len(await fetch_rows(db, "SELECT id FROM jobs")) == 1  # only the inbound one


async def test_unipile_own_message_recognised_by_account_info(db: Database) -> None:
    ws = (await new_workspace(db)).id  # no provider id configured
    own = sample("unipile", "message_received")
    own["sender"] = {"attendee_provider_id": "ACoAAOwnerX"}
    own["attendees"] = [{"attendee_provider_id": "ACoAALead9", "attendee_name": "Lee Nine"}]
    out = await run(db, ws, "unipile", own)
    row = await lead(db, out.lead_id or 0)
    assert (row["linkedin_provider_id"], row["first_name"]) == ("ACoAALead9", "Lee")
    assert row["last_inbound_at"] is None and row["last_team_outbound_at"] is not None
    lonely = sample("unipile", "message_received")
    lonely.update(message_id="umsg_x", sender={"attendee_provider_id": "ACoAAOwnerX"}, attendees=[])
    assert (await run(db, ws, "unipile", lonely)).skipped is not None


async def test_out_of_order_rollups_are_monotonic(db: Database) -> None:
    ws = (await new_workspace(db)).id
    late = sample("emailbison", "lead_replied")
    early = copy.deepcopy(late)
    early["data"]["reply"].update(id=1, date_received="2026-01-20T08:00:00Z")
    for p in (late, early):
        out = await run(db, ws, "emailbison", p)
    row = await lead(db, out.lead_id or 0)
    assert row["last_inbound_at"] == at("2026-01-23T18:20:00Z")
    assert row["last_message_at"] == at("2026-01-23T18:20:00Z")
