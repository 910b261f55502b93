"""Lead scoring: ``{"score": 0-100, "reasons": [...]}`` per lead, after each inbound message.

The ``lead.score`` job (one per inbound message, queued by inbound post-processing once the
message is categorised) reads the lead in ``prepare`` (one short transaction), then scores it
outside any transaction: with the AI when the workspace has a target, else with the offline
heuristic below. ``apply`` stores the result on the lead (``leads.context.set_score``; a score
computed after an older message never replaces a newer one).

AI failures go through the queue's retry classification (``core.errors.ProviderFailure``):
timeouts (a hang included), 429 (its ``Retry-After`` is the next attempt's floor) and 5xx are
retryable — the job is rescheduled with backoff; 401/403, malformed JSON, an answer of the
wrong shape and a truncated answer (``status: "incomplete"``, never parsed; tried once with
the larger budget first) are permanent — the job ends dead with the reason. The client tries
each call once: the retries are the queue's, visible in the job's attempt history.

The offline heuristic (documented in docs/automation.md, "Lead scoring"): a base per
category, plus recency of the newest inbound message, plus engagement (replies), clamped to
0-100; an unsubscribed lead scores 0.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from replydesk.automation.ai_calls import KIND_CATEGORY, bounded, job_deadline, log_failure
from replydesk.automation.vocabulary import JobType
from replydesk.core.crypto import KeyRing
from replydesk.core.db import Database
from replydesk.core.errors import ProviderFailure
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.ai import config as ai_config
from replydesk.integrations.ai.client import RETRYABLE, AiFailure, AiTarget, Call, FailureKind
from replydesk.leads import context as lead_context
from replydesk.leads.context import LeadContext, ScoreFacts
from replydesk.leads.vocabulary import LeadCategory
from replydesk.queue.errors import PermanentError
from replydesk.queue.queues import ClaimedItem
from replydesk.queue.service import enqueue

log = get_logger(__name__)

SCORE_MAX_ATTEMPTS = 5
PROMPT_VERSION = "score-v1"
HEURISTIC = "heuristic"
AI = "ai"
MAX_REASONS = 5
REASON_MAX_LENGTH = 200

# The heuristic's base per category (no category yet: as "other").
CATEGORY_BASE: dict[LeadCategory | None, int] = {
    LeadCategory.MEETING_REQUEST: 85,
    LeadCategory.INTERESTED: 75,
    LeadCategory.QUESTION: 60,
    LeadCategory.REFERRAL: 45,
    LeadCategory.OTHER: 30,
    LeadCategory.OUT_OF_OFFICE: 25,
    LeadCategory.WRONG_PERSON: 10,
    LeadCategory.NOT_INTERESTED: 5,
    LeadCategory.UNSUBSCRIBE: 0,
    None: 30,
}
# Recency of the newest inbound message: (at most this many hours ago, points).
RECENCY = ((24, 10), (72, 5), (168, 0), (720, -10))
RECENCY_OLDER = -20
# Engagement: (at least this many inbound replies, points).
ENGAGEMENT = ((3, 10), (2, 5))

SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer"},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["score", "reasons"],
    "additionalProperties": False,
}
INSTRUCTIONS = """You score how promising a sales lead is, from 0 (no chance) to 100 (ready to
buy or meet), from the lead's profile, the category of its last reply and the thread (oldest
first). Give up to five short reasons (no personal data beyond what is needed). Answer with
JSON {"score": an integer 0-100, "reasons": ["...", ...]}."""


@dataclass(frozen=True)
class Scored:
    score: int
    reasons: list[str]
    source: str
    model: str | None = None


def _category(raw: str | None) -> LeadCategory | None:
    return LeadCategory(raw) if raw in {c.value for c in LeadCategory} else None


def heuristic(facts: ScoreFacts, now: datetime) -> Scored:
    """The offline score: category base + recency + engagement, clamped to 0-100."""
    if facts.unsubscribed:
        return Scored(0, ["the lead unsubscribed"], HEURISTIC)
    category = _category(facts.category)
    base = CATEGORY_BASE[category]
    reasons = [f"category {category.value if category else 'none'} (base {base})"]
    score = base
    if facts.last_inbound_at is not None:
        hours = max(0.0, (now - facts.last_inbound_at).total_seconds() / 3600)
        points = next((p for limit, p in RECENCY if hours <= limit), RECENCY_OLDER)
        score += points
        reasons.append(f"last reply {_ago(hours)} ago ({points:+d})")
    for least, points in ENGAGEMENT:
        if facts.inbound_count >= least:
            score += points
            reasons.append(f"{facts.inbound_count} replies ({points:+d})")
            break
    return Scored(max(0, min(100, score)), reasons, HEURISTIC)


def _ago(hours: float) -> str:
    if hours < 48:
        return f"{int(hours)} h"
    return f"{int(hours // 24)} days"


def read_answer(data: dict[str, Any]) -> tuple[int, list[str]]:
    """The model's score and reasons, or ``AiFailure(MALFORMED)`` for any other shape."""
    score = data.get("score")
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        raise AiFailure(FailureKind.MALFORMED, "the score answer is not an integer 0-100")
    reasons = data.get("reasons")
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise AiFailure(FailureKind.MALFORMED, "the score answer's reasons are not a list of texts")
    kept = [r.strip()[:REASON_MAX_LENGTH] for r in reasons if r.strip()][:MAX_REASONS]
    return score, kept


