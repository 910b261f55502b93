"""Masking of secrets and PII before anything reaches a log line or a stored error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"

# Keys whose values are secret whatever they look like.
_SECRET_KEY = re.compile(
    r"(token|secret|password|passwd|api[_-]?key|authorization|cookie|signature|session|dsn|credential)",
    re.IGNORECASE,
)

_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization headers and bearer tokens anywhere in text.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=|-]+"), r"\1 " + MASK),
    # Our own tokens (webhook, personal, session).
    (re.compile(r"\brd[a-z]_[A-Za-z0-9_-]{8,}"), MASK),
    # OpenAI/Slack style keys and Slack webhook paths.
    (re.compile(r"\b(sk|xox[abprs])-[A-Za-z0-9-]{8,}"), MASK),
    (re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]+"), "hooks.slack.com/services/" + MASK),
    # The same webhook path behind any host (a proxy, the provider simulator).
    (re.compile(r"/services/T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+"), "/services/" + MASK),
    # key=value secrets in URLs, query strings and connection strings.
    (
        re.compile(r"(?i)\b(token|api_key|apikey|key|password|secret|signature)=([^&\s\"']+)"),
        r"\1=" + MASK,
    ),
    # Passwords inside URLs: scheme://user:password@host
    (re.compile(r"(://[^:/\s@]+):([^@\s/]+)@"), r"\1:" + MASK + "@"),
    # E-mail local parts: keep the first character and the domain.
    (
        re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b"),
        r"\1***@\2",
    ),
)


# A run of token alphabet long enough to be a credential. It is masked when it mixes upper
# case, lower case and digits (random tokens do; UUIDs, hex digests, words and paths do not).
_TOKEN_SHAPED = re.compile(r"[A-Za-z0-9_\-|~+=]{20,}")


def _mask_if_random(match: re.Match[str]) -> str:
    run = match.group(0)
    mixed = (
        any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and any(c.isdigit() for c in run)
    )
    return MASK if mixed else run


def mask_token_shaped(text: str) -> str:
    """Mask anything that looks like a random token, whatever its prefix: for values that
    are ids by design (``workspace_id``, a URL path) into which a client may paste a secret."""
    return _TOKEN_SHAPED.sub(_mask_if_random, redact_text(text))


def redact_text(text: str) -> str:
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str | None, value: Any) -> Any:
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", False):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(None, v) for v in value]
    return value


def redact_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: redact_value(k, v) for k, v in data.items()}


def safe_error_text(exc: BaseException, limit: int = 2000) -> str:
    """A redacted, truncated description of an exception for storage (``last_error``)."""
    text = redact_text(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# SQLAlchemy appends the statement and its bound values to its errors; asyncpg quotes the
# value it could not encode. Both may be user data (a search text, a reply).
_SQL_DETAILS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\[SQL: .*?(?=\n\[parameters: |\n\(Background on this error|\n\n|\Z)", re.S),
        "[SQL withheld]",
    ),
    (re.compile(r"\[parameters: [^\n]*"), "[parameters withheld]"),
    (re.compile(r"(invalid input for query argument \$\d+)[^\n]*"), r"\1 (value withheld)"),
)


def strip_sql_details(text: str) -> str:
    """``text`` without SQL statements, bound parameters and quoted argument values."""
    for pattern, replacement in _SQL_DETAILS:
        text = pattern.sub(replacement, text)
    return text
