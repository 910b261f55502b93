"""The words of triage: input formats, categories, priorities."""

from __future__ import annotations

from enum import StrEnum


class InputFormat(StrEnum):
    VERCEL_CSV = "vercel_csv"  # a Vercel runtime-log export
    VERCEL_DRAIN = "vercel_drain"  # Vercel log-drain NDJSON
    REPLYDESK = "replydesk"  # our own structlog JSON lines


class Category(StrEnum):
    RUNTIME_TIMEOUT = "runtime_timeout"
    DB_TIMEOUT = "db_timeout"
    DB_POOL_WAIT = "db_pool_wait"
    DB_UNAVAILABLE = "db_unavailable"
    AUTH_SIGNED_OUT = "auth_signed_out"
    CLIENT_ABORT = "client_abort"
    AI_TIMEOUT = "ai_timeout"
    AI_TRUNCATED = "ai_truncated"
    PROVIDER_AUTH = "provider_auth"
    PROVIDER_DISCONNECTED = "provider_disconnected"
    PROVIDER_INVALID_RECIPIENT = "provider_invalid_recipient"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_ERROR = "provider_error"
    EXPECTED_SKIP = "expected_skip"
    OTHER = "other"


class Priority(StrEnum):
    P0 = "P0"  # takes the request path down
    P1 = "P1"  # degrades a feature or needs someone soon
    P2 = "P2"  # noise, background, or expected


class OutputFormat(StrEnum):
    TABLE = "table"
    MD = "md"
    JSON = "json"
