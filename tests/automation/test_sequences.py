"""Follow-up sequences against real PostgreSQL, the real worker and the reply path: the API
(validation, roles), the start on a campaign send, the tick sending through the reply path,
the stops (reply, unsubscribe, meeting, a closed lead), out-of-office holds, gated and
quarantined channels."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from replydesk.automation.sequences import service as sequences
from replydesk.automation.sequences.schedule import add_business_days, back_at_work
from replydesk.automation.sequences.templates import MissingField, render
from replydesk.core.settings import Settings
from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from replydesk.leads import replies
from replydesk.leads.vocabulary import Channel
from tests.automation import drafts_support
from tests.automation.drafts_support import Desk
from tests.automation.sequences_support import (
    email_step,
    enrol,
    followup_messages,
    followups,
    iso,
    make_due,
    new_sequence,
    started_earlier,
    tick,
)
from tests.support.events import apply_event
from tests.support.integrations import configure_sim, set_health
from tests.support.logs import LogCapture
from tests.support.members import add_member, new_workspace_owner
from tests.support.queue import fetch, wait_until
from tests.support.samples import sample

settings = drafts_support.settings
sim = drafts_support.sim  # the fixtures (tests/automation/drafts_support.py)
desk = drafts_support.desk


async def _dana(desk: Desk) -> int:
    """Dana, who replied by e-mail in January (her thread exists: steps answer in it)."""
    lead_id, _ = await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", "Thanks, noted.")
    return lead_id


async def _postprocessed(desk: Desk) -> None:
    async def done() -> bool:
        rows = await fetch(
            desk.url,
            "SELECT 1 FROM jobs WHERE status IN ('pending', 'running') "
            "AND type IN ('inbound.postprocess', 'followup.start')",
        )
        return not rows

    async with desk.worker():
        await wait_until(done, timeout_s=15)


# --- the API --------------------------------------------------------------------------------


async def test_sequence_api_validates_and_only_owners_and_admins_write(desk: Desk) -> None:
    created = await new_sequence(
        desk,
        [
            email_step(subject="Following up, {first_name|there}"),
            {"channel": "sms", "delay_business_days": 2, "template": "Hi {first_name}!"},
        ],
        trigger="no_reply_after_outbound",
    )
    assert created["trigger"] == "no_reply_after_outbound" and created["enabled"] is True
    assert created["steps"][1] == {
        "channel": "sms",
        "delay_hours": None,
        "delay_business_days": 2,
        "subject": None,
        "template": "Hi {first_name}!",
    }
    good = {"name": "N", "trigger": "manual", "steps": [email_step()], "enabled": False}
    bad_steps: list[tuple[dict[str, Any], str]] = [
        ({**email_step(), "delay_business_days": 1}, "exactly one of delay_hours"),
        ({"channel": "email", "template": "x"}, "exactly one of delay_hours"),
        (email_step("Hi {name}"), "unknown placeholder {name}"),
        (email_step("Hi {first_name"), "unbalanced brace"),
        (email_step("   "), "template must not be blank"),
        ({**email_step(), "channel": "sms", "subject": "S"}, "subject is for e-mail steps only"),
        ({**email_step(), "channel": "fax"}, "channel"),
        ({**email_step(), "delay_hours": -1}, "delay_hours"),
        ({**email_step(), "extra": 1}, "extra"),
    ]
    for step, why in bad_steps:
        resp = await desk.post("sequences", {**good, "steps": [step]})
        assert resp.status_code == 422, (step, resp.text)
        assert why in resp.text, (why, resp.text)
    for body in (
        {**good, "steps": []},
        {**good, "trigger": "on_open"},
        {**good, "name": "  "},
        {k: v for k, v in good.items() if k != "enabled"},
    ):
        assert (await desk.post("sequences", body)).status_code == 422, body

    member = await add_member(desk.db, desk.ws, "mo@acme.example")
    as_member = await desk.client.post(member.url("sequences"), json=good, headers=member.headers)
    assert as_member.status_code == 403
    put_member = await desk.client.put(
        member.url(f"sequences/{created['id']}"), json=good, headers=member.headers
    )
    assert put_member.status_code == 403
    admin = await add_member(desk.db, desk.ws, "al@acme.example", role="admin")
    by_admin = await desk.client.post(admin.url("sequences"), json=good, headers=admin.headers)
    assert by_admin.status_code == 201
    # Any member reads them.
    listed = await desk.client.get(member.url("sequences"), headers=member.headers)
    assert [s["id"] for s in listed.json()["items"]] == [created["id"], by_admin.json()["id"]]

    put = await desk.client.put(
        desk.owner.url(f"sequences/{created['id']}"),
        json={**good, "name": "Renamed"},
        headers=desk.owner.headers,
    )
    assert put.status_code == 200 and put.json()["name"] == "Renamed"
    assert (await desk.get(f"sequences/{created['id']}")).json()["enabled"] is False
    assert (await desk.get("sequences/999999")).status_code == 404
    missing = await desk.client.put(
        desk.owner.url("sequences/999999"), json=good, headers=desk.owner.headers
    )
    assert missing.status_code == 404
    # Another workspace sees none of it.
    other = await new_workspace_owner(desk.db, "Other", "o@other.example")
    peek = await desk.client.get(other.url(f"sequences/{created['id']}"), headers=other.headers)
    assert peek.status_code == 404


async def test_enrolling_answers_the_running_enrolment_and_refuses_what_cannot_run(
    desk: Desk,
) -> None:
    lead_id = await _dana(desk)
    seq = await new_sequence(desk)
    first = await enrol(desk, lead_id, seq["id"])
    assert first["state"] == "active" and first["current_step"] == 0
    assert first["steps_total"] == 1 and first["stop_reason"] is None
    assert first["counts"] == {"sent": 0, "skipped": 0, "failed": 0}
    again = await enrol(desk, lead_id, seq["id"], expect=200)
    assert again["id"] == first["id"]
    assert [f["id"] for f in await followups(desk, lead_id)] == [first["id"]]

    paused = await desk.post(f"leads/{lead_id}/followups/{first['id']}/pause")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    assert (await tick(desk)).processed == 0  # a paused follow-up sends nothing
    resumed = await desk.post(f"leads/{lead_id}/followups/{first['id']}/resume")
    assert resumed.json()["state"] == "active"
    stopped = await desk.post(f"leads/{lead_id}/followups/{first['id']}/stop")
    assert stopped.json()["state"] == "stopped" and stopped.json()["stop_reason"] == "manual"
    assert (await desk.post(f"leads/{lead_id}/followups/{first['id']}/stop")).status_code == 200
    refused = await desk.post(f"leads/{lead_id}/followups/{first['id']}/resume")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "followup_ended"
    ended = await desk.post(f"leads/{lead_id}/followups", {"sequence_id": seq["id"]})
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "followup_ended"

    off = await new_sequence(desk, enabled=False, name="Off")
    disabled = await desk.post(f"leads/{lead_id}/followups", {"sequence_id": off["id"]})
    assert disabled.json()["error"]["code"] == "sequence_disabled"
    assert (
        await desk.post("leads/999999/followups", {"sequence_id": seq["id"]})
    ).status_code == 404
    unknown = await desk.post(f"leads/{lead_id}/followups", {"sequence_id": 999999})
    assert unknown.status_code == 404
    assert (await desk.post(f"leads/{lead_id}/followups", {"sequence_id": 0})).status_code == 422
    assert (await desk.post(f"leads/{lead_id}/followups/999999/pause")).status_code == 404
    assert (await desk.get("leads/999999/followups")).status_code == 404


# --- start, send, stop ----------------------------------------------------------------------


async def test_the_first_campaign_send_starts_enabled_no_reply_sequences_once(desk: Desk) -> None:
    auto = await new_sequence(
        desk,
        [
            email_step("Hi {first_name}, did you see my note?", subject="Quick question, Dana"),
            {"channel": "email", "delay_hours": 48, "template": "Last try, {first_name}."},
        ],
        trigger="no_reply_after_outbound",
    )
    await new_sequence(desk, trigger="no_reply_after_outbound", enabled=False, name="Off")
    await new_sequence(desk, name="Manual only")
    send = sample("emailbison", "email_sent")
    out = await apply_event(desk.db, desk.ws, "emailbison", send)
    assert out.lead_id is not None
    # A replayed delivery and a second campaign send: still one enrolment.
    await apply_event(desk.db, desk.ws, "emailbison", send)
    second = copy.deepcopy(send)
    second["data"]["scheduled_email"].update(id=88002, sent_at="2026-01-25T09:00:00.000000Z")
    await apply_event(desk.db, desk.ws, "emailbison", second)
    await _postprocessed(desk)
    shown = await followups(desk, out.lead_id)
    assert [(f["sequence_id"], f["state"]) for f in shown] == [(auto["id"], "active")]
    # The handler itself, replayed (a job run twice): the unique key starts nothing more.
    assert out.message_id is not None
    async with desk.db.session() as session:
        again = await sequences.start_for_outbound(session, desk.ws, out.message_id)
    assert again == ([], "no enabled sequence to start (or started already)")
    # A team send is no trigger.
    team = await apply_event(
        desk.db, desk.ws, "emailbison", sample("emailbison", "manual_email_sent")
    )
    assert team.message_id is not None
    async with desk.db.session() as session:
        by_team = await sequences.start_for_outbound(session, desk.ws, team.message_id)
    assert by_team == ([], "sent by team, not a campaign send")

    # The first step counts from the campaign send (January): due at once.
    report = await tick(desk)
    assert (report.processed, report.sent, report.skipped, report.failed) == (1, 1, 0, 0)
    sent = await followup_messages(desk.url)
    assert len(sent) == 1
    assert sent[0]["body"] == "Hi Dana, did you see my note?"
    assert sent[0]["subject"] == "Quick question, Dana"
    assert sent[0]["idempotency_key"] == f"followup:{out.lead_id}:{auto['id']}:0"
    jobs = await fetch(desk.url, "SELECT dedupe_key FROM jobs WHERE type = 'reply.send'")
    assert [j["dedupe_key"] for j in jobs] == [f"reply.send:{sent[0]['id']}:h0"]
    after = (await followups(desk, out.lead_id))[0]
    assert after["current_step"] == 1 and after["counts"]["sent"] == 1
    due = datetime.fromisoformat(after["next_step_at"])
    assert timedelta(hours=47) < due - datetime.now(UTC) <= timedelta(hours=48)
    assert (await tick(desk)).processed == 0  # the next one is not due

    # Dana answers: the sequence stops (inbound post-processing, same transaction).
    reply = copy.deepcopy(sample("emailbison", "lead_replied"))
    reply["data"]["reply"].update(id=93005, date_received=iso(datetime.now(UTC)))
    await apply_event(desk.db, desk.ws, "emailbison", reply)
    await _postprocessed(desk)
    final = (await followups(desk, out.lead_id))[0]
    assert (final["state"], final["stop_reason"], final["next_step_at"]) == (
        "stopped",
        "replied",
        None,
    )
    await make_due(desk.url)
    assert (await tick(desk)).sent == 0 and len(await followup_messages(desk.url)) == 1


async def test_a_lead_who_replied_after_the_send_is_not_started(desk: Desk) -> None:
    await new_sequence(desk, trigger="no_reply_after_outbound")
    await apply_event(desk.db, desk.ws, "emailbison", sample("emailbison", "email_sent"))
    lead_id = await _dana(desk)  # her reply (18:20) came after the send (18:13)
    await _postprocessed(desk)
    assert await followups(desk, lead_id) == []


async def test_steps_are_sent_in_order_then_the_follow_up_completes(
    desk: Desk, log_capture: LogCapture
) -> None:
    lead_id = await _dana(desk)
    await fetch(desk.url, "UPDATE leads SET title = NULL WHERE id = $1", lead_id)
    seq = await new_sequence(
        desk,
        [
            email_step("Hi {first_name}, one."),
            email_step("Two, {first_name|friend}, at {company}."),
            email_step("Three: {title}"),
        ],
    )
    f = await enrol(desk, lead_id, seq["id"])
    assert (await tick(desk)).sent == 1
    assert (await tick(desk)).sent == 1
    report = await tick(desk)
    assert (report.sent, report.skipped) == (0, 1)  # Dana has no title: never "{title}"
    assert report.reasons["missing_field"] == 1
    bodies = [m["body"] for m in await followup_messages(desk.url)]
    assert bodies == ["Hi Dana, one.", "Two, Dana, at Northwind."]
    done = (await followups(desk, lead_id))[0]
    assert done["state"] == "completed" and done["next_step_at"] is None
    assert done["counts"] == {"sent": 2, "skipped": 1, "failed": 0}
    assert done["last_skip_reason"] == "missing_field:title"
    steps = await fetch(
        desk.url,
        "SELECT step, status, reason FROM followup_steps WHERE followup_id = $1 ORDER BY step",
        f["id"],
    )
    assert [tuple(s) for s in steps] == [
        (0, "queued", None),
        (1, "queued", None),
        (2, "skipped", "missing_field:title"),
    ]
    ticks = [r for r in log_capture.records() if r["event"] == "followup_tick"]
    assert len(ticks) == 3 and {r["level"] for r in ticks} == {"info"}
    assert {"processed", "sent", "skipped", "failed"} <= set(ticks[0])
    assert "Hi Dana" not in log_capture.text and "dana.reyes" not in log_capture.text


async def test_unsubscribe_mid_sequence_stops_it(desk: Desk) -> None:
    lead_id = await _dana(desk)
    seq = await new_sequence(desk, [email_step(), email_step("Second")])
    f = await enrol(desk, lead_id, seq["id"])
    assert (await tick(desk)).sent == 1
    await started_earlier(desk.url, f["id"], datetime.now(UTC) - timedelta(hours=1))
    await desk.inbound(93002, iso(datetime.now(UTC)), "Please unsubscribe me from this list.")
    await _postprocessed(desk)
    stopped = (await followups(desk, lead_id))[0]
    assert (stopped["state"], stopped["stop_reason"]) == ("stopped", "unsubscribed")
    await make_due(desk.url)
    assert (await tick(desk)).sent == 0
    assert len(await followup_messages(desk.url)) == 1
    other = await new_sequence(desk, name="Another")
    refused = await desk.post(f"leads/{lead_id}/followups", {"sequence_id": other["id"]})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "unsubscribed"


async def test_a_provider_unsubscribe_stops_it_at_the_next_tick(desk: Desk) -> None:
    """EmailBison's LEAD_UNSUBSCRIBED carries no message to post-process: the tick sees the
    lead's status and stops instead of sending."""
    lead_id = await _dana(desk)
    seq = await new_sequence(desk)
    await enrol(desk, lead_id, seq["id"])
    await apply_event(desk.db, desk.ws, "emailbison", sample("emailbison", "lead_unsubscribed"))
    report = await tick(desk)
    assert (report.sent, report.stopped) == (0, 1)
    shown = (await followups(desk, lead_id))[0]
    assert (shown["state"], shown["stop_reason"]) == ("stopped", "unsubscribed")
    assert await followup_messages(desk.url) == []


