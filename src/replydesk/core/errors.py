"""Domain errors, independent of any transport.

Each error says what went wrong in the domain's terms and carries a stable ``code`` (the
public error code clients see). How an error becomes an HTTP answer is decided in one place,
``core/http.py``; whether a queue item that raised it is retried or dead, in one place too,
``queue/errors.py``.
"""

from __future__ import annotations

from typing import ClassVar


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


class ProviderFailure(ReplyDeskError):
    """A provider call failed. ``category`` tags logs and alerts (e.g. ``provider_auth``);
    ``retryable`` says whether trying again later can help."""

    code = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        category: str = "provider_error",
        retryable: bool = True,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.category = category
        self.retryable = retryable
