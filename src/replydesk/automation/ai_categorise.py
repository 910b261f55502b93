"""AI categorisation of one inbound message: one structured call (``category``), its answer
validated against the one vocabulary, else the offline rules' result.

Runs in the ``inbound.categorise`` job's ``prepare`` step, outside any transaction. Any
failure — timeout (a hang included), truncation (never parsed), 401/403, 429, 5xx, malformed
JSON, an answer of the wrong shape or a category outside the vocabulary — keeps the rules'
result (``category_source: rules``) and logs one warning (``ai_categorise_failed``) with the
lead id only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from replydesk.automation.ai_calls import bounded, job_deadline, log_failure
from replydesk.automation.categorise.engine import MAX_CHARS, Categorised
from replydesk.core.settings import Settings
from replydesk.integrations.ai.client import AiFailure, AiTarget, Call, FailureKind
from replydesk.leads.vocabulary import CategorySource, LeadCategory

PROMPT_VERSION = "category-v1"
# A stated return date further ahead than this is not one (as the rules' date reader).
MAX_AHEAD = timedelta(days=400)

CATEGORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": [c.value for c in LeadCategory]},
        "confidence": {"type": "number"},
        "out_of_office_until": {"type": ["string", "null"]},
    },
    "required": ["category", "confidence", "out_of_office_until"],
    "additionalProperties": False,
}
INSTRUCTIONS = f"""You categorise a prospect's reply to a sales outreach message.
The input is JSON: the channel, the e-mail subject (or null), the date the reply was written
and its new text (quoted history and signature removed). Answer with JSON
{{"category": one of {", ".join(c.value for c in LeadCategory)},
"confidence": 0 to 1, "out_of_office_until": the stated return date as YYYY-MM-DD or null}}.
interested: wants to hear more; meeting_request: asks for or accepts a call or meeting;
question: asks something before deciding; referral: points to someone else; not_interested:
declines; wrong_person: not the right contact; out_of_office: an automatic absence reply;
unsubscribe: asks to stop receiving messages; other: anything else."""


@dataclass(frozen=True)
class AiCategorised:
    result: Categorised
    source: CategorySource
    failure: AiFailure | None = None
    model: str | None = None


def _return_date(raw: Any, message_at: datetime) -> date | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        found = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None
    written = message_at.date()
    return found if written <= found <= written + MAX_AHEAD else None


def read_answer(data: dict[str, Any], message_at: datetime, rules: Categorised) -> Categorised:
    """The model's answer as a result, or ``AiFailure(MALFORMED)`` when it is not the schema's
    (a category outside the vocabulary included: never stored)."""
    raw = data.get("category")
    if not isinstance(raw, str) or raw not in {c.value for c in LeadCategory}:
        raise AiFailure(FailureKind.MALFORMED, "the category answer is not in the vocabulary")
    confidence = data.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise AiFailure(FailureKind.MALFORMED, "the category answer has no confidence")
    if not 0 <= float(confidence) <= 1:
        raise AiFailure(FailureKind.MALFORMED, "the category answer's confidence is not 0-1")
    category = LeadCategory(raw)
    until = None
    if category is LeadCategory.OUT_OF_OFFICE:
        # The model's date when it is a plausible one, else what the rules read.
        until = _return_date(data.get("out_of_office_until"), message_at)
        until = until or rules.out_of_office_until
    return Categorised(category, round(float(confidence), 3), until, None)


def call_input(text: str, subject: str | None, channel: str, message_at: datetime) -> str:
    return json.dumps(
        {
            "channel": channel,
            "subject": subject,
            "written_on": message_at.date().isoformat(),
            "text": text[:MAX_CHARS],
        },
        ensure_ascii=False,
    )


async def categorise_with_ai(
    target: AiTarget,
    settings: Settings,
    *,
    lead_id: int,
    text: str,
    subject: str | None,
    channel: str,
    message_at: datetime,
    rules: Categorised,
) -> AiCategorised:
    """The AI's category (source ``ai``) or, on any failure, the rules' (source ``rules``)."""
    deadline = job_deadline(settings)
    call = Call(
        "category",
        INSTRUCTIONS,
        call_input(text, subject, channel, message_at),
        CATEGORY_SCHEMA,
        settings.ai_category_max_output_tokens,
        settings.ai_timeout_s,
    )
    try:
        answer = await bounded(target, settings, call, deadline.left())
        result = read_answer(answer.data, message_at, rules)
    except AiFailure as failure:
        log_failure("ai_categorise_failed", lead_id, failure, fallback="rules")
        return AiCategorised(rules, CategorySource.RULES, failure)
    return AiCategorised(
        replace(result, rule=PROMPT_VERSION), CategorySource.AI, None, answer.model
    )