async def test_a_booked_meeting_or_a_closed_lead_stops_it(desk: Desk) -> None:
    lead_id = await _dana(desk)
    one = await new_sequence(desk, name="One")
    two = await new_sequence(desk, name="Two")
    await enrol(desk, lead_id, one["id"])
    booked = await desk.post(f"leads/{lead_id}/meeting", {"start": "2027-01-27T14:00:00+01:00"})
    assert booked.status_code == 200
    shown = (await followups(desk, lead_id))[0]
    assert (shown["state"], shown["stop_reason"]) == ("stopped", "meeting_booked")
    refused = await desk.post(f"leads/{lead_id}/followups", {"sequence_id": two["id"]})
    assert refused.json()["error"]["code"] == "lead_not_followed"

    # An operator re-opens Dana, enrols her again, then closes her.
    await fetch(desk.url, "UPDATE leads SET status = 'active' WHERE id = $1", lead_id)
    f2 = await enrol(desk, lead_id, two["id"])
    patched = await desk.client.patch(
        desk.owner.url(f"leads/{lead_id}"), json={"status": "closed"}, headers=desk.owner.headers
    )
    assert patched.status_code == 200, patched.text
    # Stopped by the PATCH's own transaction; the tick has nothing to do.
    report = await tick(desk)
    assert (report.processed, report.sent) == (0, 0)
    shown = next(f for f in await followups(desk, lead_id) if f["id"] == f2["id"])
    assert (shown["state"], shown["stop_reason"]) == ("stopped", "lead_closed")


