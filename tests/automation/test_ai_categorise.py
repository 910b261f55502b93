"""AI categorisation end to end (real PostgreSQL, the real worker, the simulator's
OpenAI-compatible endpoint over loopback HTTP): with an AI target ``inbound.postprocess``
defers to ``inbound.categorise``, whose ``prepare`` makes the one call; every AI failure keeps
the offline rules' result (``category_source: rules``) with one warning naming its class."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from replydesk.automation.ai_categorise import read_answer
from replydesk.automation.categorise.engine import Categorised
from replydesk.leads.vocabulary import LeadCategory
from tests.automation import drafts_support
from tests.automation.drafts_support import AI_KEY, Desk
from tests.support.logs import LogCapture
from tests.support.queue import fetch, wait_until
from tests.support.sim import add_fault

DANA_TEXT = "Sounds good, can we talk Tuesday?"  # the rules: interested at 0.8
WHEN = "2026-01-23T18:20:00.000000Z"


settings = drafts_support.settings  # the fixtures (tests/automation/drafts_support.py)
sim = drafts_support.sim
desk = drafts_support.desk


async def _finished(desk: Desk, job_type: str, count: int = 1) -> list[dict[str, Any]]:
    async def done() -> bool:
        jobs = await desk.jobs(job_type)
        return len(jobs) >= count and all(
            j["status"] in ("succeeded", "ignored", "dead") for j in jobs
        )

    await wait_until(done, timeout_s=20)
    return await desk.jobs(job_type)


async def _categorised(desk: Desk, text: str = DANA_TEXT) -> dict[str, Any]:
    lead_id, _message_id = await desk.inbound(93001, WHEN, text)
    async with desk.worker():
        jobs = await _finished(desk, "inbound.categorise")
    assert [j["status"] for j in jobs] == ["succeeded"]
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert lead["id"] == lead_id
    return dict(lead)


async def test_the_ai_categorises_and_the_lead_says_ai(desk: Desk, log_capture: LogCapture) -> None:
    await desk.ai()
    answer = {"category": "meeting_request", "confidence": 0.93, "out_of_office_until": None}
    await add_fault(desk.sim, provider="openai", endpoint="responses.category", output=answer)
    lead = await _categorised(desk)
    assert (lead["category"], lead["category_source"], lead["category_confidence"]) == (
        "meeting_request",
        "ai",
        0.93,
    )
    # One call, structured, with the new text; deduplicated per message (one job).
    sent = desk.sim.sim.requests.list("openai", "responses.category")
    assert len(sent) == 1
    body = sent[0]["body"]
    assert body["text"]["format"]["type"] == "json_schema"
    assert body["text"]["format"]["strict"] is True
    assert DANA_TEXT in body["input"]
    assert len(await desk.jobs("inbound.postprocess")) == 1
    # The AI's category chains like the rules' one: a draft job for a drafted category.
    drafts = await desk.jobs("draft.generate")
    assert len(drafts) == 1
    lines = [r for r in log_capture.records() if r.get("event") == "inbound_categorised"]
    assert [(r["source"], r["result"], r["fallback"]) for r in lines] == [
        ("ai", "meeting_request", None)
    ]
    assert DANA_TEXT not in log_capture.text and AI_KEY not in log_capture.text
    assert "You categorise" not in log_capture.text  # the prompt


async def test_an_out_of_office_answer_sets_the_return_date(desk: Desk) -> None:
    await desk.ai()
    answer = {"category": "out_of_office", "confidence": 0.97, "out_of_office_until": "2026-02-09"}
    await add_fault(desk.sim, provider="openai", endpoint="responses.category", output=answer)
    lead = await _categorised(desk, "I am away, back on 9 February.")
    assert (lead["category"], lead["category_source"], lead["out_of_office_until"]) == (
        "out_of_office",
        "ai",
        "2026-02-09",
    )
    assert lead["requires_attention"] is False


@pytest.mark.parametrize(
    ("fault", "error_class", "category"),
    [
        (
            {"output": {"category": "maybe", "confidence": 0.9, "out_of_office_until": None}},
            "malformed",
            "other",
        ),
        ({"type": "malformed_json"}, "malformed", "other"),
        ({"hang": True}, "timeout", "ai_timeout"),
        ({"type": "incomplete"}, "truncated", "ai_truncated"),
        ({"status": 429, "retry_after": 30}, "rate_limited", "provider_rate_limited"),
        ({"status": 503}, "error", "provider_error"),
        ({"status": 401}, "auth", "provider_auth"),
    ],
    ids=["unknown_category", "malformed_json", "hang", "incomplete", "429", "503", "401"],
)
async def test_every_ai_failure_keeps_the_rules_result(
    desk: Desk,
    log_capture: LogCapture,
    fault: dict[str, Any],
    error_class: str,
    category: str,
) -> None:
    await desk.ai()
    await add_fault(desk.sim, provider="openai", endpoint="responses.category", **fault)
    lead = await _categorised(desk)
    assert (lead["category"], lead["category_source"], lead["category_confidence"]) == (
        "interested",
        "rules",
        0.8,
    )
    lines = [r for r in log_capture.records() if r.get("event") == "ai_categorise_failed"]
    assert [(r["level"], r["category"], r["error_class"], r["lead_id"]) for r in lines] == [
        ("warning", category, error_class, lead["id"])
    ]
    calls = [c for c in desk.sim.sim.openai.calls if c["name"] == "category"]
    if error_class == "truncated":  # tried once more with the larger budget, never parsed
        assert [c["max_output_tokens"] for c in calls] == [120, 240]
    if error_class == "rate_limited":  # a Retry-After past the limit: no wait, no retry
        assert len(desk.sim.sim.requests.list("openai", "responses.category")) == 1
    done = [r for r in log_capture.records() if r.get("event") == "inbound_categorised"]
    assert [(r["source"], r["fallback"]) for r in done] == [("rules", error_class)]
    # No reply text, prompt or key in any log line, whatever failed.
    assert DANA_TEXT not in log_capture.text and AI_KEY not in log_capture.text
    assert "You categorise" not in log_capture.text


async def test_a_short_retry_after_is_waited_for_then_the_ai_answers(desk: Desk) -> None:
    await desk.ai()
    await add_fault(
        desk.sim, provider="openai", endpoint="responses.category", retry_after=1, times=1
    )
    started = datetime.now(UTC)
    lead = await _categorised(desk)
    assert (lead["category_source"], lead["category_confidence"]) == ("ai", 0.9)
    assert len(desk.sim.sim.requests.list("openai", "responses.category")) == 2
    assert (datetime.now(UTC) - started).total_seconds() >= 1.0


async def test_a_manual_category_is_never_overwritten_by_the_ai(desk: Desk) -> None:
    lead_id, _ = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.worker():
        await _finished(desk, "inbound.postprocess")
    patched = await desk.client.patch(
        desk.owner.url(f"leads/{lead_id}"),
        json={"category": "not_interested"},
        headers=desk.owner.headers,
    )
    assert patched.status_code == 200, patched.text
    await desk.ai()
    later = {"category": "meeting_request", "confidence": 0.99, "out_of_office_until": None}
    await add_fault(desk.sim, provider="openai", endpoint="responses.category", output=later)
    await desk.inbound(93002, "2026-01-24T09:00:00.000000Z", "Let's meet on Monday!")
    async with desk.worker():
        jobs = await _finished(desk, "inbound.categorise")
    assert [j["status"] for j in jobs] == ["succeeded"]
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert (lead["category"], lead["category_source"]) == ("not_interested", "manual")


async def test_without_ai_no_categorise_job_is_queued(desk: Desk) -> None:
    lead_id, _ = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.worker():
        await _finished(desk, "inbound.postprocess")
        await _finished(desk, "lead.score")
    assert await desk.jobs("inbound.categorise") == []
    rows = await fetch(desk.url, "SELECT category_source FROM leads WHERE id = $1", lead_id)
    assert rows[0]["category_source"] == "rules"
    assert desk.sim.sim.openai.calls == []


def test_the_answer_is_held_to_the_vocabulary() -> None:
    at = datetime(2026, 1, 23, tzinfo=UTC)
    rules = Categorised(LeadCategory.OUT_OF_OFFICE, 0.9, datetime(2026, 2, 1).date(), "r")
    ok = read_answer(
        {"category": "out_of_office", "confidence": 1, "out_of_office_until": "2099-01-01"},
        at,
        rules,
    )
    # An implausible date (beyond 400 days) falls back to what the rules read.
    assert (ok.category, ok.confidence, ok.out_of_office_until) == (
        LeadCategory.OUT_OF_OFFICE,
        1.0,
        rules.out_of_office_until,
    )
    for bad in (
        {"category": "Interested", "confidence": 0.5},
        {"category": "interested", "confidence": 1.5},
        {"category": "interested", "confidence": True},
        {"category": None, "confidence": 0.5},
    ):
        with pytest.raises(Exception, match="category answer"):
            read_answer(bad, at, rules)
