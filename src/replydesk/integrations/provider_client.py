"""What every provider API client shares: timeouts, the retry matrix and typed failures.

A provider client (``integrations/<provider>/client.py``) describes each operation as a
``Call`` (method, path, endpoint name, whether it is safe to repeat) and turns a non-2xx answer
into one ``ProviderFailure`` (``failure_for``). This module sends it:

- every attempt has explicit connect/read timeouts (sends a longer read timeout);
- reads and idempotent calls are retried on timeouts, transport errors, 5xx and 429 (waiting
  ``Retry-After`` when the provider sends one) with full-jitter backoff, within a total budget;
- sends are never retried once the request may have left: a timeout or an ambiguous answer
  raises ``provider_timeout`` with ``unknown_delivery`` set, so the caller checks the
  provider's state (each client has a ``find_…`` read for that) before it sends again;
- our own cancellation raises ``ClientAbort`` (category ``client_abort``), never retried.

Error texts name provider, host, endpoint (the path template, never ids or a webhook path),
status and a remedy; the credential is scrubbed from anything quoted from a provider.
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from replydesk.core.errors import ClientAbort, ProviderCategory, ProviderFailure
from replydesk.core.log_categories import log_category
from replydesk.core.logging import get_logger
from replydesk.core.metrics import metrics
from replydesk.core.redact import MASK, redact_text
from replydesk.core.settings import Settings

log = get_logger(__name__)

# How much of a provider's own error text a failure message quotes.
_QUOTE_LIMIT = 300


@dataclass(frozen=True)
class CallPolicy:
    """Timeouts and retry limits of provider calls (``REPLYDESK_PROVIDER_*`` settings)."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    send_timeout_s: float = 30.0
    budget_s: float = 30.0
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    retry_after_max_s: float = 20.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CallPolicy:
        return cls(
            connect_timeout_s=settings.provider_connect_timeout_s,
            read_timeout_s=settings.provider_read_timeout_s,
            send_timeout_s=settings.provider_send_timeout_s,
            budget_s=settings.provider_retry_budget_s,
            max_attempts=settings.provider_retry_max_attempts,
            backoff_base_s=settings.provider_retry_backoff_base_s,
            backoff_cap_s=settings.provider_retry_backoff_cap_s,
            retry_after_max_s=settings.provider_retry_after_max_s,
        )

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Call:
    """One provider operation. ``endpoint`` is the path template ("POST /api/replies/{id}/reply")
    used in error texts and logs; ``idempotent`` says whether repeating it is harmless."""

    method: str
    path: str
    endpoint: str
    idempotent: bool
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """How a provider's status (or error type) reads: category, what happened, the remedy."""

    category: str
    what: str
    remedy: str


@dataclass(frozen=True)
class Answer:
    """A non-2xx answer, as ``failure_for`` sees it."""

    call: Call
    status: int
    headers: httpx.Headers
    text: str
    body: Any  # parsed JSON, or None when the body is not JSON

    def field(self, *names: str) -> str | None:
        """The first string (or number) field of a JSON object body among ``names``."""
        if isinstance(self.body, Mapping):
            for name in names:
                value = self.body.get(name)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    return str(value)
        return None


