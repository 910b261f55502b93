"""What every provider parser returns, and the small helpers they share."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from replydesk.core.errors import UnprocessableEntity

# Stored event status: known event types are processed, unknown ones are kept for the record.
PENDING = "pending"
IGNORED = "ignored"

# Bounds that keep the dedupe key well under PostgreSQL's b-tree row limit (~2.7 kB).
MAX_ID_CHARS = 128
MAX_SCOPE_CHARS = 512
MAX_EVENT_TYPE_CHARS = 100


@dataclass(frozen=True)
class Scope:
    """Which provider tenant feeds a workspace; None = not configured, nothing to check."""

    emailbison_instance_url: str | None = None
    emailbison_workspace_id: int | None = None
    ghl_location_id: str | None = None
    unipile_account_id: str | None = None


@dataclass(frozen=True)
class ParsedEvent:
    """The provider-specific part of an event: its type, status and dedupe key suffix.

    ``key`` is everything after ``{provider}:{workspace_id}:``; the service adds that prefix.
    """

    event_type: str
    status: str
    key: str


def key_part(value: str) -> str:
    """One component of a dedupe key; ``%`` and ``:`` escaped so components never run together."""
    return value.replace("%", "%25").replace(":", "%3A")


def canonical_json(value: Any) -> bytes:
    """Sorted-key JSON, so re-serialised re-deliveries hash alike. 422 past orjson's depth
    limit (254 levels; real webhooks nest a handful)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise UnprocessableEntity(
            "body nests too deeply to be identified (at most 254 levels)"
        ) from None


def body_hash(payload: Any) -> str:
    """sha256 of the canonical JSON: the identity of events that carry no id of their own."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def text_hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def get_path(payload: Mapping[str, Any], path: str) -> Any:
    """``data.reply.id`` → the value, or None when any step is missing or not an object."""
    node: Any = payload
    for step in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def ident(value: Any, path: str, *, required: bool = True, context: str = "") -> str | None:
    """A provider id (integer or non-empty string) as text; 422 naming ``path`` otherwise."""
    suffix = f" {context}" if context else ""
    if value is None:
        if required:
            raise UnprocessableEntity(f"{path} is required{suffix}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise UnprocessableEntity(f"{path} must not be empty{suffix}")
        if len(text) > MAX_ID_CHARS:
            raise UnprocessableEntity(f"{path} is too long (at most {MAX_ID_CHARS} characters)")
        return text
    raise UnprocessableEntity(f"{path} must be an integer or a string, got {_describe(value)}")


def text_field(
    value: Any, path: str, *, required: bool, limit: int = MAX_SCOPE_CHARS
) -> str | None:
    """A free-text field used in a key or a scope check (string only)."""
    if value is None:
        if required:
            raise UnprocessableEntity(f"{path} is required")
        return None
    if not isinstance(value, str):
        raise UnprocessableEntity(f"{path} must be a string, got {_describe(value)}")
    text = value.strip()
    if not text:
        if required:
            raise UnprocessableEntity(f"{path} must not be empty")
        return None
    if len(text) > limit:
        raise UnprocessableEntity(f"{path} is too long (at most {limit} characters)")
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