def call_input(facts: ScoreFacts, context: LeadContext | None, now: datetime) -> str:
    thread = [
        {
            "direction": m.direction,
            "channel": m.channel,
            "at": m.occurred_at.isoformat(),
            "text": m.text,
        }
        for m in (context.thread if context else [])
    ]
    lead = {
        "first_name": facts.first_name,
        "company": facts.company,
        "title": facts.title,
        "status": facts.status,
        "category": facts.category,
        "replies": facts.inbound_count,
    }
    return json.dumps({"now": now.isoformat(), "lead": lead, "thread": thread}, ensure_ascii=False)


def provider_failure(failure: AiFailure) -> ProviderFailure:
    """The queue's view of an AI failure: retryable (timeouts, 429, 5xx) or permanent."""
    retry_after = math.ceil(failure.retry_after) if failure.retry_after else None
    return ProviderFailure(
        f"lead score: {failure.message}",
        category=KIND_CATEGORY[failure.kind],
        retryable=failure.kind in RETRYABLE,
        retry_after_s=retry_after,
        provider="openai",
        status=failure.status,
    )


async def score_with_ai(
    target: AiTarget,
    settings: Settings,
    facts: ScoreFacts,
    context: LeadContext | None,
    now: datetime,
) -> Scored:
    """One call (the queue retries); raises ``ProviderFailure`` on failure."""
    deadline = job_deadline(settings)
    call = Call(
        "score",
        INSTRUCTIONS,
        call_input(facts, context, now),
        SCORE_SCHEMA,
        settings.ai_score_max_output_tokens,
        settings.ai_timeout_s,
        max_attempts=1,
    )
    try:
        answer = await bounded(target, settings, call, deadline.left())
        score, reasons = read_answer(answer.data)
    except AiFailure as failure:
        log_failure("ai_score_failed", facts.lead_id, failure, retryable=failure.kind in RETRYABLE)
        raise provider_failure(failure) from None
    return Scored(score, reasons, AI, answer.model)


def score_dedupe_key(message_id: int) -> str:
    """One score job per inbound message, ever (a replayed post-processing adds none)."""
    return f"{JobType.LEAD_SCORE}:{message_id}"


async def enqueue_score(
    session: AsyncSession, workspace_id: uuid.UUID, lead_id: int, message_id: int
) -> int | None:
    return await enqueue(
        session,
        JobType.LEAD_SCORE.value,
        {"lead_id": lead_id, "message_id": message_id},
        score_dedupe_key(message_id),
        workspace_id=workspace_id,
        max_attempts=SCORE_MAX_ATTEMPTS,
    )


@dataclass(frozen=True)
class PreparedScore:
    lead_id: int
    message_id: int
    scored: Scored | None
    skipped: str | None = None


class ScoreJob:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self._keyring: KeyRing | None = None

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self._keyring = KeyRing.from_settings(self.settings)
        return self._keyring

    def _ids(self, item: ClaimedItem) -> tuple[uuid.UUID, int, int]:
        lead_id, message_id = item.payload.get("lead_id"), item.payload.get("message_id")
        if item.workspace_id is None:
            raise PermanentError("lead.score without a workspace")
        for name, value in (("lead_id", lead_id), ("message_id", message_id)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise PermanentError(f"lead.score needs an integer {name}")
        assert isinstance(lead_id, int) and isinstance(message_id, int)
        return item.workspace_id, lead_id, message_id

    async def prepare(self, item: ClaimedItem) -> PreparedScore:
        ws, lead_id, message_id = self._ids(item)
        now = datetime.now(UTC)
        async with self.db.session() as session:
            facts = await lead_context.score_facts(session, ws, lead_id)
            if facts is None:
                return PreparedScore(lead_id, message_id, None, "the lead no longer exists")
            if facts.last_inbound_at is None or facts.inbound_count == 0:
                return PreparedScore(lead_id, message_id, None, "the lead has no inbound message")
            resolved = await ai_config.resolve(session, self.settings, self.keyring, ws)
            context = None
            if resolved.target is not None:
                context = await lead_context.lead_context(session, ws, lead_id, now)
        # The transaction is over: the AI call holds no connection.
        if resolved.target is None:
            return PreparedScore(lead_id, message_id, heuristic(facts, now))
        scored = await score_with_ai(resolved.target, self.settings, facts, context, now)
        return PreparedScore(lead_id, message_id, scored)

    async def apply(self, session: AsyncSession, item: ClaimedItem) -> str | None:
        prepared: PreparedScore = item.prepared
        ws = item.workspace_id
        assert ws is not None
        if prepared.scored is None:
            return prepared.skipped
        scored = prepared.scored
        stored = await lead_context.set_score(
            session,
            ws,
            prepared.lead_id,
            scored.score,
            scored.reasons,
            scored.source,
            prepared.message_id,
        )
        # Ids and the score only: never the reasons (they may quote the thread).
        log.info(
            "lead_scored",
            job_id=item.id,
            lead_id=prepared.lead_id,
            message_id=prepared.message_id,
            score=scored.score,
            source=scored.source,
            stored=stored,
        )
        # Not stored: a score after a newer inbound message is there already (expected).
        return None