# --- out of office --------------------------------------------------------------------------


def test_business_days_and_the_next_working_day_after_a_return() -> None:
    friday = datetime(2027, 1, 8, 15, 30, tzinfo=UTC)
    assert add_business_days(friday, 1, None) == datetime(2027, 1, 11, 15, 30, tzinfo=UTC)
    assert add_business_days(friday, 5, None) == datetime(2027, 1, 15, 15, 30, tzinfo=UTC)
    saturday = datetime(2027, 1, 9, 10, 0, tzinfo=UTC)
    assert add_business_days(saturday, 0, None) == datetime(2027, 1, 11, 10, 0, tzinfo=UTC)
    # Local time: 09:00 in Berlin is 08:00 UTC in winter.
    assert back_at_work(date(2027, 1, 8), "Europe/Berlin") == datetime(
        2027, 1, 11, 8, 0, tzinfo=UTC
    )
    assert back_at_work(date(2027, 1, 11), None) == datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


def test_templates_never_leave_a_placeholder() -> None:
    lead = {"first_name": "Dana", "company": None}
    assert render("Hi {first_name}, {{first_name}} is literal", lead) == (
        "Hi Dana, {first_name} is literal"
    )
    assert render("At {company|your company}", lead) == "At your company"
    with pytest.raises(MissingField):
        render("At {company}", lead)
    with pytest.raises(MissingField):  # a lead's own field holding a placeholder
        render("Hi {first_name}", {"first_name": "{last_name}"})


