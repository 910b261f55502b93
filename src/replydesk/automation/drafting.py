"""Writing one draft: generate (AI, else the template) → deterministic post-pass → best-effort
verifier. No database here: the ``draft.generate`` job reads the inputs before and stores the
result after (``drafts``), so no transaction is held across a call.

What must never happen again (the seeds' incidents): a verifier that times out or hits
``max_output_tokens`` discarding the draft. Here the verifier only ever *labels* a draft
(``passed | failed | skipped | timeout | truncated``); the draft is kept whatever it says.
Every fallback is visible: ``source`` is ``template`` and ``notes`` say why.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from replydesk.automation.schemas import AutomationSettingsIn
from replydesk.automation.templates import meeting_block, template_draft
from replydesk.automation.vocabulary import DraftSource, VerifierStatus
from replydesk.core.log_categories import LogCategory, log_category
from replydesk.core.logging import get_logger
from replydesk.core.settings import Settings
from replydesk.integrations.ai.client import AiFailure, AiTarget, Call, FailureKind, generate
from replydesk.leads.context import LeadContext
from replydesk.leads.vocabulary import Channel, Direction, LeadCategory

log = get_logger(__name__)

PROMPT_VERSION = "draft-v1"
VERIFIER_VERSION = "verify-v1"
TEMPLATE_VERSION = "template-v1"
# Of the worker's item budget, what the AI calls of one draft may take (the rest: the reads
# before, the insert after); the verifier keeps at least its share.
AI_SHARE = 0.75
SMS_MAX_LENGTH = 480

DRAFT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"subject": {"type": ["string", "null"]}, "body": {"type": "string"}},
    "required": ["subject", "body"],
    "additionalProperties": False,
}
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "notes": {"type": "string"},
    },
    "required": ["verdict", "notes"],
    "additionalProperties": False,
}
DRAFT_INSTRUCTIONS = """You write the reply of a sales team member to a prospect's message.
The input is JSON: the prospect (lead), the workspace's persona, offer and signature, the
category of the prospect's last message and the thread (oldest first).
Rules: answer the last message of the lead, in the lead's language; be brief and concrete;
for a meeting request offer the open_slots given (and the booking_url when there is one);
greet the lead by their first name when it is known; never use placeholders such as
{first_name} or [Name]; promise nothing the offer does not say; end with the signature when one
is given. Answer with JSON {"subject": null or a subject line, "body": the reply text}."""
VERIFIER_INSTRUCTIONS = """You check a drafted sales reply before a human reviews it.
The input is JSON: the offer, the lead's last message and the draft. Fail the draft when it
promises something the offer does not make, contradicts the lead's message, is rude, or
answers a different question. Answer with JSON {"verdict": "pass" or "fail", "notes": why}."""

_PLACEHOLDER = re.compile(r"\{\{?\s*[A-Za-z_][\w .]*\}\}?|\[(?:[A-Z][\w ]{1,30})\]")
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear|hallo|bonjour|hola)\s+([^\s,!.]+)", re.I)
# Each failure kind's taxonomy word (core/log_categories.py).
_KIND_CATEGORY = {
    FailureKind.TIMEOUT: LogCategory.AI_TIMEOUT.value,
    FailureKind.TRUNCATED: LogCategory.AI_TRUNCATED.value,
    FailureKind.AUTH: LogCategory.PROVIDER_AUTH.value,
    FailureKind.RATE_LIMITED: LogCategory.PROVIDER_RATE_LIMITED.value,
    FailureKind.ERROR: LogCategory.PROVIDER_ERROR.value,
    FailureKind.MALFORMED: LogCategory.OTHER.value,
}


@dataclass(frozen=True)
class DraftRequest:
    lead_id: int
    message_id: int
    channel: Channel
    subject: str | None
    category: LeadCategory | None
    confidence: float | None
    context: LeadContext
    automation: AutomationSettingsIn
    # Meeting requests: the slots offered (UTC), as the draft says them, and the booking link.
    slots: list[datetime] = field(default_factory=list)
    slot_labels: list[str] = field(default_factory=list)
    booking_url: str | None = None

    @property
    def meeting(self) -> str | None:
        if self.category is not LeadCategory.MEETING_REQUEST:
            return None
        return meeting_block(self.slot_labels, self.booking_url)


@dataclass
class Drafted:
    subject: str | None
    body: str
    generated_body: str
    source: DraftSource
    verifier_status: VerifierStatus
    notes: list[str]
    prompt_version: str
    context_hash: str
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    timings: dict[str, int] = field(default_factory=dict)
    # The first failure a workspace AI integration's health should hear about (401 → auth).
    failure: AiFailure | None = None
    ai_ok: bool = False


def context_json(request: DraftRequest) -> str:
    """What the model reads (and what the context hash is of): bounded by the context read."""
    ctx, ws = request.context, request.automation
    thread = [
        {
            "from": "lead" if m.direction == Direction.INBOUND else "us",
            "channel": m.channel,
            "at": m.occurred_at.isoformat(),
            "subject": m.subject,
            "text": m.text,
        }
        for m in ctx.thread
    ]
    data = {
        "category": request.category.value if request.category else None,
        "channel": request.channel.value,
        "subject": request.subject,
        "lead": {
            "first_name": ctx.first_name,
            "last_name": ctx.last_name,
            "company": ctx.company,
            "title": ctx.title,
        },
        "workspace": {"persona": ws.persona, "offer": ws.offer, "signature": ws.signature},
        "thread": thread,
        "open_slots": request.slot_labels,
        "booking_url": request.booking_url,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _log_failure(request: DraftRequest, stage: str, failure: AiFailure) -> None:
    """One line per failure class, at warning, with the lead id only (no text, no key)."""
    log.warning(
        f"ai_{stage}_failed",
        category=log_category(_KIND_CATEGORY[failure.kind]),
        error_class=failure.kind.value,
        lead_id=request.lead_id,
        attempts=failure.attempts,
        status=failure.status,
    )


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


async def _bounded(target: AiTarget, settings: Settings, call: Call, seconds: float) -> Any:
    """``generate`` within ``seconds`` in all (its retries included): a timeout past it."""
    if seconds <= 0.05:
        raise AiFailure(FailureKind.TIMEOUT, f"{target.host}: no time left for the {call.name}")
    try:
        return await asyncio.wait_for(generate(target, settings, call), timeout=seconds)
    except TimeoutError:
        raise AiFailure(
            FailureKind.TIMEOUT, f"{target.host}: the {call.name} ran past {seconds:.1f} s"
        ) from None


async def write_draft(
    request: DraftRequest,
    target: AiTarget | None,
    settings: Settings,
    *,
    why_no_ai: str | None = None,
) -> Drafted:
    ctx_text = context_json(request)
    digest = hashlib.sha256(ctx_text.encode()).hexdigest()
    deadline = _Deadline(settings.worker_item_budget_s * AI_SHARE)
    verifier_reserve = min(settings.ai_verifier_timeout_s, deadline.left() / 3)
    notes: list[str] = []
    drafted = Drafted(
        request.subject,
        "",
        "",
        DraftSource.TEMPLATE,
        VerifierStatus.SKIPPED,
        notes,
        TEMPLATE_VERSION,
        digest,
    )
    if target is not None:
        started = time.monotonic()
        call = Call(
            "draft",
            DRAFT_INSTRUCTIONS,
            ctx_text,
            DRAFT_SCHEMA,
            settings.ai_max_output_tokens,
            settings.ai_timeout_s,
        )
        try:
            answer = await _bounded(target, settings, call, deadline.left() - verifier_reserve)
            body = answer.data.get("body")
            subject = answer.data.get("subject")
            if not isinstance(body, str) or not body.strip():
                raise AiFailure(FailureKind.MALFORMED, "the draft answer has no body")
            drafted.body = body.strip()
            if isinstance(subject, str) and subject.strip() and request.channel is Channel.EMAIL:
                drafted.subject = request.subject or subject.strip()
            drafted.source, drafted.prompt_version = DraftSource.AI, PROMPT_VERSION
            drafted.model = answer.model
            drafted.input_tokens, drafted.output_tokens = answer.input_tokens, answer.output_tokens
            drafted.ai_ok = True
        except AiFailure as failure:
            _log_failure(request, "draft", failure)
            drafted.failure = failure
            notes.append(
                f"template fallback: the AI draft failed ({failure.kind.value} after "
                f"{failure.attempts} attempt(s))"
            )
        drafted.timings["generate_ms"] = int((time.monotonic() - started) * 1000)
    else:
        notes.append(f"template: {why_no_ai or 'no AI provider is configured'}")
    if drafted.source is DraftSource.TEMPLATE:
        drafted.body = template_draft(
            request.category,
            request.channel,
            request.context.first_name,
            offer=request.automation.offer,
            signature=request.automation.signature,
            meeting=request.meeting,
        )
    drafted.generated_body = drafted.body
    problems = post_pass(drafted, request, settings)
    if problems:
        drafted.verifier_status = VerifierStatus.FAILED
        notes.extend(problems)
        return drafted
    if drafted.source is DraftSource.TEMPLATE or target is None:
        notes.append("verifier skipped: deterministic checks passed; no AI verdict on a template")
        return drafted
    await _verify(drafted, request, target, settings, deadline)
    return drafted


def post_pass(drafted: Drafted, request: DraftRequest, settings: Settings) -> list[str]:
    """Deterministic checks and fixes; what is wrong (empty: the draft may go to the AI
    verifier). Banned phrases are removed (noted); the rest fails the draft."""
    problems: list[str] = []
    body = drafted.body
    for phrase in request.automation.banned_phrases:
        pattern = re.compile(re.escape(phrase), re.I)
        if pattern.search(body):
            body = pattern.sub("", body)
            drafted.notes.append(f"removed a banned phrase: {phrase!r}")
    body = re.sub(r"[ \t]{2,}", " ", body).strip()
    meeting = request.meeting
    if meeting and not _offers_a_time(body, request):
        # A meeting request is answered with times: the slots and link are added, not hoped for.
        body = _before_signature(body, meeting, request.automation.signature)
        drafted.notes.append("added the open slots and booking link to the meeting request")
    drafted.body = body
    if not body:
        problems.append("the draft is empty")
    limit = SMS_MAX_LENGTH if request.channel is Channel.SMS else settings.draft_body_max_length
    if len(body) > limit:
        problems.append(f"the draft is too long ({len(body)} characters, at most {limit})")
    found = _PLACEHOLDER.search(body)
    if found:
        problems.append(f"a placeholder is left in the draft: {found.group(0)}")
    first = (request.context.first_name or "").strip()
    greeting = _GREETING.search(body)
    if first and greeting and greeting.group(1).lower() not in (first.lower(), "there"):
        problems.append("the draft greets someone else than the lead's first name")
    if request.context.unsubscribed:
        problems.append("the lead unsubscribed: nothing may be sent to them")
    return problems


def _offers_a_time(body: str, request: DraftRequest) -> bool:
    if request.booking_url and request.booking_url in body:
        return True
    return any(label.split(", ")[-1].split("-")[0] in body for label in request.slot_labels)


def _before_signature(body: str, block: str, signature: str | None) -> str:
    sig = (signature or "").strip()
    if sig and body.endswith(sig):
        head = body[: -len(sig)].rstrip()
        return f"{head}\n\n{block}\n\n{sig}"
    return f"{body}\n\n{block}"


async def _verify(
    drafted: Drafted,
    request: DraftRequest,
    target: AiTarget,
    settings: Settings,
    deadline: _Deadline,
) -> None:
    """The best-effort AI verdict, time-boxed and tried once (a truncation once more with a
    larger budget): its failure labels the draft, never drops it."""
    last_inbound = next(
        (m.text for m in reversed(request.context.thread) if m.direction == Direction.INBOUND), ""
    )
    verify_input = json.dumps(
        {"offer": request.automation.offer, "lead_message": last_inbound, "draft": drafted.body},
        ensure_ascii=False,
    )
    timeout = min(settings.ai_verifier_timeout_s, deadline.left())
    call = Call(
        "verdict",
        VERIFIER_INSTRUCTIONS,
        verify_input,
        VERDICT_SCHEMA,
        settings.ai_verifier_max_output_tokens,
        timeout,
        max_attempts=1,
    )
    started = time.monotonic()
    try:
        # Room for the truncation retry, never past the draft's deadline.
        answer = await _bounded(target, settings, call, min(timeout * 2 + 0.5, deadline.left()))
    except AiFailure as failure:
        _log_failure(request, "verifier", failure)
        if failure.kind is FailureKind.TIMEOUT:
            drafted.verifier_status = VerifierStatus.TIMEOUT
            drafted.notes.append("verifier timed out: the draft is kept for review")
        elif failure.kind is FailureKind.TRUNCATED:
            drafted.verifier_status = VerifierStatus.TRUNCATED
            drafted.notes.append("verifier hit max_output_tokens: the draft is kept for review")
        else:
            drafted.verifier_status = VerifierStatus.SKIPPED
            drafted.notes.append(f"verifier skipped: {failure.kind.value}")
            if drafted.failure is None:
                drafted.failure = failure
        drafted.timings["verify_ms"] = int((time.monotonic() - started) * 1000)
        return
    drafted.timings["verify_ms"] = int((time.monotonic() - started) * 1000)
    if drafted.input_tokens is not None:
        drafted.input_tokens += answer.input_tokens
    if drafted.output_tokens is not None:
        drafted.output_tokens += answer.output_tokens
    verdict = answer.data.get("verdict")
    said = answer.data.get("notes")
    note = said.strip()[:500] if isinstance(said, str) and said.strip() else ""
    if verdict == "pass":
        drafted.verifier_status = VerifierStatus.PASSED
        drafted.notes.append(
            f"verifier ({VERIFIER_VERSION}) passed" + (f": {note}" if note else "")
        )
    elif verdict == "fail":
        drafted.verifier_status = VerifierStatus.FAILED
        drafted.notes.append(
            f"verifier ({VERIFIER_VERSION}) failed" + (f": {note}" if note else "")
        )
    else:
        drafted.verifier_status = VerifierStatus.SKIPPED
        drafted.notes.append("verifier skipped: its answer had no verdict")
