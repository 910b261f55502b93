"""The ``category`` of log lines: one vocabulary, the incident-triage taxonomy (issue 13).

Every error-level line carries a ``category`` from ``LogCategory`` (tests/core/test_log_categories
walks the code's log calls); the finer class that alerts, attempts and metrics use (queue
classes such as ``invalid_payload``, ``bug``, ``no_handler``) travels as ``error_class``.
``log_category`` maps those classes onto the taxonomy; ``exception_category`` reads an
exception. A processor (``core/logging.py``) gives error lines of other libraries (uvicorn,
SQLAlchemy) a category too.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

from sqlalchemy import exc as sa_exc

from replydesk.core.db_errors import QUERY_CANCELED, is_database_unavailable, sqlstate


class LogCategory(StrEnum):
    RUNTIME_TIMEOUT = "runtime_timeout"  # a task, item or request ran out of its time budget
    DB_TIMEOUT = "db_timeout"  # statement timeout (SQLSTATE 57014)
    DB_POOL_WAIT = "db_pool_wait"  # waiting for a connection or a transaction slot
    DB_UNAVAILABLE = "db_unavailable"  # the database cannot be reached
    AUTH_SIGNED_OUT = "auth_signed_out"  # missing or expired sessions and refresh tokens
    CLIENT_ABORT = "client_abort"  # the caller (or our own budget) gave up
    AI_TIMEOUT = "ai_timeout"
    AI_TRUNCATED = "ai_truncated"  # max output tokens reached, incomplete answer
    PROVIDER_AUTH = "provider_auth"
    PROVIDER_DISCONNECTED = "provider_disconnected"
    PROVIDER_INVALID_RECIPIENT = "provider_invalid_recipient"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_ERROR = "provider_error"
    EXPECTED_SKIP = "expected_skip"  # an expected no-op that still deserves a line
    OTHER = "other"


CATEGORIES = frozenset(c.value for c in LogCategory)

# Finer error classes (queue/errors.classify, provider categories, config problems) → the
# taxonomy. Classes not listed map to ``other``.
ERROR_CLASS_CATEGORY: dict[str, LogCategory] = {
    "timeout": LogCategory.RUNTIME_TIMEOUT,
    "lease_expired": LogCategory.RUNTIME_TIMEOUT,
    "db_timeout": LogCategory.DB_TIMEOUT,
    "db_pool_wait": LogCategory.DB_POOL_WAIT,
    "db_unavailable": LogCategory.DB_UNAVAILABLE,
    "transient": LogCategory.OTHER,
    "provider_timeout": LogCategory.PROVIDER_ERROR,
    "destination_refused": LogCategory.PROVIDER_ERROR,
    "rate_limited": LogCategory.PROVIDER_RATE_LIMITED,
    "unauthenticated": LogCategory.AUTH_SIGNED_OUT,
    "signed_out": LogCategory.AUTH_SIGNED_OUT,
}


def log_category(error_class: str | None) -> LogCategory:
    """The taxonomy category of a finer error class (a taxonomy word maps to itself)."""
    if error_class is None:
        return LogCategory.OTHER
    if error_class in CATEGORIES:
        return LogCategory(error_class)
    return ERROR_CLASS_CATEGORY.get(error_class, LogCategory.OTHER)


def exception_category(exc: BaseException) -> LogCategory:
    """The taxonomy category of an exception: database timeouts, pool waits and outages,
    time budgets and cancellations are told apart; anything else is ``other``."""
    if sqlstate(exc) == QUERY_CANCELED:
        return LogCategory.DB_TIMEOUT
    if isinstance(exc, sa_exc.TimeoutError):  # the pool's checkout timeout
        return LogCategory.DB_POOL_WAIT
    category = getattr(exc, "category", None)
    if isinstance(category, str):
        return log_category(category)
    if isinstance(exc, asyncio.CancelledError):
        return LogCategory.CLIENT_ABORT
    if is_database_unavailable(exc, raised_by_database=True):
        return LogCategory.DB_UNAVAILABLE
    if isinstance(exc, TimeoutError):
        return LogCategory.RUNTIME_TIMEOUT
    return LogCategory.OTHER
