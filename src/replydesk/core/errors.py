"""Domain errors, independent of any transport.

Each error says what went wrong in the domain's terms and carries a stable ``code`` (the
public error code clients see). How an error becomes an HTTP answer is decided in one place,
``core/http.py``; whether a queue item that raised it is retried or dead, in one place too,
``queue/errors.py``.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Any, ClassVar


class ReplyDeskError(Exception):
    """Base of every error raised on purpose. Unknown subclasses are treated as bugs."""

    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        # When the same request may succeed later (an outage, a rate limit).
        self.retry_after_s = retry_after_s
        # Extra response headers, set only by code at the HTTP edge (e.g. a cookie to clear).
        self.headers: dict[str, str] = {}


class MalformedInput(ReplyDeskError):
    """The input cannot be read at all (not JSON, a broken cursor, a bad header)."""

    code = "bad_request"


class InvalidInput(ReplyDeskError):
    """The input is readable but breaks a rule (a missing field, a value out of range)."""

    code = "validation_error"


class TooLarge(ReplyDeskError):
    code = "payload_too_large"


class UnsupportedFormat(ReplyDeskError):
    code = "unsupported_media_type"


class InputTimeout(ReplyDeskError):
    """The input did not arrive within its time budget."""

    code = "request_timeout"


class Unauthenticated(ReplyDeskError):
    code = "unauthorized"


class SignedOut(Unauthenticated):
    """No valid credential: the normal signed-out state, not an error anyone must fix."""

    code = "signed_out"


class PermissionDenied(ReplyDeskError):
    code = "forbidden"


class NotFound(ReplyDeskError):
    code = "not_found"


class Conflict(ReplyDeskError):
    code = "conflict"


class ConcurrentUpdate(ReplyDeskError):
    """Another transaction changed the same rows first; the same work succeeds when redone."""

    code = "concurrent_update"


class RateLimited(ReplyDeskError):
    code = "too_many_requests"


class Unavailable(ReplyDeskError):
    """A dependency (usually the database) is away; the same request may succeed later."""

    code = "service_unavailable"


class ProviderCategory(StrEnum):
    """What went wrong with a provider call, as logs, alerts, health and failed messages say it."""

    AUTH = "provider_auth"  # key wrong, revoked or for another host/workspace: fix credentials
    DISCONNECTED = "provider_disconnected"  # the account behind the key must be reconnected
    INVALID_RECIPIENT = "provider_invalid_recipient"  # this recipient cannot be reached
    RATE_LIMITED = "provider_rate_limited"  # wait (``retry_after_s``) and try again
    TIMEOUT = "provider_timeout"  # no answer in time
    ERROR = "provider_error"  # anything else the provider answered (5xx, 4xx, bad body)
    CLIENT_ABORT = "client_abort"  # we cancelled the call ourselves: not the provider's fault


class ProviderFailure(ReplyDeskError):
    """A provider call failed. ``category`` tags logs and alerts (e.g. ``provider_auth``);
    ``retryable`` says whether trying again later can help.

    The message names provider, host, endpoint, status and a remedy, never a credential.
    ``unknown_delivery`` is set when a send may have reached the provider (a timeout after the
    request left, an ambiguous 5xx): check the provider's state before sending again.
    """

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        category: str = ProviderCategory.ERROR,
        retryable: bool = True,
        retry_after_s: int | None = None,
        provider: str | None = None,
        host: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        provider_code: str | None = None,
        trace_id: str | None = None,
        unknown_delivery: bool = False,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.category = str(category)
        self.retryable = retryable
        self.provider = provider
        self.host = host
        self.endpoint = endpoint
        self.status = status
        # The provider's own error type, e.g. Unipile ``errors/disconnected_account``.
        self.provider_code = provider_code
        # GHL's ``traceId``: what their support asks for.
        self.trace_id = trace_id
        self.unknown_delivery = unknown_delivery


class ClientAbort(ProviderFailure, asyncio.CancelledError):
    """Our own side cancelled a provider call (a time budget, a shutdown). Still a
    ``CancelledError`` so cancellation propagates, and a ``ProviderFailure`` with category
    ``client_abort`` so it is never counted or retried as a provider timeout."""

    def __init__(self, message: str, **details: Any) -> None:
        details.setdefault("category", ProviderCategory.CLIENT_ABORT)
        super().__init__(message, **details)