def retry_after_s(headers: httpx.Headers) -> int | None:
    """``Retry-After`` in whole seconds (delta-seconds or an HTTP date), None when absent."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return int(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0, int(when.timestamp() - time.time() + 0.999))


class ProviderClient(ABC):
    """Base of the provider clients. Subclasses set ``provider``, ``auth_headers`` and
    ``failure_for``; ``http`` is any ``httpx.AsyncClient`` (e.g. the outbound URL guard's), so
    its transport is used as it is and only timeouts are set per call."""

    provider: ClassVar[str]
    # Whether a 429 is waited out inside a call (Unipile's 429 means "stop for a long time").
    hot_retry_rate_limits: ClassVar[bool] = True

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        http: httpx.AsyncClient | None = None,
        policy: CallPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).netloc.decode("ascii")
        self._api_key = api_key
        self.policy = policy or CallPolicy()
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(follow_redirects=False)

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- provider specifics ---------------------------------------------------------------

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """The provider's credential headers for every call."""

    @abstractmethod
    def failure_for(self, answer: Answer) -> ProviderFailure:
        """The typed failure of a non-2xx answer."""

    def url_for(self, call: Call) -> str:
        return self.base_url + call.path

    def secrets(self) -> list[str]:
        """Strings never to quote (longest first)."""
        return [self._api_key] if self._api_key else []

    # --- building failures ----------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """Provider text as it may be quoted: the key removed, secrets and PII redacted."""
        for secret in self.secrets():
            text = text.replace(secret, MASK)
        text = redact_text(text)
        return text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"

    def failure(
        self,
        call: Call,
        category: str,
        what: str,
        remedy: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        **details: Any,
    ) -> ProviderFailure:
        status_text = f" answered {status}" if status is not None else ""
        message = f"{self.provider} {call.endpoint} on {self.host}{status_text}: {what} — {remedy}"
        trace_id = details.get("trace_id")
        if trace_id:
            message += f" (traceId {trace_id})"
        return ProviderFailure(
            message,
            category=category,
            retryable=retryable,
            provider=self.provider,
            host=self.host,
            endpoint=call.endpoint,
            status=status,
            **details,
        )

    def quoted(self, answer: Answer, *names: str) -> str:
        """The provider's own explanation (a JSON field, else the text), scrubbed."""
        text = answer.field(*names) or answer.text.strip() or "no body"
        return self.scrub(text)

    def refused(
        self, answer: Answer, refusal: Refusal, said: str, **details: Any
    ) -> ProviderFailure:
        """A permanent (not retryable) failure from a ``Refusal`` row."""
        return self.failure(
            answer.call,
            refusal.category,
            f"{refusal.what} ({said})",
            refusal.remedy,
            status=answer.status,
            **details,
        )

    def generic_failure(self, answer: Answer, what: str, **details: Any) -> ProviderFailure:
        """The categories every provider shares for statuses without a specific meaning."""
        status, call = answer.status, answer.call
        if status == 429:
            wait = retry_after_s(answer.headers)
            return self.failure(
                call,
                ProviderCategory.RATE_LIMITED,
                f"rate limited ({what})",
                "wait for Retry-After before calling again",
                status=status,
                retryable=True,
                retry_after_s=wait,
                **details,
            )
        if status >= 500:
            return self.failure(
                call,
                ProviderCategory.ERROR,
                f"server error ({what})",
                "transient on the provider's side; retried with backoff",
                status=status,
                retryable=True,
                retry_after_s=retry_after_s(answer.headers),
                **details,
            )
        return self.failure(
            call,
            ProviderCategory.ERROR,
            f"refused ({what})",
            "the request was rejected as sent; fix it before trying again",
            status=status,
            **details,
        )

    # --- sending ----------------------------------------------------------------------------

    async def send(self, call: Call) -> httpx.Response:
        """The 2xx response of ``call``, or one ``ProviderFailure`` after the retry matrix.
        Every call is counted here (the one metrics hook of provider calls)."""
        started = time.monotonic()
        outcome = "other"
        try:
            response = await self._send(call)
            outcome = "ok"
            return response
        except ProviderFailure as failure:
            outcome = failure.category
            raise
        except asyncio.CancelledError:
            outcome = ProviderCategory.CLIENT_ABORT
            raise
        finally:
            m = metrics()
            m.provider_calls.labels(self.provider, call.endpoint, outcome).inc()
            m.provider_call_duration.labels(self.provider, call.endpoint).observe(
                time.monotonic() - started
            )

    async def _send(self, call: Call) -> httpx.Response:
        policy = self.policy
        deadline = time.monotonic() + policy.budget_s
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            outcome = await self._attempt(call, max(0.05, remaining))
            if isinstance(outcome, httpx.Response):
                return outcome
            failure, reached = outcome
            delay = self._retry_delay(call, failure, attempt, reached=reached)
            if delay is None or time.monotonic() + delay >= deadline:
                self._log("provider_call_failed", call, failure, attempts=attempt)
                raise failure
            self._log(
                "provider_call_retry", call, failure, attempt=attempt, delay_s=round(delay, 3)
            )
            await asyncio.sleep(delay)

    def _log(self, event: str, call: Call, failure: ProviderFailure, **extra: Any) -> None:
        # Info, not warning: the caller decides whether the failure is someone's problem.
        log.info(
            event,
            provider=self.provider,
            endpoint=call.endpoint,
            host=self.host,
            status=failure.status,
            category=log_category(failure.category),
            error_class=failure.category,
            **extra,
        )

    def _retry_delay(
        self, call: Call, failure: ProviderFailure, attempt: int, *, reached: bool
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the failure is final.
        ``reached``: the request may have reached the provider (a send is then never
        repeated)."""
        if attempt >= self.policy.max_attempts or not failure.retryable:
            return None
        if reached and not call.idempotent:
            return None
        if failure.category == ProviderCategory.RATE_LIMITED:
            if not self.hot_retry_rate_limits:
                return None
            wait = failure.retry_after_s
            if wait is not None:
                return float(wait) if wait <= self.policy.retry_after_max_s else None
            return self.policy.backoff_s(attempt)
        if failure.category in (ProviderCategory.TIMEOUT, ProviderCategory.ERROR):
            if failure.retry_after_s is not None:
                hint = float(failure.retry_after_s)
                return hint if hint <= self.policy.retry_after_max_s else None
            return self.policy.backoff_s(attempt)
        return None

    async def _attempt(
        self, call: Call, remaining_s: float
    ) -> httpx.Response | tuple[ProviderFailure, bool]:
        """The 2xx response, or the failure and whether the request may have reached the
        provider."""
        policy = self.policy
        read = policy.read_timeout_s if call.idempotent else policy.send_timeout_s
        timeout = httpx.Timeout(
            connect=min(policy.connect_timeout_s, remaining_s),
            read=min(read, remaining_s),
            write=min(read, remaining_s),
            pool=min(policy.connect_timeout_s, remaining_s),
        )
        headers = {"Accept": "application/json", **self.auth_headers(), **call.headers}
        try:
            response = await self.http.request(
                call.method,
                self.url_for(call),
                params=call.params,
                json=call.json,
                data=call.data,
                headers=headers,
                timeout=timeout,
            )
        except asyncio.CancelledError as exc:
            raise ClientAbort(
                f"{self.provider} {call.endpoint} on {self.host}: cancelled by us before an "
                "answer — not a provider failure"
                + ("; the send may have been delivered" if not call.idempotent else ""),
                provider=self.provider,
                host=self.host,
                endpoint=call.endpoint,
                unknown_delivery=not call.idempotent,
            ) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing left our side: safe to try again even for a send.
            return self.failure(
                call,
                ProviderCategory.TIMEOUT
                if isinstance(exc, httpx.TimeoutException)
                else ProviderCategory.ERROR,
                f"cannot connect ({type(exc).__name__})",
                "check the configured host; retried with backoff",
                retryable=True,
            ), False
        except httpx.TransportError as exc:
            # A read timeout or a connection lost mid-call: the request may have arrived.
            timed_out = isinstance(exc, httpx.TimeoutException)
            return self.failure(
                call,
                ProviderCategory.TIMEOUT if timed_out else ProviderCategory.ERROR,
                f"{'no answer in time' if timed_out else 'connection failed'} "
                f"({type(exc).__name__})",
                "retried with backoff"
                if call.idempotent
                else "the send may have been delivered: check before sending again",
                retryable=True,
                unknown_delivery=not call.idempotent,
            ), True
        if response.is_success:
            return response
        return self.failure_for(_answer(call, response)), True


def _answer(call: Call, response: httpx.Response) -> Answer:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    return Answer(call, response.status_code, response.headers, response.text, body)


def json_body(client: ProviderClient, call: Call, response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; a body that is not JSON is a ``provider_error``."""
    try:
        return response.json()
    except ValueError:
        raise client.failure(
            call,
            ProviderCategory.ERROR,
            "answered 2xx with a body that is not JSON",
            "the host may not be this provider's API; check the configured base URL",
            status=response.status_code,
        ) from None