async def test_an_out_of_office_reply_holds_the_next_step_until_the_next_working_day(
    desk: Desk,
) -> None:
    lead_id = await _dana(desk)
    seq = await new_sequence(desk, [email_step(), email_step("Second")])
    f = await enrol(desk, lead_id, seq["id"])
    assert (await tick(desk)).sent == 1
    now = datetime.now(UTC)
    await started_earlier(desk.url, f["id"], now - timedelta(hours=2))
    back = (now + timedelta(days=10)).date()
    text = (
        f"Thanks for your email. I am out of the office until {back.day} "
        f"{back.strftime('%B %Y')} with limited access to email."
    )
    await desk.inbound(93002, iso(now - timedelta(minutes=30)), text)
    await _postprocessed(desk)
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert lead["category"] == "out_of_office" and lead["out_of_office_until"] == back.isoformat()
    held = (await followups(desk, lead_id))[0]
    expected = back_at_work(back, None)
    assert held["state"] == "active"  # not stopped: an auto-reply is no answer
    assert datetime.fromisoformat(held["paused_until"]) == expected
    assert datetime.fromisoformat(held["next_step_at"]) == expected
    # Even when the step falls due early (say, the sequence's own delay), the tick holds it.
    await make_due(desk.url, f["id"])
    report = await tick(desk)
    assert (report.sent, report.reasons["out_of_office"]) == (0, 1)
    assert datetime.fromisoformat((await followups(desk, lead_id))[0]["next_step_at"]) == expected
    # The lead is back (the date passed): it goes on by itself.
    await fetch(
        desk.url,
        "UPDATE leads SET out_of_office_until = current_date - 3 WHERE id = $1",
        lead_id,
    )
    await make_due(desk.url, f["id"])
    assert (await tick(desk)).sent == 1
    done = (await followups(desk, lead_id))[0]
    assert done["state"] == "completed" and done["paused_until"] is None


