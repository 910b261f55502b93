"""How a failed item is classified: permanent (dead at once) or retryable (back off).

The one place where domain errors (``core.errors``) meet the queue: handlers raise what the
domain says went wrong, and ``classify`` decides whether trying again can help.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DataError, DBAPIError

from replydesk.core import errors
from replydesk.core.db_errors import describe_database_error, sqlstate
from replydesk.core.redact import MASK, safe_error_text

# Phone numbers in E.164 form, as PostgreSQL quotes them in constraint errors on leads.
_PHONE = re.compile(r"\+\d{8,15}\b")


class QueueError(Exception):
    """Base of errors handlers raise on purpose; ``category`` tags logs and alerts."""

    category = "handler_error"
    permanent = False

    def __init__(self, message: str, *, category: str | None = None) -> None:
        super().__init__(message)
        if category is not None:
            self.category = category


class PermanentError(QueueError):
    """The item can never succeed as it is (e.g. a payload missing a required field)."""

    category = "invalid_payload"
    permanent = True


class RetryableError(QueueError):
    """A transient condition (e.g. a race or an unavailable dependency): try again later."""

    category = "transient"


class LeaseLost(Exception):
    """The item's lease expired and it was handed to another worker: roll back, do nothing."""


# Domain errors that say the item itself is wrong: retrying the same item cannot help.
PERMANENT_DOMAIN_ERRORS: dict[type[errors.ReplyDeskError], str] = {
    errors.InvalidInput: "invalid_payload",
    errors.MalformedInput: "invalid_payload",
    errors.TooLarge: "invalid_payload",
    errors.UnsupportedFormat: "invalid_payload",
    errors.NotFound: "not_found",
    errors.Conflict: "conflict",
    errors.Unauthenticated: "unauthenticated",
    errors.PermissionDenied: "forbidden",
}
# Domain errors that say "not now": back off and try again.
RETRYABLE_DOMAIN_ERRORS: dict[type[errors.ReplyDeskError], str] = {
    errors.Unavailable: "transient",
    errors.RateLimited: "rate_limited",
    errors.InputTimeout: "timeout",
    errors.ConcurrentUpdate: "db_conflict",
}


def _domain(exc: errors.ReplyDeskError) -> tuple[bool, str]:
    if isinstance(exc, errors.ProviderFailure):
        return not exc.retryable, exc.category
    for cls in type(exc).__mro__:
        if cls in PERMANENT_DOMAIN_ERRORS:
            return True, PERMANENT_DOMAIN_ERRORS[cls]
        if cls in RETRYABLE_DOMAIN_ERRORS:
            return False, RETRYABLE_DOMAIN_ERRORS[cls]
    return False, "bug"


def _is_data_exception(exc: BaseException) -> bool:
    """SQLSTATE class 22, data exception: 22003 numeric_value_out_of_range, 22008
    datetime_field_overflow, 22007 invalid_datetime_format, 22P02 invalid_text_representation,
    22021 … and 22000, which asyncpg reports for an argument it cannot encode (an int beyond
    int64, a datetime before year 1 in UTC). The asyncpg dialect raises these as a plain
    DBAPIError, not DataError, hence the SQLSTATE."""
    state = sqlstate(exc)
    return state is not None and state.startswith("22")


def classify(exc: BaseException) -> tuple[bool, str]:
    """``(permanent, category)`` of a handler failure. Unknown exceptions are retried: a fix
    may be deployed before the attempts run out, and they still end dead with an alert."""
    if isinstance(exc, QueueError):
        return exc.permanent, exc.category
    if isinstance(exc, errors.ReplyDeskError):
        return _domain(exc)
    if isinstance(exc, TimeoutError):
        return False, "timeout"
    if isinstance(exc, DataError) or _is_data_exception(exc):
        # A value PostgreSQL refuses (out of range, bad format): retrying cannot help.
        return True, "invalid_payload"
    if isinstance(exc, DBAPIError):
        return False, "db_error"
    return False, "bug"


def error_text(exc: BaseException) -> str:
    """What is stored in ``last_error`` (and the attempt history) and logged.

    A database error is told by its classes, SQLSTATE and constraint/table/column names only
    (``core.db_errors.describe_database_error``): its text carries the statement's parameters
    and the offending values. Anything else is our own message, redacted (secrets, e-mail
    addresses and phone numbers masked) and truncated."""
    described = describe_database_error(exc)
    if described is not None:
        return described
    return _PHONE.sub(MASK, safe_error_text(exc))
