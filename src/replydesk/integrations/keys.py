"""Strict field checks for webhook bodies on the request path, and dedupe key parts.

Each check raises ``InvalidInput`` naming the field, so the webhook answers a clear 422.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from replydesk.core.errors import InvalidInput
from replydesk.core.json_values import describe_json_value

# Bounds that keep the dedupe key well under PostgreSQL's b-tree row limit (~2.7 kB).
MAX_ID_CHARS = 128
MAX_SCOPE_CHARS = 512
MAX_EVENT_TYPE_CHARS = 100


def key_part(value: str) -> str:
    """One component of a dedupe key; ``%`` and ``:`` escaped so components never run together."""
    return value.replace("%", "%25").replace(":", "%3A")


def canonical_json(value: Any) -> bytes:
    """Sorted-key JSON, so re-serialised re-deliveries hash alike. 422 past orjson's depth
    limit (254 levels; real webhooks nest a handful)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise InvalidInput("body nests too deeply to be identified (at most 254 levels)") from None


def body_hash(payload: Any) -> str:
    """sha256 of the canonical JSON: the identity of events that carry no id of their own."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def text_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def get_path(payload: Any, path: str) -> Any:
    """``data.reply.id`` → the value, or None when any step is missing or not an object."""
    node: Any = payload
    for step in path.split("."):
        # ``type is dict`` first: parsed JSON is plain dicts, and an ABC isinstance check per
        # step showed in the webhook profile (docs/benchmarks.md, "Lean ingestion path").
        if type(node) is not dict and not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def ident(value: Any, path: str, *, required: bool = True, context: str = "") -> str | None:
    """A provider id (integer or non-empty string) as text; 422 naming ``path`` otherwise."""
    suffix = f" {context}" if context else ""
    if value is None:
        if required:
            raise InvalidInput(f"{path} is required{suffix}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidInput(f"{path} must not be empty{suffix}")
        if len(text) > MAX_ID_CHARS:
            raise InvalidInput(f"{path} is too long (at most {MAX_ID_CHARS} characters)")
        return text
    raise InvalidInput(f"{path} must be an integer or a string, got {describe_json_value(value)}")


def text_field(
    value: Any, path: str, *, required: bool, limit: int = MAX_SCOPE_CHARS
) -> str | None:
    """A free-text field used in a key or a scope check (string only)."""
    if value is None:
        if required:
            raise InvalidInput(f"{path} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{path} must be a string, got {describe_json_value(value)}")
    text = value.strip()
    if not text:
        if required:
            raise InvalidInput(f"{path} must not be empty")
        return None
    if len(text) > limit:
        raise InvalidInput(f"{path} is too long (at most {limit} characters)")
    return text


def event_type_field(value: Any, path: str) -> str:
    text = text_field(value, path, required=True, limit=MAX_EVENT_TYPE_CHARS)
    assert text is not None
    return text


def optional_text(value: Any) -> str:
    """A value folded into a fallback hash: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return canonical_json(value).decode()


def check_scope(
    value: str | None,
    expected: str | None,
    *,
    field: str,
    what: str,
    required: bool,
    accepts: str | None = None,
) -> None:
    """422 unless ``value`` is the workspace's configured ``expected`` provider tenant.

    Nothing to check when the workspace has none configured; a missing value is refused
    only when the event type must carry it (``required``)."""
    if expected is None:
        return
    if value is None:
        if required:
            scope = accepts or f"{what} {expected}"
            raise InvalidInput(f"{field} is required: this workspace accepts {scope} only")
        return
    if value != expected:
        raise InvalidInput(f"{field} {value} does not match this workspace's {what} {expected}")
