"""Drafts end to end against real PostgreSQL, the real worker and the simulator (real HTTP):
an inbound reply is categorised, drafted (AI or template), verified, and approved through the
reply path — and every AI fault keeps a draft, with the fallback visible."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from replydesk.integrations.credentials.checks import HealthResult
from replydesk.integrations.credentials.vocabulary import HealthStatus, Integration
from tests.automation import drafts_support
from tests.automation.drafts_support import AI_KEY, Desk, reply_payload
from tests.support.events import apply_event
from tests.support.integrations import configure, set_health
from tests.support.logs import LogCapture
from tests.support.queue import fetch, fetchval, wait_until
from tests.support.samples import sample
from tests.support.sim import add_fault

DANA_TEXT = "Sounds good, can we talk Tuesday?"  # the sample: interested (rules, 0.8)


settings = drafts_support.settings  # the fixtures (tests/automation/drafts_support.py)
sim = drafts_support.sim
desk = drafts_support.desk


async def _one_draft(desk: Desk, text: str = DANA_TEXT, serial: int = 93001) -> dict[str, Any]:
    lead_id, message_id = await desk.inbound(serial, "2026-01-23T18:20:00.000000Z", text)
    async with desk.worker():
        rows = await desk.wait_drafts(1)
    row = rows[-1]
    assert row["lead_id"] == lead_id and row["in_reply_to_message_id"] == message_id
    return row


async def test_without_ai_a_template_draft_waits_for_review(desk: Desk) -> None:
    row = await _one_draft(desk)
    assert (row["source"], row["status"], row["verifier_status"]) == (
        "template",
        "pending_review",
        "skipped",
    )
    assert row["body"].startswith("Hi Dana,")
    assert row["verifier_notes"][0] == "template: no AI provider is configured"
    assert row["prompt_version"] == "template-v1" and len(row["context_hash"]) == 64

    shown = (await desk.get(f"leads/{row['lead_id']}/drafts")).json()["items"]
    assert [d["id"] for d in shown] == [row["id"]]
    draft = shown[0]
    assert draft["verifier"] == {"status": "skipped", "notes": row["verifier_notes"]}
    assert draft["channel"] == "email" and draft["subject"] == "Re: Quick question, Dana"
    assert draft["category"] == "interested" and draft["category_confidence"] == 0.8
    queue = (await desk.get("drafts", status="pending_review")).json()
    assert [d["id"] for d in queue["items"]] == [row["id"]] and queue["next_cursor"] is None
    # Deduplicated per inbound message: one draft job, one draft.
    assert len(await desk.jobs("draft.generate")) == 1


async def test_ai_draft_passes_the_verifier_and_records_its_audit(desk: Desk) -> None:
    await desk.ai()
    await desk.automation({"signature": "— Sam, Acme", "offer": "A 14-day pilot"})
    row = await _one_draft(desk)
    assert (row["source"], row["verifier_status"]) == ("ai", "passed")
    assert row["body"].startswith("Hi Dana,") and row["body"].endswith("— Sam, Acme")
    assert row["model"] == "gpt-4.1-mini" and row["prompt_version"] == "draft-v1"
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert set(row["timings"]) == {"generate_ms", "verify_ms"}
    # The categorisation and the lead score are calls of their own jobs (test_ai_categorise,
    # test_scoring); the draft makes two.
    names = [c["name"] for c in desk.sim.sim.openai.calls if c["name"] in ("draft", "verdict")]
    assert names == ["draft", "verdict"]
    assert {c["name"] for c in desk.sim.sim.openai.calls} <= {
        "category",
        "draft",
        "verdict",
        "score",
    }
    sent = desk.sim.sim.requests.list("openai", "responses.draft")[0]
    assert "Sounds good, can we talk Tuesday?" in sent["body"]["input"]
    assert (await desk.integration("openai"))["status"] in ("ok", "unknown")


@pytest.mark.parametrize(
    ("fault", "status", "note"),
    [
        ({"hang": True}, "timeout", "verifier timed out: the draft is kept for review"),
        (
            {"type": "incomplete"},
            "truncated",
            "verifier hit max_output_tokens: the draft is kept for review",
        ),
    ],
)
async def test_a_verifier_timeout_or_truncation_keeps_the_draft(
    desk: Desk, log_capture: LogCapture, fault: dict[str, Any], status: str, note: str
) -> None:
    await desk.ai()
    await add_fault(desk.sim, provider="openai", endpoint="responses.verdict", **fault)
    row = await _one_draft(desk)
    assert (row["source"], row["status"], row["verifier_status"]) == (
        "ai",
        "pending_review",
        status,
    )
    assert row["body"].startswith("Hi Dana,") and note in row["verifier_notes"]
    lines = [r for r in log_capture.records() if r.get("event") == "ai_verifier_failed"]
    category = "ai_timeout" if status == "timeout" else "ai_truncated"
    assert [(r["level"], r["category"], r["lead_id"]) for r in lines] == [
        ("warning", category, row["lead_id"])
    ]
    if status == "truncated":  # tried once more with the larger budget, never parsed
        budgets = [
            c["max_output_tokens"] for c in desk.sim.sim.openai.calls if c["name"] == "verdict"
        ]
        assert budgets == [300, 600]
    # No prompt, reply body or key in any log line.
    assert DANA_TEXT not in log_capture.text and AI_KEY not in log_capture.text
    assert row["body"] not in log_capture.text


async def test_401_marks_the_integration_auth_failed_and_falls_back(desk: Desk) -> None:
    # Stored with health ok and no check queued: the draft's own call meets the 401.
    await configure(
        desk.db,
        desk.settings,
        desk.ws,
        Integration.OPENAI,
        {"base_url": desk.sim.base_url("openai"), "model": "gpt-4.1-mini"},
        {"api_key": "sk-proj-wrongkey0000000000000000"},
    )
    row = await _one_draft(desk)
    assert (row["source"], row["verifier_status"]) == ("template", "skipped")
    # The message's first AI call is its categorisation (inbound.categorise): its 401 makes
    # the integration auth_failed, so the draft job makes no call and says why.
    assert row["verifier_notes"][0] == (
        "template: the workspace's AI key was refused (integration auth_failed)"
    )
    assert len(desk.sim.sim.requests.list("openai")) == 1
    assert len(desk.sim.sim.requests.list("openai", "responses.category")) == 1
    integration = await desk.integration("openai")
    assert integration["status"] == "auth_failed"
    assert integration["last_error"]["category"] == "provider_auth"
    assert "wrongkey" not in str(integration)
    # While auth_failed, no call is made: the template, saying why.
    calls = len(desk.sim.sim.requests.list("openai"))
    await desk.inbound(93005, "2026-01-26T09:00:00.000000Z", "Sounds interesting, tell me more.")
    async with desk.worker():
        rows = await desk.wait_drafts(2)
    assert rows[-1]["verifier_notes"][0] == (
        "template: the workspace's AI key was refused (integration auth_failed)"
    )
    assert len(desk.sim.sim.requests.list("openai")) == calls


@pytest.mark.parametrize(
    ("fault", "kind", "attempts"),
    [
        ({"retry_after": 30}, "rate_limited", 1),  # Retry-After beyond the cap: no wait
        ({"status": 429}, "rate_limited", 2),  # retried with backoff, then the template
        ({"hang": True}, "timeout", 2),
        ({"type": "malformed_json"}, "malformed", 1),
        ({"status": 500}, "error", 2),
    ],
)
async def test_draft_faults_fall_back_to_the_template_visibly(
    desk: Desk, fault: dict[str, Any], kind: str, attempts: int
) -> None:
    await desk.ai()
    await add_fault(desk.sim, provider="openai", endpoint="responses.draft", **fault)
    row = await _one_draft(desk)
    assert (row["source"], row["status"]) == ("template", "pending_review")
    assert row["verifier_notes"][0] == (
        f"template fallback: the AI draft failed ({kind} after {attempts} attempt(s))"
    )
    assert row["body"].startswith("Hi Dana,")
    draft_calls = desk.sim.sim.requests.list("openai", "responses.draft")
    assert len(draft_calls) == attempts


async def test_an_unknown_answer_shape_or_a_failing_verdict(desk: Desk) -> None:
    await desk.ai()
    await add_fault(
        desk.sim,
        provider="openai",
        endpoint="responses.draft",
        output={"category": "maybe"},
        times=1,
    )
    row = await _one_draft(desk)
    assert row["source"] == "template"
    assert "malformed" in row["verifier_notes"][0]

    await add_fault(
        desk.sim,
        provider="openai",
        endpoint="responses.verdict",
        output={"verdict": "fail", "notes": "promises a discount the offer does not make"},
    )
    await desk.inbound(93002, "2026-01-24T09:00:00.000000Z", "How much does it cost?")
    async with desk.worker():
        rows = await desk.wait_drafts(2)
    second = rows[-1]
    assert (second["source"], second["verifier_status"]) == ("ai", "failed")
    assert second["verifier_notes"][-1].endswith("promises a discount the offer does not make")
    # The newer message superseded the older pending draft.
    assert rows[0]["status"] == "superseded" and rows[0]["superseded_by_message_id"] is not None


async def test_deterministic_checks_banned_phrases_placeholders_unsubscribed(desk: Desk) -> None:
    await desk.ai()
    resp = await desk.automation({"banned_phrases": ["circle back"]})
    assert resp.status_code == 200, resp.text
    await add_fault(
        desk.sim,
        provider="openai",
        endpoint="responses.draft",
        output={"subject": None, "body": "Hi Dana, let me circle back with {pricing_link} soon."},
    )
    row = await _one_draft(desk)
    assert row["verifier_status"] == "failed" and "circle back" not in row["body"]
    assert "removed a banned phrase: 'circle back'" in row["verifier_notes"]
    assert "a placeholder is left in the draft: {pricing_link}" in row["verifier_notes"]
    drafting = [c["name"] for c in desk.sim.sim.openai.calls if c["name"] in ("draft", "verdict")]
    assert drafting == ["draft"]  # no AI verdict needed


async def test_wrong_first_name_and_too_long_fail(desk: Desk) -> None:
    await desk.ai()
    await add_fault(
        desk.sim,
        provider="openai",
        endpoint="responses.draft",
        output={"subject": None, "body": "Hi Maria, thanks! " + "x" * 3100},
    )
    row = await _one_draft(desk)
    assert row["verifier_status"] == "failed"
    notes = " | ".join(row["verifier_notes"])
    assert "greets someone else" in notes and "too long" in notes


async def test_approve_sends_once_through_the_reply_path(desk: Desk) -> None:
    row = await _one_draft(desk)
    edited = row["body"] + "\n\nP.S. Tuesday 10:00 works for me."
    first = await desk.post(f"drafts/{row['id']}/approve", {"body": edited})
    assert first.status_code == 202, first.text
    shown = first.json()
    assert shown["status"] == "approved" and shown["edited"] is True
    assert shown["approved_by"] == str(desk.owner.user_id) and shown["approved_at"]
    again = await desk.post(f"drafts/{row['id']}/approve")
    assert (
        again.status_code == 202 and again.json()["reply_message_id"] == shown["reply_message_id"]
    )
    replies = await fetch(
        desk.url, "SELECT id, body, idempotency_key FROM messages WHERE direction = 'outbound'"
    )
    assert [(r["body"], r["idempotency_key"]) for r in replies] == [(edited, f"draft:{row['id']}")]
    stored = (await desk.draft_rows())[0]
    assert stored["generated_body"] == row["body"] and "+P.S. Tuesday" in stored["edit_diff"]
    # The send job delivers it to the simulator: the draft reads sent.
    async with desk.worker():

        async def sent() -> bool:
            return bool((await desk.draft(row["id"]))["status"] == "sent")

        await wait_until(sent, timeout_s=15)
    posted = desk.sim.sim.requests.list("emailbison", "replies.reply")
    assert len(posted) == 1
    rejected = await desk.post(f"drafts/{row['id']}/reject", {"reason": "late"})
    assert rejected.status_code == 409 and rejected.json()["error"]["code"] == "draft_not_pending"


async def test_reject_then_approve_is_refused(desk: Desk) -> None:
    row = await _one_draft(desk)
    resp = await desk.post(f"drafts/{row['id']}/reject", {"reason": "too pushy"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "rejected" and body["reject_reason"] == "too pushy"
    assert body["rejected_by"] == str(desk.owner.user_id)
    assert (await desk.post(f"drafts/{row['id']}/reject")).status_code == 200  # idempotent
    approve = await desk.post(f"drafts/{row['id']}/approve")
    assert approve.status_code == 409 and approve.json()["error"]["code"] == "draft_not_pending"
    assert (await desk.get("drafts")).json()["items"] == []
    assert (await desk.post("drafts/999999/approve")).status_code == 404


async def test_approving_for_an_unsubscribed_lead_is_refused_and_stays_pending(
    desk: Desk,
) -> None:
    row = await _one_draft(desk)
    # The provider's unsubscribe signal (no new inbound message: the draft is not superseded).
    await apply_event(desk.db, desk.ws, "emailbison", sample("emailbison", "lead_unsubscribed"))
    resp = await desk.post(f"drafts/{row['id']}/approve")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "unsubscribed"
    stored = (await desk.draft_rows())[0]
    assert stored["status"] == "pending_review" and stored["approved_by"] is None
    assert stored["reply_message_id"] is None
    outbound = await fetch(desk.url, "SELECT id FROM messages WHERE direction = 'outbound'")
    assert outbound == []


async def test_a_newer_inbound_message_supersedes_the_pending_draft(desk: Desk) -> None:
    row = await _one_draft(desk)
    await desk.inbound(93003, "2026-01-25T09:00:00.000000Z", "Please remove me from your list")
    async with desk.worker():

        async def superseded() -> bool:
            return bool((await desk.draft_rows())[0]["status"] == "superseded")

        await wait_until(superseded, timeout_s=15)
    rows = await desk.draft_rows()
    assert len(rows) == 1  # an unsubscribe gets no draft
    resp = await desk.post(f"drafts/{row['id']}/approve")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "draft_not_pending"
    assert (await desk.draft(row["id"]))["status"] == "superseded"


async def test_the_queue_is_oldest_first_with_keyset_paging(desk: Desk) -> None:
    texts = ["Sounds interesting, tell me more.", "Can we set up a call?", "How much is it?"]
    # Three leads (different e-mail addresses), one pending draft each.
    for n, text in enumerate(texts):
        payload = reply_payload(94000 + n, f"2026-01-2{n + 1}T10:00:00.000000Z", text)
        payload["data"]["reply"]["from_email_address"] = f"lead{n}@example.org"
        payload["data"]["lead"].update(id=600 + n, email=f"lead{n}@example.org", first_name=f"L{n}")
        await apply_event(desk.db, desk.ws, "emailbison", payload)
    async with desk.worker():
        await desk.wait_drafts(3)
    first = (await desk.get("drafts", status="pending_review", limit=2)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (await desk.get("drafts", limit=2, cursor=first["next_cursor"])).json()
    items = first["items"] + rest["items"]
    keys = [(d["created_at"], d["id"]) for d in items]
    assert keys == sorted(keys) and len({d["id"] for d in items}) == 3
    assert rest["next_cursor"] is None
    assert (await desk.get("drafts", cursor="nonsense")).status_code == 400
    assert (await desk.get("drafts", status="bogus")).status_code == 422


async def test_settings_are_validated_and_stored_whole(desk: Desk) -> None:
    default = (await desk.get("settings/automation")).json()
    assert default["auto_send"] == {
        "enabled": False,
        "categories": [],
        "min_confidence": 0.9,
        "delay_s": 300,
    }
    body = {
        "auto_send": {
            "enabled": True,
            "categories": ["interested", "meeting_request"],
            "min_confidence": 0.8,
            "delay_s": 60,
        },
        "attention_sla_hours": 4,
        "persona": "Sam, founder",
        "offer": "A 14-day pilot",
        "signature": "— Sam",
        "banned_phrases": ["guarantee"],
    }
    resp = await desk.automation(body)
    assert resp.status_code == 200, resp.text
    got = (await desk.get("settings/automation")).json()
    assert {k: v for k, v in got.items() if k != "updated_at"} == body
    for bad in (
        {"auto_send": {"enabled": True, "categories": ["unsubscribe"]}},
        {"auto_send": {"enabled": True, "categories": ["not_interested"]}},
        {"auto_send": {"min_confidence": 1.5}},
        {"auto_send": {"delay_s": -1}},
        {"persona": "x" * 2001},
        {"unknown": 1},
    ):
        resp = await desk.automation(bad)
        assert resp.status_code == 422, (bad, resp.text)


async def test_auto_send_after_the_delay_when_every_rule_holds(desk: Desk) -> None:
    await desk.ai()
    rule = {"enabled": True, "categories": ["interested"], "min_confidence": 0.5, "delay_s": 1}
    assert (await desk.automation({"auto_send": rule})).status_code == 200
    await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    async with desk.worker():
        rows = await desk.wait_drafts(1)
        assert rows[0]["auto_send_at"] is not None and rows[0]["status"] == "pending_review"

        async def sent() -> bool:
            return bool((await desk.draft(rows[0]["id"]))["status"] == "sent")

        await wait_until(sent, timeout_s=15)
    stored = (await desk.draft_rows())[0]
    assert stored["auto_sent"] is True and stored["approved_by"] is None
    assert len(desk.sim.sim.requests.list("emailbison", "replies.reply")) == 1


async def test_no_auto_send_without_a_passing_verifier(desk: Desk) -> None:
    rule = {"enabled": True, "categories": ["interested"], "min_confidence": 0.5, "delay_s": 0}
    assert (await desk.automation({"auto_send": rule})).status_code == 200
    row = await _one_draft(desk)  # no AI: a template, verifier skipped
    assert row["auto_send_at"] is None and row["status"] == "pending_review"
    assert await desk.jobs("draft.auto_send") == []


async def test_a_rejection_inside_the_delay_wins(desk: Desk) -> None:
    await desk.ai()
    # 6 s: the rejection must land inside the window even on a loaded CI machine (2 s once
    # lost the race there, with the AI categorisation's extra job before the draft).
    rule = {"enabled": True, "categories": ["interested"], "min_confidence": 0.5, "delay_s": 6}
    assert (await desk.automation({"auto_send": rule})).status_code == 200
    await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    async with desk.worker():
        rows = await desk.wait_drafts(1)
        resp = await desk.post(f"drafts/{rows[0]['id']}/reject", {"reason": "not yet"})
        assert resp.status_code == 200

        async def done() -> bool:
            jobs = await desk.jobs("draft.auto_send")
            return bool(jobs) and jobs[0]["status"] in ("done", "ignored")

        await wait_until(done, timeout_s=30)
    assert (await desk.draft_rows())[0]["status"] == "rejected"
    assert desk.sim.sim.requests.list("emailbison", "replies.reply") == []


async def test_no_prompt_reply_body_or_key_in_any_log_line(
    desk: Desk, log_capture: LogCapture
) -> None:
    await desk.ai()
    await desk.automation({"offer": "Secret-ish pilot terms 4711", "signature": "— Sam Q. Acme"})
    await add_fault(desk.sim, provider="openai", endpoint="responses.draft", status=503, times=1)
    row = await _one_draft(desk)
    assert row["source"] == "ai"  # the retry after the 503 answered
    resp = await desk.post(f"drafts/{row['id']}/approve")
    assert resp.status_code == 202
    async with desk.worker():

        async def sent() -> bool:
            return bool((await desk.draft(row["id"]))["status"] == "sent")

        await wait_until(sent, timeout_s=15)
    text = log_capture.text
    assert "draft_written" in text and "ai_draft_failed" not in text
    for secret in (DANA_TEXT, row["body"], AI_KEY, "pilot terms 4711", "Sam Q. Acme", "Hi Dana"):
        assert secret not in text, secret


async def test_concurrent_approvals_queue_one_reply(desk: Desk) -> None:
    row = await _one_draft(desk)
    answers = await asyncio.gather(
        *(desk.post(f"drafts/{row['id']}/approve", {"body": f"Edit {n}"}) for n in range(4))
    )
    assert {a.status_code for a in answers} == {202}
    replies = await fetch(
        desk.url, "SELECT body, idempotency_key FROM messages WHERE direction = 'outbound'"
    )
    assert len(replies) == 1 and replies[0]["idempotency_key"] == f"draft:{row['id']}"
    # Every answer shows the one approval that won (its body), none another edit.
    stored = (await desk.draft_rows())[0]
    assert {a.json()["body"] for a in answers} == {stored["body"]} == {replies[0]["body"]}
    assert len(await desk.jobs("reply.send")) == 1


async def test_auto_send_never_goes_through_a_gated_provider(desk: Desk) -> None:
    await desk.ai()
    rule = {"enabled": True, "categories": ["interested"], "min_confidence": 0.5, "delay_s": 0}
    assert (await desk.automation({"auto_send": rule})).status_code == 200
    version = await fetchval(
        desk.url, "SELECT version FROM integration_credentials WHERE provider = 'emailbison'"
    )
    refused = HealthResult(HealthStatus.AUTH_FAILED, "provider_auth", "key refused")
    assert await set_health(desk.db, desk.ws, Integration.EMAILBISON, version, refused)
    await desk.inbound(93001, "2026-01-23T18:20:00.000000Z", DANA_TEXT)
    async with desk.worker():
        await desk.wait_drafts(1)

        async def tried() -> bool:
            jobs = await desk.jobs("draft.auto_send")
            return bool(jobs) and jobs[0]["status"] in ("done", "ignored")

        await wait_until(tried, timeout_s=15)
    row = (await desk.draft_rows())[0]
    assert row["status"] == "pending_review" and row["reply_message_id"] is None
    assert row["verifier_notes"][-1].startswith("auto-send refused: emailbison is auth_failed")
    assert await fetch(desk.url, "SELECT id FROM messages WHERE direction = 'outbound'") == []
