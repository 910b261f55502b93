"""Structured JSON from an OpenAI-compatible Responses API, through the official ``openai``
SDK over the outbound URL guard.

One call = ``generate``: up to ``ai_max_attempts`` tries for retryable failures (timeouts, a
hang cut by the per-call deadline, 429 — waiting its ``Retry-After`` when short — and 5xx)
with jittered backoff; a truncated answer (``status: "incomplete"``,
``incomplete_details.reason: "max_output_tokens"``) is never parsed: it is tried once more
with ``ai_truncation_retry_factor`` times the budget. Every failure is an ``AiFailure`` whose
``kind`` the caller turns into its fallback; its message names host, status and kind, never
the key, the prompt or the answer. The SDK's own retries are off (ours are bounded by the
settings and visible).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import openai

from replydesk.core.settings import Settings
from replydesk.core.urlguard import OutboundURLRefused, guarded_client


class FailureKind(StrEnum):
    TIMEOUT = "timeout"  # no answer within the call's deadline (a hang included)
    TRUNCATED = "truncated"  # max_output_tokens reached, even with the larger budget
    AUTH = "auth"  # 401/403: the key is wrong (the workspace integration's health)
    RATE_LIMITED = "rate_limited"  # 429 after the retries
    MALFORMED = "malformed"  # not JSON, or not the schema's JSON
    ERROR = "error"  # 5xx after the retries, other 4xx, connection errors, refused URL


RETRYABLE = frozenset({FailureKind.TIMEOUT, FailureKind.RATE_LIMITED, FailureKind.ERROR})


class AiFailure(Exception):
    def __init__(
        self, kind: FailureKind, message: str, *, attempts: int = 1, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind, self.message, self.attempts, self.status = kind, message, attempts, status
        self.retry_after: float | None = None


@dataclass(frozen=True)
class AiTarget:
    """Where and with what key a call goes (the key only ever in memory)."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    source: str  # "workspace" (PUT integrations/openai) | "instance" (REPLYDESK_AI_*)
    version: int | None = None  # the workspace credentials' version (their health)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc


@dataclass(frozen=True)
class AiAnswer:
    data: dict[str, Any]
    model: str
    input_tokens: int
    output_tokens: int
    elapsed_ms: int
    attempts: int


@dataclass(frozen=True)
class Call:
    """One structured request: the schema's ``name`` also names the call (``draft``,
    ``verdict``) for the simulator's fault switches."""

    name: str
    instructions: str
    input: str
    schema: dict[str, Any]
    max_output_tokens: int
    timeout_s: float
    max_attempts: int | None = None  # None: ai_max_attempts (a verifier tries once)


def _backoff(settings: Settings, attempt: int) -> float:
    cap = min(settings.ai_backoff_cap_s, settings.ai_backoff_base_s * 2 ** (attempt - 1))
    return random.uniform(cap / 2, cap)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    raw = exc.response.headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _read(target: AiTarget, call: Call, response: Any) -> dict[str, Any]:
    where = f"{target.host} POST /responses ({call.name})"
    status = getattr(response, "status", None)
    details = getattr(response, "incomplete_details", None)
    if status == "incomplete":
        reason = getattr(details, "reason", None) or "unknown"
        kind = FailureKind.TRUNCATED if reason == "max_output_tokens" else FailureKind.MALFORMED
        raise AiFailure(kind, f"{where}: incomplete answer ({reason})")
    if status not in (None, "completed"):
        raise AiFailure(FailureKind.ERROR, f"{where}: answer status {status}")
    text = getattr(response, "output_text", "") or ""
    try:
        data = json.loads(text)
    except ValueError:
        raise AiFailure(FailureKind.MALFORMED, f"{where}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise AiFailure(FailureKind.MALFORMED, f"{where}: the answer is not a JSON object")
    return data


def _failure(target: AiTarget, call: Call, exc: Exception) -> AiFailure:
    where = f"{target.host} POST /responses ({call.name})"
    if isinstance(exc, asyncio.TimeoutError | openai.APITimeoutError):
        return AiFailure(FailureKind.TIMEOUT, f"{where}: no answer within {call.timeout_s:g} s")
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code in (401, 403):
            failure = AiFailure(
                FailureKind.AUTH, f"{where} answered {code}: the API key was refused", status=code
            )
        elif code == 429:
            failure = AiFailure(
                FailureKind.RATE_LIMITED, f"{where} answered 429 (rate limited)", status=code
            )
            failure.retry_after = _retry_after(exc)
        elif code >= 500:
            failure = AiFailure(FailureKind.ERROR, f"{where} answered {code}", status=code)
        else:
            failure = AiFailure(
                FailureKind.MALFORMED, f"{where} answered {code} (request refused)", status=code
            )
        return failure
    if isinstance(exc, OutboundURLRefused):
        return AiFailure(FailureKind.ERROR, f"{where}: destination refused ({exc.message})")
    if isinstance(exc, openai.APIConnectionError):
        return AiFailure(FailureKind.ERROR, f"{where}: could not be reached")
    return AiFailure(FailureKind.MALFORMED, f"{where}: unreadable answer ({type(exc).__name__})")


async def _once(target: AiTarget, settings: Settings, call: Call, budget: int) -> Any:
    async with guarded_client(settings, timeout=call.timeout_s) as http:
        client = openai.AsyncOpenAI(
            api_key=target.api_key,
            base_url=target.base_url,
            # A legacy-httpx client is accepted by the SDK (it carries the URL guard).
            http_client=http,  # type: ignore[arg-type]
            max_retries=0,
            timeout=call.timeout_s,
        )
        # The SDK's timeout covers each read; wait_for also bounds a trickling answer.
        return await asyncio.wait_for(
            client.responses.create(
                model=target.model,
                instructions=call.instructions,
                input=call.input,
                max_output_tokens=budget,
                store=False,
                text={
                    "format": {
                        "type": "json_schema",
                        "name": call.name,
                        "schema": call.schema,
                        "strict": True,
                    }
                },
            ),
            timeout=call.timeout_s,
        )


async def generate(target: AiTarget, settings: Settings, call: Call) -> AiAnswer:
    """The call's JSON object, or ``AiFailure`` after the bounded retries."""
    started = time.monotonic()
    budget = call.max_output_tokens
    widened = False
    attempts = 0
    while True:
        attempts += 1
        try:
            response = await _once(target, settings, call, budget)
            data = _read(target, call, response)
        except Exception as exc:
            failure = exc if isinstance(exc, AiFailure) else _failure(target, call, exc)
            failure.attempts = attempts
            if failure.kind is FailureKind.TRUNCATED and not widened:
                widened = True
                budget = int(budget * settings.ai_truncation_retry_factor)
                continue
            limit = call.max_attempts or settings.ai_max_attempts
            if failure.kind not in RETRYABLE or attempts >= limit:
                raise failure from None
            wait = _backoff(settings, attempts)
            if failure.retry_after is not None:
                if failure.retry_after > settings.ai_retry_after_max_s:
                    raise failure from None
                wait = max(wait, failure.retry_after)
            await asyncio.sleep(wait)
            continue
        usage = getattr(response, "usage", None)
        return AiAnswer(
            data,
            str(getattr(response, "model", None) or target.model),
            int(getattr(usage, "input_tokens", 0) or 0),
            int(getattr(usage, "output_tokens", 0) or 0),
            int((time.monotonic() - started) * 1000),
            attempts,
        )