async def test_a_fresh_reply_waits_for_its_categorisation(desk: Desk) -> None:
    lead_id = await _dana(desk)
    seq = await new_sequence(desk)
    f = await enrol(desk, lead_id, seq["id"])
    await started_earlier(desk.url, f["id"], datetime.now(UTC) - timedelta(hours=1))
    await desk.inbound(93002, iso(datetime.now(UTC)), "Who is this?")  # not post-processed yet
    report = await tick(desk)
    assert (report.sent, report.reasons["awaiting_reply_categorisation"]) == (0, 1)
    await _postprocessed(desk)
    assert (await followups(desk, lead_id))[0]["stop_reason"] == "replied"


# --- gated and quarantined channels ---------------------------------------------------------


async def test_a_gated_provider_holds_the_step_and_a_quarantined_channel_skips_it(
    desk: Desk, settings: Settings
) -> None:
    lead_id = await _dana(desk)
    seq = await new_sequence(desk, [email_step("One"), email_step("Two")])
    f = await enrol(desk, lead_id, seq["id"])
    version = await configure_sim(desk.db, settings, desk.sim, desk.ws, Integration.EMAILBISON)
    await set_health(
        desk.db,
        desk.ws,
        Integration.EMAILBISON,
        version,
        HealthResult(HealthStatus.AUTH_FAILED, message="key revoked"),
    )
    report = await tick(desk)
    assert (report.sent, report.skipped, report.reasons["integration_disconnected"]) == (0, 1, 1)
    held = (await followups(desk, lead_id))[0]
    assert held["current_step"] == 0 and held["last_skip_reason"] == "integration_disconnected"
    wait = datetime.fromisoformat(held["next_step_at"]) - datetime.now(UTC)
    assert timedelta(0) < wait <= timedelta(seconds=settings.reply_send_gate_recheck_s)
    assert await followup_messages(desk.url) == []

    # Held too long (48 h): the step is skipped, the next one scheduled.
    await fetch(
        desk.url,
        "UPDATE followups SET held_since = now() - interval '49 hours' WHERE id = $1",
        f["id"],
    )
    await make_due(desk.url, f["id"])
    assert (await tick(desk)).reasons["integration_disconnected"] == 1
    moved = (await followups(desk, lead_id))[0]
    assert moved["current_step"] == 1 and moved["counts"]["skipped"] == 1

    # The provider is back, but the lead's e-mail is quarantined: skipped with its reason.
    await set_health(
        desk.db, desk.ws, Integration.EMAILBISON, version, HealthResult(HealthStatus.OK)
    )
    async with desk.db.session() as session:
        await replies.quarantine_channel(
            session, desk.ws, lead_id, Channel.EMAIL, "invalid_recipient", None
        )
    report = await tick(desk)
    assert (report.sent, report.reasons["recipient_unreachable"]) == (0, 1)
    done = (await followups(desk, lead_id))[0]
    assert done["state"] == "completed" and done["counts"] == {
        "sent": 0,
        "skipped": 2,
        "failed": 0,
    }
    steps = await fetch(desk.url, "SELECT step, status, reason FROM followup_steps ORDER BY step")
    assert [tuple(s) for s in steps] == [
        (0, "skipped", "integration_disconnected"),
        (1, "skipped", "recipient_unreachable"),
    ]
    assert await followup_messages(desk.url) == []
