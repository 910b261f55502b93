"""Lead scoring end to end (real PostgreSQL, the real worker, the simulator over loopback):
the offline heuristic without AI, the AI's score with it; retryable AI failures reschedule the
``lead.score`` job through the queue (a 429's ``Retry-After`` is the floor), permanent ones end
it dead with the reason, and a lead without inbound messages is skipped with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from replydesk.automation import scoring
from replydesk.leads.context import ScoreFacts
from replydesk.queue.service import enqueue
from tests.automation import drafts_support
from tests.automation.drafts_support import AI_KEY, Desk
from tests.support.logs import LogCapture
from tests.support.queue import fetch, fetchval, wait_until
from tests.support.sim import add_fault

DANA_TEXT = "Sounds good, can we talk Tuesday?"
WHEN = "2026-01-23T18:20:00.000000Z"


settings = drafts_support.settings  # the fixtures (tests/automation/drafts_support.py)
sim = drafts_support.sim
desk = drafts_support.desk


async def _score_job(desk: Desk, timeout_s: float = 20) -> dict[str, Any]:
    async def done() -> bool:
        jobs = await desk.jobs("lead.score")
        return len(jobs) == 1 and jobs[0]["status"] in ("succeeded", "ignored", "dead")

    await wait_until(done, timeout_s=timeout_s)
    return (await desk.jobs("lead.score"))[0]


async def _attempts(desk: Desk, job_id: int) -> list[dict[str, Any]]:
    rows = await fetch(
        desk.url,
        "SELECT attempt, outcome, category, error, finished_at FROM queue_attempts "
        "WHERE source = 'jobs' AND item_id = $1 ORDER BY id",
        job_id,
    )
    return [dict(r) for r in rows]


def _facts(**values: Any) -> ScoreFacts:
    base: dict[str, Any] = {
        "lead_id": 1,
        "first_name": "Dana",
        "last_name": None,
        "company": None,
        "title": None,
        "status": "active",
        "category": "interested",
        "category_confidence": 0.8,
        "unsubscribed": False,
        "last_inbound_at": datetime(2026, 1, 23, tzinfo=UTC),
        "inbound_count": 1,
    }
    return ScoreFacts(**{**base, **values})


def test_the_heuristic_weighs_category_recency_and_replies() -> None:
    now = datetime(2026, 1, 23, 12, tzinfo=UTC)
    fresh = scoring.heuristic(_facts(), now)
    assert (fresh.score, fresh.source) == (85, "heuristic")  # 75 + 10 (within a day)
    assert fresh.reasons == ["category interested (base 75)", "last reply 12 h ago (+10)"]
    engaged = scoring.heuristic(_facts(category="meeting_request", inbound_count=4), now)
    assert engaged.score == 100  # 85 + 10 + 10, clamped
    stale = scoring.heuristic(_facts(category="not_interested"), now + timedelta(days=60))
    assert stale.score == 0  # 5 - 20, clamped
    assert scoring.heuristic(_facts(category=None), now).score == 40
    gone = scoring.heuristic(_facts(unsubscribed=True, category="interested"), now)
    assert (gone.score, gone.reasons) == (0, ["the lead unsubscribed"])


def test_the_answer_must_be_an_integer_score_and_texts() -> None:
    assert scoring.read_answer({"score": 64.0, "reasons": [" warm ", ""]}) == (64, ["warm"])
    for bad in (
        {"score": 101, "reasons": []},
        {"score": "80", "reasons": []},
        {"score": True, "reasons": []},
        {"score": 50, "reasons": "warm"},
        {"score": 50, "reasons": [1]},
        {},
    ):
        with pytest.raises(Exception, match="score answer"):
            scoring.read_answer(bad)


async def test_without_ai_the_heuristic_scores_the_lead(desk: Desk) -> None:
    lead_id, message_id = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.worker():
        job = await _score_job(desk)
    assert job["status"] == "succeeded" and job["dedupe_key"] == f"lead.score:{message_id}"
    lead = (await desk.get(f"leads/{lead_id}")).json()
    # interested (75), last reply months before now (-20), one reply.
    assert lead["score"] == 55
    assert lead["score_reasons"][0] == "category interested (base 75)"
    assert lead["scored_at"] is not None
    source = await fetchval(desk.url, "SELECT score_source FROM leads WHERE id = $1", lead_id)
    assert source == "heuristic"
    assert desk.sim.sim.openai.calls == []


async def test_with_ai_the_model_scores_the_lead(desk: Desk, log_capture: LogCapture) -> None:
    await desk.ai()
    lead_id, _ = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.worker():
        job = await _score_job(desk)
    assert job["status"] == "succeeded"
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert (lead["score"], lead["score_reasons"]) == (
        72,
        ["asked for a call", "replied within a day"],
    )
    sent = desk.sim.sim.requests.list("openai", "responses.score")
    assert len(sent) == 1 and DANA_TEXT in sent[0]["body"]["input"]
    scored = [r for r in log_capture.records() if r.get("event") == "lead_scored"]
    assert [(r["lead_id"], r["score"], r["source"]) for r in scored] == [(lead_id, 72, "ai")]
    # Neither the thread, nor the reasons, nor the key in any log line.
    assert DANA_TEXT not in log_capture.text and AI_KEY not in log_capture.text
    assert "asked for a call" not in log_capture.text
    assert "You score how promising" not in log_capture.text  # the prompt


@pytest.mark.parametrize(
    ("fault", "category"),
    [
        ({"status": 503, "times": 1}, "provider_error"),
        ({"hang": True, "times": 1}, "ai_timeout"),
        ({"status": 429, "retry_after": 2, "times": 1}, "provider_rate_limited"),
    ],
    ids=["503", "hang", "429"],
)
async def test_a_retryable_failure_reschedules_the_job(
    desk: Desk, log_capture: LogCapture, fault: dict[str, Any], category: str
) -> None:
    await desk.ai()
    await add_fault(desk.sim, provider="openai", endpoint="responses.score", **fault)
    lead_id, _ = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.worker():
        job = await _score_job(desk)
    assert (job["status"], job["attempts"]) == ("succeeded", 2)
    history = await _attempts(desk, job["id"])
    assert [(a["outcome"], a["category"]) for a in history] == [
        ("retry", category),
        ("succeeded", None),
    ]
    if category == "provider_rate_limited":  # Retry-After (2 s) is the next attempt's floor
        retry = next(r for r in log_capture.records() if r.get("event") == "queue_item_retry")
        assert retry["retry_in_s"] >= 2
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert lead["score"] == 72
    warned = [r for r in log_capture.records() if r.get("event") == "ai_score_failed"]
    assert [(r["level"], r["category"], r["lead_id"], r["retryable"]) for r in warned] == [
        ("warning", category, lead_id, True)
    ]
    assert DANA_TEXT not in log_capture.text and AI_KEY not in log_capture.text


@pytest.mark.parametrize(
    ("fault", "category", "reason"),
    [
        ({"status": 401}, "provider_auth", "the API key was refused"),
        ({"type": "malformed_json"}, "other", "the answer is not JSON"),
        ({"type": "incomplete"}, "ai_truncated", "incomplete answer (max_output_tokens)"),
        ({"output": {"score": 140, "reasons": []}}, "other", "not an integer 0-100"),
    ],
    ids=["401", "malformed_json", "incomplete", "out_of_range"],
)
async def test_a_permanent_failure_ends_the_job_with_the_reason(
    desk: Desk, fault: dict[str, Any], category: str, reason: str
) -> None:
    await desk.ai()
    await add_fault(desk.sim, provider="openai", endpoint="responses.score", **fault)
    lead_id, _ = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.worker():
        job = await _score_job(desk)
    assert (job["status"], job["attempts"]) == ("dead", 1)
    assert reason in job["last_error"] and AI_KEY not in job["last_error"]
    history = await _attempts(desk, job["id"])
    assert [(a["outcome"], a["category"]) for a in history] == [("dead", category)]
    lead = (await desk.get(f"leads/{lead_id}")).json()
    assert lead["score"] is None and lead["score_reasons"] is None
    if category == "ai_truncated":  # never parsed: tried once more with the larger budget
        budgets = [
            c["max_output_tokens"] for c in desk.sim.sim.openai.calls if c["name"] == "score"
        ]
        assert budgets == [300, 600]


async def test_a_lead_without_inbound_messages_is_skipped_with_the_reason(desk: Desk) -> None:
    lead_id = await fetchval(
        desk.url,
        "INSERT INTO leads (workspace_id, status, email) VALUES ($1, 'active', 'cold@x.example') "
        "RETURNING id",
        desk.ws,
    )
    async with desk.db.session() as session:
        await scoring.enqueue_score(session, desk.ws, lead_id, 1)
    async with desk.worker():
        job = await _score_job(desk)
    assert (job["status"], job["last_error"]) == ("ignored", "the lead has no inbound message")
    assert await fetchval(desk.url, "SELECT score FROM leads WHERE id = $1", lead_id) is None


async def test_an_older_message_s_score_never_replaces_a_newer_one(desk: Desk) -> None:
    lead_id, first = await desk.inbound(93001, WHEN, DANA_TEXT)
    _, second = await desk.inbound(93002, "2026-01-24T09:00:00.000000Z", "Any update?")
    async with desk.db.session() as session:
        from replydesk.leads import context

        assert await context.set_score(session, desk.ws, lead_id, 90, ["newer"], "ai", second)
        assert not await context.set_score(session, desk.ws, lead_id, 10, ["older"], "ai", first)
    rows = await fetch(desk.url, "SELECT score, score_message_id FROM leads WHERE id = $1", lead_id)
    assert (rows[0]["score"], rows[0]["score_message_id"]) == (90, second)


async def test_the_score_job_is_deduplicated_per_inbound_message(desk: Desk) -> None:
    lead_id, message_id = await desk.inbound(93001, WHEN, DANA_TEXT)
    async with desk.db.session() as session:
        first = await scoring.enqueue_score(session, desk.ws, lead_id, message_id)
        again = await enqueue(
            session,
            "lead.score",
            {"lead_id": lead_id},
            scoring.score_dedupe_key(message_id),
            workspace_id=desk.ws,  # dedupe keys are unique per workspace (migration 0019)
        )
    assert first is not None and again is None
